"""
The admin realm's endpoints: admin login and profile, user management, and (for
superusers) admin management. Views are thin: they parse, call one service, answer.
"""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request

from accounts import services
from accounts.models import User
from accounts.serializers import (
    LoginSerializer,
    PasswordChangeSerializer,
    ProfileUpdateSerializer,
    RefreshSerializer,
)
from accounts.throttling import throttle_password_check, throttle_profile_update
from accounts.views import LoginView, LogoutView, RefreshView, UserView
from admins import services as admin_services
from admins.models import Admin
from admins.permissions import HasModelPermission, HasTokenPermission, IsAdmin, IsSuperAdmin
from admins.serializers import (
    AdminCreateSerializer,
    AdminSerializer,
    AdminTokenPairSerializer,
    AdminUpdateSerializer,
    StaffAdminSerializer,
    StaffUserSerializer,
    StaffUserUpdateSerializer,
    UserListQuerySerializer,
)
from config.api.pagination import PagePagination
from config.api.parsers import JSON_ONLY, JSONParser, StrictMultiPartParser
from config.api.responses import APIResponse
from tokens.authentication import BearerAuthentication
from tokens.permissions import HasScope, RequiresSession, RequiresSessionToWrite
from tokens.serializers import TokenSerializer

TAG = ["admin"]


class AdminView(UserView):
    permission_classes = [IsAdmin, HasScope]

    @property
    def admin(self) -> Admin:
        """The caller (IsAdmin has made sure it is an admin)."""
        return cast(Admin, self.request.user)


class AdminLoginView(LoginView):
    realm = "admin"
    account_model = Admin
    account_serializer = AdminSerializer

    @extend_schema(request=LoginSerializer, responses=AdminTokenPairSerializer, tags=TAG)
    def post(self, request: Request) -> APIResponse:
        return super().post(request)


class AdminRefreshView(RefreshView):
    realm = "admin"
    account_serializer = AdminSerializer

    @extend_schema(request=RefreshSerializer, responses=AdminTokenPairSerializer, tags=TAG)
    def post(self, request: Request) -> APIResponse:
        return super().post(request)


class AdminLogoutView(LogoutView):
    permission_classes = [IsAdmin, RequiresSession]

    @extend_schema(request=None, responses={200: None}, tags=TAG)
    def post(self, request: Request) -> APIResponse:
        return super().post(request)


class AdminMeView(AdminView):
    error_statuses = {409: "Username, email or phone already taken", 429: "Too many attempts"}

    @extend_schema(responses=AdminSerializer, tags=TAG)
    def get(self, request: Request) -> APIResponse:
        return APIResponse(AdminSerializer(self.admin).data, message="Profile retrieved")

    @extend_schema(request=ProfileUpdateSerializer, responses=AdminSerializer, tags=TAG)
    def patch(self, request: Request) -> APIResponse:
        throttle_profile_update(request)
        serializer = ProfileUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        admin = services.account_update(account=self.admin, **serializer.validated_data)
        return APIResponse(AdminSerializer(admin).data, message="Profile updated")


class AdminPasswordView(AdminView):
    """The admin's own password: every other session and token of the admin is revoked."""

    permission_classes = [IsAdmin, RequiresSession]
    error_statuses = {429: "Too many attempts"}

    @extend_schema(request=PasswordChangeSerializer, responses={200: None}, tags=TAG)
    def post(self, request: Request) -> APIResponse:
        throttle_password_check(request, realm="admin")
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.account_change_password(
            account=self.admin, keep=self.token, **serializer.validated_data
        )
        return APIResponse(None, message="Password changed")


class StaffViewSet(viewsets.GenericViewSet):
    """What the user and admin management viewsets share: bearer auth, integer ids, the
    account found (soft-deleted or not) or a 404 envelope."""

    authentication_classes = [BearerAuthentication]
    lookup_value_regex = r"[0-9]+"
    parser_classes = JSON_ONLY

    @property
    def admin(self) -> Admin:
        return cast(Admin, self.request.user)

    def get_serializer_context(self) -> dict[str, Any]:
        # One clock for every row's `is_locked`.
        return {**super().get_serializer_context(), "now": timezone.now()}

    def respond(self, account: Any, message: str, status: int = 200) -> APIResponse:
        serializer = self.get_serializer(account)
        return APIResponse(serializer.data, message=message, status=status)

    def paginated(
        self, queryset: QuerySet[Any], message: str, serializer_class: type | None = None
    ) -> APIResponse:
        page = self.paginate_queryset(queryset)
        serializer = (serializer_class or self.get_serializer_class())(
            page, many=True, context=self.get_serializer_context()
        )
        paginator = cast(PagePagination, self.paginator)
        return APIResponse(paginator.page_data(serializer.data), message=message)


