"""
The admin realm's own endpoints: user management, (for superusers) admin management, and
the security log.
Its login, refresh, logout and `/admin/me` are the views every realm shares
(`accounts.views`), wired with the admin realm in `admins.urls`.

Views are thin: they parse, call one service, answer.
"""

from __future__ import annotations

from typing import Any, cast

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request

from accounts.models import User
from admins import selectors
from admins import services as admin_services
from admins.models import Admin
from admins.permissions import HasModelPermission, HasTokenPermission, IsSuperAdmin
from admins.serializers import (
    AdminCreateSerializer,
    AdminUpdateSerializer,
    EventListQuerySerializer,
    StaffAdminSerializer,
    StaffUserSerializer,
    StaffUserUpdateSerializer,
    UserListQuerySerializer,
)
from config.api.net import Client, client_of
from config.api.parsers import JSON_ONLY, JSONParser, StrictMultiPartParser
from config.api.responses import APIResponse
from config.api.schema import errors
from tokens.authentication import BearerAuthentication
from tokens.models import AuthEvent
from tokens.permissions import HasScope, RequiresSessionToWrite, SecondFactorEnrolledIfRequired
from tokens.serializers import AuthEventSerializer, TokenSerializer
from tokens.views import RevokedSerializer

TAKEN = "Username, email or phone already taken"


class StaffViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """What the user and admin management viewsets share: bearer auth, integer ids, the
    account found (soft-deleted or not) or a 404 envelope, paginated lists."""

    authentication_classes = [BearerAuthentication]
    lookup_value_regex = r"[0-9]+"
    parser_classes = JSON_ONLY

    @property
    def admin(self) -> Admin:
        return cast(Admin, self.request.user)

    @property
    def client(self) -> Client:
        """Where the staff action came from, for its security event."""
        return client_of(self.request)

    def get_serializer_context(self) -> dict[str, Any]:
        # One clock for every row's `is_locked`.
        return {**super().get_serializer_context(), "now": timezone.now()}

    def respond(self, account: Any, status: int = 200) -> APIResponse:
        """The account as staff see it, with the action's success message."""
        return APIResponse(self.get_serializer(account).data, status=status)


