"""
The user realm's endpoints: register, login, refresh, logout, and `/users/me`.

Views are thin: parse with a serializer, call one service, return data. The login,
refresh and logout views are written for a realm (class attributes), and the admin realm
subclasses them with its own model, representation and permission.
"""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.utils import extend_schema
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from accounts import services
from accounts.models import AbstractAccount, User
from accounts.permissions import IsUser
from accounts.serializers import (
    AvatarSerializer,
    LoginSerializer,
    PasswordChangeSerializer,
    PasswordConfirmSerializer,
    ProfileUpdateSerializer,
    RefreshSerializer,
    RegisterSerializer,
    UserSerializer,
    UserTokenPairSerializer,
)
from accounts.throttling import (
    throttle_avatar_upload,
    throttle_login,
    throttle_password_check,
    throttle_register,
)
from config.api.net import client_ip
from config.api.parsers import JSON_ONLY, JSONParser, StrictMultiPartParser
from config.api.responses import APIResponse
from tokens.authentication import BearerAuthentication
from tokens.models import Token
from tokens.permissions import HasScope, RequiresSession
from tokens.services import session_refresh, session_start, token_revoke

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class PublicView(APIView):
    """An endpoint anyone may call: a stale bearer header must not get in its way."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]


class UserView(APIView):
    authentication_classes = [BearerAuthentication]
    permission_classes = [IsUser, HasScope]
    parser_classes = JSON_ONLY

    @property
    def account(self) -> User:
        """The caller (IsUser has made sure it is a user)."""
        return cast(User, self.request.user)

    @property
    def token(self) -> Token:
        """The session or personal access token making this request."""
        return cast(Token, self.request.auth)


class RegisterView(PublicView):
    """Register; JSON, or multipart when an avatar is sent."""

    parser_classes = [JSONParser, StrictMultiPartParser]
    error_statuses = {
        409: "Username, email or phone already taken",
        413: "Avatar too large",
        429: "Too many attempts",
    }

    @extend_schema(request=RegisterSerializer, responses={201: UserSerializer}, tags=["auth"])
    def post(self, request: Request) -> APIResponse:
        throttle_register(request)
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.account_create(model=User, **serializer.validated_data)
        return APIResponse(UserSerializer(user).data, message="Registered", status=201)


class LoginView(PublicView):
    """Log in by username or email; JSON, or form-encoded as OAuth2 password-flow clients send."""

    realm = "user"
    account_model: type[AbstractAccount] = User
    account_serializer: type[Serializer] = UserSerializer
    parser_classes = [JSONParser, FormParser]
    error_statuses = {
        401: "Invalid credentials",
        403: "Account blocked",
        423: "Account locked",
        429: "Too many attempts",
    }

    @extend_schema(request=LoginSerializer, responses=UserTokenPairSerializer, tags=["auth"])
    def post(self, request: Request) -> APIResponse:
        throttle_login(request, realm=self.realm)
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ip = client_ip(request)
        account = services.account_authenticate(
            model=self.account_model,
            identifier=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
            realm=self.realm,
            ip=ip,
        )
        pair = session_start(owner=account, ip=ip, user_agent=request.headers.get("User-Agent", ""))
        data = {**pair, self.realm: self.account_serializer(account).data}
        return APIResponse(data, message="Logged in", headers=NO_STORE)


class RefreshView(PublicView):
    realm = "user"
    parser_classes = JSON_ONLY
    account_serializer: type[Serializer] = UserSerializer
    error_statuses = {401: "Refresh token invalid, expired, revoked or reused"}

    @extend_schema(request=RefreshSerializer, responses=UserTokenPairSerializer, tags=["auth"])
    def post(self, request: Request) -> APIResponse:
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair, account = session_refresh(
            refresh_token=serializer.validated_data["refresh_token"], owner_field=self.realm
        )
        data = {**pair, self.realm: self.account_serializer(account).data}
        return APIResponse(data, message="Token refreshed", headers=NO_STORE)


class LogoutView(UserView):
    permission_classes = [IsUser, RequiresSession]
    error_statuses = {403: "Not a user, or a personal access token (logout needs a session)"}

    @extend_schema(request=None, responses={200: None}, tags=["auth"])
    def post(self, request: Request) -> APIResponse:
        token_revoke(token=self.token)
        return APIResponse(None, message="Logged out")


class MeView(UserView):
    """The caller's own account. PUT takes the same optional fields as PATCH."""

    error_statuses = {409: "Username, email or phone already taken", 429: "Too many attempts"}

    @extend_schema(responses=UserSerializer, tags=["users"])
    def get(self, request: Request) -> APIResponse:
        return APIResponse(UserSerializer(self.account).data, message="Profile retrieved")

    @extend_schema(request=ProfileUpdateSerializer, responses=UserSerializer, tags=["users"])
    def patch(self, request: Request) -> APIResponse:
        serializer = ProfileUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.account_update(account=self.account, **serializer.validated_data)
        return APIResponse(UserSerializer(user).data, message="Profile updated")

    @extend_schema(request=ProfileUpdateSerializer, responses=UserSerializer, tags=["users"])
    def put(self, request: Request) -> APIResponse:
        return self.patch(request)

    @extend_schema(request=PasswordConfirmSerializer, responses={200: None}, tags=["users"])
    def delete(self, request: Request) -> APIResponse:
        throttle_password_check(request, realm="user")
        serializer = PasswordConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.account_soft_delete(
            account=self.account, password=serializer.validated_data["password"]
        )
        return APIResponse(None, message="Account deleted")


class AvatarView(UserView):
    parser_classes = [StrictMultiPartParser]
    error_statuses = {413: "File too large", 429: "Too many avatar uploads"}

    @extend_schema(request=AvatarSerializer, responses=UserSerializer, tags=["users"])
    def put(self, request: Request) -> APIResponse:
        # Counted before the body is parsed, so a refused upload costs no decoding.
        throttle_avatar_upload(request)
        serializer = AvatarSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.account_set_avatar(
            account=self.account, upload=serializer.validated_data["avatar"]
        )
        return APIResponse(UserSerializer(user).data, message="Avatar updated")

    @extend_schema(request=None, responses=UserSerializer, tags=["users"])
    def delete(self, request: Request) -> APIResponse:
        user = services.account_set_avatar(account=self.account, upload=None)
        return APIResponse(UserSerializer(user).data, message="Avatar removed")


class PasswordView(UserView):
    permission_classes = [IsUser, RequiresSession]
    error_statuses = {429: "Too many attempts"}

    @extend_schema(request=PasswordChangeSerializer, responses={200: None}, tags=["users"])
    def post(self, request: Request) -> APIResponse:
        throttle_password_check(request, realm="user")
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.account_change_password(
            account=self.account, keep=self.token, **serializer.validated_data
        )
        return APIResponse(None, message="Password changed")
