"""
The endpoints every realm has, written once: login, refresh and logout, and the account's
own resource (`MeViewSet`: the profile, its password, its avatar). Each realm's URL module
wires them with its own realm (`LoginView.as_view(realm=ADMIN)`); nothing here names a
realm but registration, which only users have.

Views are thin: parse with a serializer, call one service, return data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts import services
from accounts.models import AbstractAccount, User
from accounts.serializers import (
    AvatarSerializer,
    LoginSerializer,
    PasswordChangeSerializer,
    PasswordConfirmSerializer,
    ProfileUpdateSerializer,
    RefreshSerializer,
    RegisterSerializer,
    UserSerializer,
    token_pair_serializer,
)
from accounts.throttling import (
    throttle_avatar_upload,
    throttle_password_check,
    throttle_profile_update,
    throttle_register,
)
from config.api.net import client_ip, client_of
from config.api.parsers import JSON_ONLY, JSONParser, StrictMultiPartParser
from config.api.responses import APIResponse
from tokens.authentication import BearerAuthentication
from tokens.models import AuthEvent, Token
from tokens.permissions import HasScope, IsRealmAccount, RequiresSession
from tokens.realms import Realm
from tokens.serializers import AuthEventSerializer
from tokens.services import session_end, session_refresh

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class RealmMixin:
    # A view written for every realm. Its URL module names the realm it serves
    # (`as_view(realm=...)`); the class attribute only makes that argument allowed.
    # (No docstring: the OpenAPI document would show it as every operation's description.)
    realm: Realm = cast(Realm, None)


class PublicView(APIView):
    """An endpoint anyone may call: a stale bearer header must not get in its way."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]


class RegisterView(PublicView):
    """Register a user (admins have no public registration); JSON, or multipart when an
    avatar is sent."""

    parser_classes = [JSONParser, StrictMultiPartParser]
    error_statuses = {
        409: "Username, email or phone already taken",
        413: "Avatar too large",
        429: "Too many attempts",
    }

    @extend_schema(request=RegisterSerializer, responses={201: UserSerializer}, tags=["auth"])
    def post(self, request: Request) -> APIResponse:
        throttle_register(ip=client_ip(request))
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.account_create(model=User, **serializer.validated_data)
        return APIResponse(UserSerializer(user).data, message="Registered", status=201)


class LoginView(RealmMixin, PublicView):
    """Log in by username or email; JSON, or form-encoded as OAuth2 password-flow clients send."""

    parser_classes = [JSONParser, FormParser]
    error_statuses = {
        401: "Invalid credentials",
        403: "Account blocked",
        423: "Account locked",
        429: "Too many attempts",
    }

    def get_serializer_class(self) -> Any:
        return token_pair_serializer(self.realm)

    @extend_schema(request=LoginSerializer)
    def post(self, request: Request) -> APIResponse:
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account, pair = services.account_login(  # a session always starts here
            realm=self.realm,
            identifier=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
        )
        data = {**(pair or {}), self.realm.name: self.realm.serializer(account).data}
        return APIResponse(data, message="Logged in", headers=NO_STORE)


class RefreshView(RealmMixin, PublicView):
    """Rotate the refresh token: a new token pair; the old refresh token stops working."""

    parser_classes = JSON_ONLY
    error_statuses = {401: "Refresh token invalid, expired, revoked or reused"}

    def get_serializer_class(self) -> Any:
        return token_pair_serializer(self.realm)

    @extend_schema(request=RefreshSerializer)
    def post(self, request: Request) -> APIResponse:
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair, account = session_refresh(
            refresh_token=serializer.validated_data["refresh_token"],
            realm=self.realm,
            client=client_of(request),
        )
        data = {**pair, self.realm.name: self.realm.serializer(account).data}
        return APIResponse(data, message="Token refreshed", headers=NO_STORE)


class LogoutView(RealmMixin, APIView):
    """End the login session behind the access token, at once."""

    authentication_classes = [BearerAuthentication]
    permission_classes = [IsRealmAccount, RequiresSession]
    error_statuses = {
        403: "Another realm's token, or a personal access token (logout needs a session)"
    }

    @extend_schema(request=None, responses={200: None})
    def post(self, request: Request) -> APIResponse:
        session_end(token=cast(Token, request.auth), client=client_of(request))
        return APIResponse(None, message="Logged out")