class UserAdminViewSet(StaffViewSet):
    """Find, inspect, change, block, unlock, delete and restore users."""

    queryset = User.objects.all()
    serializer_class = StaffUserSerializer
    # Multipart for an update that sets the avatar.
    parser_classes = [JSONParser, StrictMultiPartParser]
    permission_classes = [HasModelPermission, SecondFactorEnrolledIfRequired, HasScope]
    permission_model = User

    success_messages = {
        "list": "Users retrieved",
        "retrieve": "User retrieved",
        "partial_update": "User updated",
        "update": "User updated",
        "destroy": "User deleted",
        "activate": "User activated",
        "block": "User blocked",
        "unlock": "User unlocked",
        "restore": "User restored",
        "tokens": "Tokens retrieved",
        "revoke_tokens": "Tokens revoked",
    }

    def filter_queryset(self, queryset: Any) -> Any:
        """The list's filters (`UserListQuerySerializer`); other actions find any user."""
        if self.action != "list":
            return queryset
        filters = UserListQuerySerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.user_list(**filters.validated_data)

    @extend_schema(parameters=[UserListQuerySerializer])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=StaffUserUpdateSerializer)
    @errors({409: TAKEN})
    def partial_update(self, request: Request, pk: str) -> APIResponse:
        user = self.get_object()
        serializer = StaffUserUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = admin_services.staff_update(
            actor=self.admin, client=self.client, account=user, **serializer.validated_data
        )
        return self.respond(user)

    @extend_schema(request=StaffUserUpdateSerializer)
    @errors({409: TAKEN})
    def update(self, request: Request, pk: str) -> APIResponse:
        return self.partial_update(request, pk)

    @extend_schema(request=None)
    def destroy(self, request: Request, pk: str) -> APIResponse:
        user = self.get_object()
        admin_services.staff_delete(actor=self.admin, client=self.client, account=user)
        return self.respond(user)

    @extend_schema(request=None)
    @action(detail=True, methods=["patch"])
    def activate(self, request: Request, pk: str) -> APIResponse:
        user = self.get_object()
        admin_services.staff_set_active(
            actor=self.admin, client=self.client, account=user, active=True
        )
        return self.respond(user)

    @extend_schema(request=None)
    @action(detail=True, methods=["patch"])
    def block(self, request: Request, pk: str) -> APIResponse:
        user = self.get_object()
        admin_services.staff_set_active(
            actor=self.admin, client=self.client, account=user, active=False
        )
        return self.respond(user)

    @extend_schema(request=None)
    @action(detail=True, methods=["patch"])
    def unlock(self, request: Request, pk: str) -> APIResponse:
        user = self.get_object()
        admin_services.staff_unlock(actor=self.admin, client=self.client, account=user)
        return self.respond(user)

    @extend_schema(request=None)
    @action(detail=True, methods=["patch"])
    def restore(self, request: Request, pk: str) -> APIResponse:
        user = self.get_object()
        admin_services.staff_restore(actor=self.admin, client=self.client, account=user)
        return self.respond(user)

    @extend_schema(responses=TokenSerializer(many=True))
    @action(
        detail=True,
        methods=["get"],
        serializer_class=TokenSerializer,
        permission_classes=[
            HasModelPermission,
            HasTokenPermission,
            SecondFactorEnrolledIfRequired,
            HasScope,
        ],
    )
    def tokens(self, request: Request, pk: str) -> Any:
        page = self.paginate_queryset(selectors.account_tokens(account=self.get_object()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=None, responses={200: RevokedSerializer})
    @tokens.mapping.delete
    def revoke_tokens(self, request: Request, pk: str) -> APIResponse:
        user = self.get_object()
        revoked = admin_services.staff_revoke_tokens(
            actor=self.admin, client=self.client, account=user
        )
        return APIResponse({"revoked": revoked})


class AdminAdminViewSet(StaffViewSet):
    """Superusers manage admins. Nobody blocks or demotes themself, and the last active
    superuser stays one. Every write needs a login session: a personal access token that
    could create or promote an admin could mint an account to log in as, which a token
    must never be a way to get."""

    queryset = Admin.objects.all()
    serializer_class = StaffAdminSerializer
    permission_classes = [
        IsSuperAdmin,
        SecondFactorEnrolledIfRequired,
        HasScope,
        RequiresSessionToWrite,
    ]
    success_messages = {
        "list": "Admins retrieved",
        "retrieve": "Admin retrieved",
        "create": "Admin created",
        "partial_update": "Admin updated",
        "update": "Admin updated",
        "activate": "Admin activated",
        "block": "Admin blocked",
        "unlock": "Admin unlocked",
    }

    def get_queryset(self) -> Any:
        return selectors.admin_list() if self.action == "list" else Admin.objects.all()

    @extend_schema(request=AdminCreateSerializer, responses={201: StaffAdminSerializer})
    @errors({409: TAKEN})
    def create(self, request: Request) -> APIResponse:
        serializer = AdminCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        admin = admin_services.admin_create(
            actor=self.admin, client=self.client, **serializer.validated_data
        )
        return self.respond(admin, status=201)

    @extend_schema(request=AdminUpdateSerializer)
    @errors({409: TAKEN})
    def partial_update(self, request: Request, pk: str) -> APIResponse:
        target = self.get_object()
        serializer = AdminUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        admin = admin_services.admin_update(
            actor=self.admin, client=self.client, target=target, **serializer.validated_data
        )
        return self.respond(admin)

    @extend_schema(request=AdminUpdateSerializer)
    @errors({409: TAKEN})
    def update(self, request: Request, pk: str) -> APIResponse:
        return self.partial_update(request, pk)

    @extend_schema(request=None)
    @action(detail=True, methods=["patch"])
    def activate(self, request: Request, pk: str) -> APIResponse:
        target = self.get_object()
        admin_services.admin_set_active(
            actor=self.admin, client=self.client, target=target, active=True
        )
        return self.respond(target)

    @extend_schema(request=None)
    @action(detail=True, methods=["patch"])
    def block(self, request: Request, pk: str) -> APIResponse:
        target = self.get_object()
        admin_services.admin_set_active(
            actor=self.admin, client=self.client, target=target, active=False
        )
        return self.respond(target)

    @extend_schema(request=None)
    @action(detail=True, methods=["patch"])
    def unlock(self, request: Request, pk: str) -> APIResponse:
        target = self.get_object()
        admin_services.staff_unlock(actor=self.admin, client=self.client, account=target)
        return self.respond(target)


class EventAdminViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Every security event, newest first, filtered: for superusers and admins holding
    `tokens.view_authevent`."""

    authentication_classes = [BearerAuthentication]
    permission_classes = [HasModelPermission, HasScope]
    permission_model = AuthEvent
    serializer_class = AuthEventSerializer
    success_messages = {"list": "Events retrieved"}

    def get_queryset(self) -> Any:
        filters = EventListQuerySerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.event_list(**filters.validated_data)

    @extend_schema(parameters=[EventListQuerySerializer])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return super().list(request, *args, **kwargs)