class UserAdminViewSet(StaffViewSet):
    """Find, inspect, change, block, unlock, delete and restore users."""

    queryset = User.objects.all()
    serializer_class = StaffUserSerializer
    # Multipart for an update that sets the avatar.
    parser_classes = [JSONParser, StrictMultiPartParser]
    permission_classes = [HasModelPermission, HasScope]
    permission_model = User
    error_statuses = {409: "Username, email or phone already taken"}

    @extend_schema(parameters=[UserListQuerySerializer], tags=TAG)
    def list(self, request: Request) -> APIResponse:
        filters = UserListQuerySerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        users = admin_services.user_list(**filters.validated_data)
        return self.paginated(users, "Users retrieved")

    @extend_schema(tags=TAG)
    def retrieve(self, request: Request, pk: str) -> APIResponse:
        return self.respond(self.get_object(), "User retrieved")

    @extend_schema(request=StaffUserUpdateSerializer, tags=TAG)
    def partial_update(self, request: Request, pk: str) -> APIResponse:
        user = self.get_object()
        serializer = StaffUserUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = admin_services.staff_update(
            actor=self.admin, account=user, **serializer.validated_data
        )
        return self.respond(user, "User updated")

    @extend_schema(request=StaffUserUpdateSerializer, tags=TAG)
    def update(self, request: Request, pk: str) -> APIResponse:
        return self.partial_update(request, pk)

    @extend_schema(request=None, tags=TAG)
    def destroy(self, request: Request, pk: str) -> APIResponse:
        user = self.get_object()
        admin_services.staff_delete(actor=self.admin, account=user)
        return self.respond(user, "User deleted")

    @extend_schema(request=None, tags=TAG)
    @action(detail=True, methods=["patch"])
    def activate(self, request: Request, pk: str) -> APIResponse:
        user = self.get_object()
        admin_services.staff_set_active(actor=self.admin, account=user, active=True)
        return self.respond(user, "User activated")

    @extend_schema(request=None, tags=TAG)
    @action(detail=True, methods=["patch"])
    def block(self, request: Request, pk: str) -> APIResponse:
        user = self.get_object()
        admin_services.staff_set_active(actor=self.admin, account=user, active=False)
        return self.respond(user, "User blocked")

    @extend_schema(request=None, tags=TAG)
    @action(detail=True, methods=["patch"])
    def unlock(self, request: Request, pk: str) -> APIResponse:
        user = self.get_object()
        admin_services.staff_unlock(actor=self.admin, account=user)
        return self.respond(user, "User unlocked")

    @extend_schema(request=None, tags=TAG)
    @action(detail=True, methods=["patch"])
    def restore(self, request: Request, pk: str) -> APIResponse:
        user = self.get_object()
        admin_services.staff_restore(actor=self.admin, account=user)
        return self.respond(user, "User restored")

    @extend_schema(responses=TokenSerializer(many=True), tags=TAG)
    @action(
        detail=True,
        methods=["get"],
        serializer_class=TokenSerializer,
        permission_classes=[HasModelPermission, HasTokenPermission, HasScope],
    )
    def tokens(self, request: Request, pk: str) -> APIResponse:
        user = self.get_object()
        tokens = admin_services.account_tokens(account=user)
        return self.paginated(tokens, "Tokens retrieved", serializer_class=TokenSerializer)

    @extend_schema(request=None, responses={200: None}, tags=TAG)
    @tokens.mapping.delete
    def revoke_tokens(self, request: Request, pk: str) -> APIResponse:
        user = self.get_object()
        revoked = admin_services.staff_revoke_tokens(actor=self.admin, account=user)
        return APIResponse({"revoked": revoked}, message="Tokens revoked")


class AdminAdminViewSet(StaffViewSet):
    """Superusers manage admins. Nobody blocks or demotes themself, and the last active
    superuser stays one. Every write needs a login session: a personal access token that
    could create or promote an admin could mint an account to log in as, which a token
    must never be a way to get."""

    queryset = Admin.objects.all()
    serializer_class = StaffAdminSerializer
    permission_classes = [IsSuperAdmin, HasScope, RequiresSessionToWrite]
    error_statuses = {409: "Username, email or phone already taken"}

    @extend_schema(tags=TAG)
    def list(self, request: Request) -> APIResponse:
        admins = admin_services.admin_list()
        return self.paginated(admins, "Admins retrieved")

    @extend_schema(request=AdminCreateSerializer, responses={201: StaffAdminSerializer}, tags=TAG)
    def create(self, request: Request) -> APIResponse:
        serializer = AdminCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        admin = admin_services.admin_create(actor=self.admin, **serializer.validated_data)
        return self.respond(admin, "Admin created", status=201)

    @extend_schema(tags=TAG)
    def retrieve(self, request: Request, pk: str) -> APIResponse:
        return self.respond(self.get_object(), "Admin retrieved")

    @extend_schema(request=AdminUpdateSerializer, tags=TAG)
    def partial_update(self, request: Request, pk: str) -> APIResponse:
        target = self.get_object()
        serializer = AdminUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        admin = admin_services.admin_update(
            actor=self.admin, target=target, **serializer.validated_data
        )
        return self.respond(admin, "Admin updated")

    @extend_schema(request=AdminUpdateSerializer, tags=TAG)
    def update(self, request: Request, pk: str) -> APIResponse:
        return self.partial_update(request, pk)

    @extend_schema(request=None, tags=TAG)
    @action(detail=True, methods=["patch"])
    def activate(self, request: Request, pk: str) -> APIResponse:
        target = self.get_object()
        admin_services.admin_set_active(actor=self.admin, target=target, active=True)
        return self.respond(target, "Admin activated")

    @extend_schema(request=None, tags=TAG)
    @action(detail=True, methods=["patch"])
    def block(self, request: Request, pk: str) -> APIResponse:
        target = self.get_object()
        admin_services.admin_set_active(actor=self.admin, target=target, active=False)
        return self.respond(target, "Admin blocked")

    @extend_schema(request=None, tags=TAG)
    @action(detail=True, methods=["patch"])
    def unlock(self, request: Request, pk: str) -> APIResponse:
        target = self.get_object()
        admin_services.staff_unlock(actor=self.admin, account=target)
        return self.respond(target, "Admin unlocked")