class MeViewSet(RealmMixin, viewsets.GenericViewSet):
    # The caller's own account: read and change the profile, delete it, change its
    # password and its avatar, read its security events. Each realm's URL module wires
    # the methods it offers.

    authentication_classes = [BearerAuthentication]
    permission_classes = [IsRealmAccount, HasScope]
    parser_classes = JSON_ONLY
    error_statuses = {409: "Username, email or phone already taken", 429: "Too many attempts"}
    success_messages = {
        "retrieve": "Profile retrieved",
        "partial_update": "Profile updated",
        "update": "Profile updated",
        "destroy": "Account deleted",
        "password": "Password changed",
        "avatar": "Avatar updated",
        "remove_avatar": "Avatar removed",
        "events": "Events retrieved",
    }

    @classmethod
    def route(cls, name: str, **initkwargs: Any) -> Callable[..., Any]:
        """The view of one `@action` of this singleton resource (no router: it has no ids),
        with the action's methods and options."""
        method = getattr(cls, name)
        return cls.as_view(dict(method.mapping), **method.kwargs, **initkwargs)

    def get_serializer_class(self) -> Any:
        return self.realm.serializer

    @property
    def account(self) -> AbstractAccount:
        """The caller (IsRealmAccount has made sure it is of this realm)."""
        return cast(AbstractAccount, self.request.user)

    def get_object(self) -> AbstractAccount:
        # The resource is the caller; DRF's OPTIONS (metadata) asks for it too.
        return self.account

    def _show(self, account: AbstractAccount) -> APIResponse:
        return APIResponse(self.get_serializer(account).data)

    def retrieve(self, request: Request) -> APIResponse:
        """The caller's own account."""
        return self._show(self.account)

    @extend_schema(request=ProfileUpdateSerializer)
    def partial_update(self, request: Request) -> APIResponse:
        """Change profile fields; a taken username, email or phone is a 409."""
        throttle_profile_update(account=self.account)
        serializer = ProfileUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._show(
            services.account_update(account=self.account, **serializer.validated_data)
        )

    @extend_schema(request=ProfileUpdateSerializer)
    def update(self, request: Request) -> APIResponse:
        """Change profile fields: the same optional fields as PATCH."""
        return self.partial_update(request)

    @extend_schema(request=PasswordConfirmSerializer, responses={200: None})
    def destroy(self, request: Request) -> APIResponse:
        """Delete the account (soft delete), confirmed by the password; every token ends."""
        throttle_password_check(realm=self.realm, ip=client_ip(request))
        serializer = PasswordConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.account_delete_own(
            account=self.account,
            password=serializer.validated_data["password"],
            client=client_of(request),
        )
        return APIResponse(None)

    @extend_schema(request=PasswordChangeSerializer, responses={200: None})
    @action(detail=False, methods=["post"], permission_classes=[IsRealmAccount, RequiresSession])
    def password(self, request: Request) -> APIResponse:
        """Change the password; every other session and token of the account ends."""
        throttle_password_check(realm=self.realm, ip=client_ip(request))
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.account_change_password(
            account=self.account,
            keep=cast(Token, request.auth),
            client=client_of(request),
            **serializer.validated_data,
        )
        return APIResponse(None)

    @extend_schema(request=AvatarSerializer)
    @action(detail=False, methods=["put"], parser_classes=[StrictMultiPartParser])
    def avatar(self, request: Request) -> APIResponse:
        """Replace the avatar (multipart `avatar`: JPEG, PNG or WebP)."""
        # Counted before the body is parsed, so a refused upload costs no decoding.
        throttle_avatar_upload(account=self.account)
        serializer = AvatarSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = services.account_set_avatar(
            account=self.account, upload=serializer.validated_data["avatar"]
        )
        return self._show(account)

    @extend_schema(request=None)
    @avatar.mapping.delete
    def remove_avatar(self, request: Request) -> APIResponse:
        """Remove the avatar."""
        return self._show(services.account_set_avatar(account=self.account, upload=None))

    @extend_schema(responses=AuthEventSerializer(many=True))
    @action(detail=False, methods=["get"], serializer_class=AuthEventSerializer, error_statuses={})
    def events(self, request: Request) -> Any:
        """The account's own security events, newest first: where and when it was used,
        and what was changed (a read: it writes nothing, not even an event)."""
        events = AuthEvent.objects.for_account(self.account).newest_first()
        page = self.paginate_queryset(events)
        return self.get_paginated_response(AuthEventSerializer(page, many=True).data)
