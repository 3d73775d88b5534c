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

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts import recovery, services, verification
from accounts.models import AbstractAccount, User
from accounts.serializers import (
    AvatarSerializer,
    CodeSerializer,
    LoginSecondFactorSerializer,
    LoginSerializer,
    PasswordChangeSerializer,
    PasswordConfirmSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetSerializer,
    ProfileUpdateSerializer,
    RecoveryCodesSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TotpCodeSerializer,
    TotpSecretSerializer,
    TwoFactorDisableSerializer,
    UserSerializer,
    login_response_serializer,
    token_pair_serializer,
)
from accounts.throttling import (
    throttle_avatar_upload,
    throttle_password_check,
    throttle_password_reset,
    throttle_profile_update,
    throttle_register,
    throttle_second_factor_check,
    throttle_token_check,
)
from config.api.exceptions import ErrorCode
from config.api.net import client_ip, client_of
from config.api.parsers import JSON_ONLY, JSONParser, StrictMultiPartParser
from config.api.responses import APIResponse
from config.api.schema import JSON, errors
from tokens.authentication import BearerAuthentication
from tokens.models import AuthEvent, Token
from tokens.permissions import (
    HasScope,
    IsRealmAccount,
    RequiresSession,
    SecondFactorEnrolledIfRequired,
)
from tokens.realms import Realm
from tokens.serializers import AuthEventSerializer
from tokens.services import session_end, session_refresh

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
TAKEN = "Username, email or phone already taken"


class RealmMixin:
    # A view written for every realm. Its URL module names the realm it serves
    # (`as_view(realm=...)`); the class attribute only makes that argument allowed.
    # (No docstring: the OpenAPI document would show it as every operation's description.)
    realm: Realm = cast(Realm, None)


class PublicView(APIView):
    """An endpoint anyone may call: a stale bearer header must not get in its way."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]


@extend_schema_serializer(component_name="Register")
class RegisterJSONSerializer(RegisterSerializer):
    # The documented body of a registration. One body type per operation, because client
    # generators handle no more (openapi-python-client's module for two does not import);
    # JSON carries no file, so the avatar is the multipart alternative's, described in
    # the operation's text. Setting an inherited field to None is how DRF removes it;
    # mypy sees the parent's ImageField type, hence the ignore.
    avatar = None  # type: ignore[assignment]


class RegisterView(PublicView):
    """Register a user (admins have no public registration).

    The body is JSON. `multipart/form-data` with the same fields is accepted too, and is how
    an `avatar` (JPEG, PNG or WebP, at most `MAX_UPLOAD_MB`) comes with the registration."""

    parser_classes = [JSONParser, StrictMultiPartParser]
    success_message = "Registered"
    error_statuses = {
        409: TAKEN,
        413: "Body or avatar too large",
        429: "Too many registrations from this address",
    }

    @extend_schema(
        request={JSON: RegisterJSONSerializer}, responses={201: UserSerializer}, tags=["auth"]
    )
    def post(self, request: Request) -> APIResponse:
        throttle_register(ip=client_ip(request))
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.account_create(model=User, **serializer.validated_data)
        return APIResponse(UserSerializer(user).data, status=201)


class LoginView(RealmMixin, PublicView):
    """Log in by username or email.

    The body is JSON. `application/x-www-form-urlencoded` with the same fields, as OAuth2
    password-flow clients send it, is accepted too."""

    parser_classes = [JSONParser, FormParser]
    success_message = "Logged in"
    error_statuses = {
        401: (
            "Unknown account, wrong password, or a deleted account",
            [ErrorCode.INVALID_CREDENTIALS],
        ),
        403: (
            "Right password, but the account is blocked, or its email is not verified "
            "while EMAIL_VERIFICATION is mandatory (a new link is mailed)",
            [ErrorCode.ACCOUNT_INACTIVE, ErrorCode.EMAIL_NOT_VERIFIED],
        ),
        423: "Account locked after too many failed logins",
        429: "Too many attempts from this address",
    }

    def get_serializer_class(self) -> Any:
        return login_response_serializer(self.realm)

    # JSON only, for the reason `RegisterJSONSerializer` gives.
    @extend_schema(request={JSON: LoginSerializer})
    def post(self, request: Request) -> APIResponse:
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        login = services.account_login(  # a session starts here, or a challenge
            realm=self.realm,
            identifier=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
        )
        if login.challenge is not None:
            data = {"mfa_required": True, **login.challenge._asdict()}
            return APIResponse(data, message="Second factor required", headers=NO_STORE)
        return _logged_in(self.realm, login)


def _logged_in(realm: Realm, login: services.Login) -> APIResponse:
    data = {**(login.pair or {}), realm.name: realm.serializer(login.account).data}
    return APIResponse(data, message="Logged in", headers=NO_STORE)


class LoginSecondFactorView(RealmMixin, PublicView):
    """Complete a login that answered `mfa_required`: its `mfa_token` and a current TOTP
    code or an unused recovery code. The `mfa_token` is used up by any attempt: after a
    wrong code, log in again."""

    parser_classes = JSON_ONLY
    error_statuses = {
        401: "Wrong code, or an unknown, used or expired mfa_token",
        423: "Account locked",
        429: "Too many attempts",
    }

    def get_serializer_class(self) -> Any:
        return token_pair_serializer(self.realm)

    @extend_schema(request=LoginSecondFactorSerializer)
    def post(self, request: Request) -> APIResponse:
        serializer = LoginSecondFactorSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        login = services.account_login_second_factor(
            realm=self.realm,
            mfa_token=serializer.validated_data["mfa_token"],
            code=serializer.validated_data["code"],
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
        )
        return _logged_in(self.realm, login)


class RefreshView(RealmMixin, PublicView):
    """Rotate the refresh token: a new token pair; the old refresh token stops working."""

    parser_classes = JSON_ONLY
    success_message = "Token refreshed"
    error_statuses = {
        401: (
            "Refresh token invalid, expired, revoked or reused",
            [ErrorCode.TOKEN_INVALID, ErrorCode.TOKEN_EXPIRED],
        )
    }

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
        return APIResponse(data, headers=NO_STORE)


class LogoutView(RealmMixin, APIView):
    """End the login session behind the access token, at once."""

    authentication_classes = [BearerAuthentication]
    permission_classes = [IsRealmAccount, RequiresSession]
    success_message = "Logged out"
    error_statuses = {
        403: "Another realm's token, or a personal access token (logout needs a session)"
    }

    @extend_schema(request=None, responses={200: None})
    def post(self, request: Request) -> APIResponse:
        session_end(token=cast(Token, request.auth), client=client_of(request))
        return APIResponse(None)


class PasswordResetView(RealmMixin, PublicView):
    """Ask for a password reset link. The answer is the same, in the same time, whether or
    not an account has the address: the request only enqueues, the worker looks it up."""

    parser_classes = JSON_ONLY
    error_statuses = {429: "Too many attempts"}

    @extend_schema(request=PasswordResetSerializer, responses={202: None})
    def post(self, request: Request) -> APIResponse:
        throttle_password_reset(realm=self.realm, ip=client_ip(request))
        serializer = PasswordResetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        recovery.password_reset_request(realm=self.realm, email=serializer.validated_data["email"])
        return APIResponse(
            None,
            message="If an account has this address, a reset link is on its way",
            status=202,
        )


class PasswordResetConfirmView(RealmMixin, PublicView):
    """Set a new password with the code from a reset link; every session and personal
    access token of the account ends."""

    parser_classes = JSON_ONLY
    error_statuses = {429: "Too many attempts"}

    @extend_schema(request=PasswordResetConfirmSerializer, responses={200: None})
    def post(self, request: Request) -> APIResponse:
        throttle_token_check(realm=self.realm, ip=client_ip(request))
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        recovery.password_reset_confirm(
            realm=self.realm,
            code=serializer.validated_data["token"],
            new_password=serializer.validated_data["new_password"],
        )
        return APIResponse(None, message="Password reset")


class SecureAccountView(RealmMixin, PublicView):
    """ "This wasn't me": with the code from a security notice, end every session and
    personal access token, make the password unusable and mail a new reset link."""

    parser_classes = JSON_ONLY
    error_statuses = {429: "Too many attempts"}

    @extend_schema(request=CodeSerializer, responses={200: None})
    def post(self, request: Request) -> APIResponse:
        throttle_token_check(realm=self.realm, ip=client_ip(request))
        serializer = CodeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        recovery.account_secure(realm=self.realm, code=serializer.validated_data["token"])
        return APIResponse(None, message="Account secured; a reset link is on its way")


class EmailVerifyView(RealmMixin, PublicView):
    """Verify an email address with the code from a verification link; for an email
    change, the new address becomes the account's `email` now (if it is still free)."""

    parser_classes = JSON_ONLY
    success_message = "Email verified"
    error_statuses = {429: "Too many attempts"}

    def get_serializer_class(self) -> Any:
        return self.realm.serializer

    @extend_schema(request=CodeSerializer)
    def post(self, request: Request) -> APIResponse:
        throttle_token_check(realm=self.realm, ip=client_ip(request))
        serializer = CodeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = verification.email_verify(
            realm=self.realm, code=serializer.validated_data["token"]
        )
        return APIResponse(self.realm.serializer(account).data)


class MeViewSet(RealmMixin, viewsets.GenericViewSet):
    # The caller's own account: read and change the profile, delete it, change its
    # password and its avatar, read its security events. Each realm's URL module wires
    # the methods it offers.

    authentication_classes = [BearerAuthentication]
    permission_classes = [IsRealmAccount, HasScope]
    parser_classes = JSON_ONLY
    success_messages = {
        "retrieve": "Profile retrieved",
        "partial_update": "Profile updated",
        "update": "Profile updated",
        "destroy": "Account deleted",
        "password": "Password changed",
        "avatar": "Avatar updated",
        "remove_avatar": "Avatar removed",
        "verify": "A verification link is on its way",
        "totp": "TOTP secret created",
        "totp_confirm": "Two-factor authentication enabled",
        "recovery_codes": "Recovery codes regenerated",
        "two_factor": "Two-factor authentication disabled",
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
        # The resource has no id: it is the caller. DRF's OPTIONS metadata asks for it.
        return self.account

    def _show(self, account: AbstractAccount) -> APIResponse:
        return APIResponse(self.get_serializer(account).data)

    def retrieve(self, request: Request) -> APIResponse:
        """The caller's own account."""
        return self._show(self.account)

    @extend_schema(request=ProfileUpdateSerializer)
    @errors({409: TAKEN, 429: "Too many profile updates"})
    def partial_update(self, request: Request) -> APIResponse:
        """Change profile fields; a taken username, email or phone is a 409. A new `email`
        is not applied at once: it becomes `pending_email`, and the link mailed to it makes
        it the `email` (the current address gets a notice)."""
        throttle_profile_update(account=self.account)
        serializer = ProfileUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._show(
            services.account_update(
                account=self.account, confirm_email=True, **serializer.validated_data
            )
        )

    @extend_schema(request=ProfileUpdateSerializer)
    @errors({409: TAKEN, 429: "Too many profile updates"})
    def update(self, request: Request) -> APIResponse:
        """Change profile fields: the same optional fields as PATCH."""
        return self.partial_update(request)

    @extend_schema(request=PasswordConfirmSerializer, responses={200: None})
    @errors({429: "Too many password checks from this address"})
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
    @action(
        detail=False,
        methods=["post"],
        permission_classes=[IsRealmAccount, RequiresSession, SecondFactorEnrolledIfRequired],
    )
    @errors({429: "Too many password checks from this address"})
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

    @extend_schema(request=None, responses={202: None})
    @action(detail=False, methods=["post"], url_path="email/verify")
    @errors(
        {
            400: (
                "Nothing to verify: the address is verified already",
                [ErrorCode.VALIDATION_ERROR],
            ),
            429: "Too many verification mails",
        }
    )
    def verify(self, request: Request) -> APIResponse:
        """Mail a new verification link to the pending address, else to the unverified
        email; the older links stop working. Nothing to verify is a 400."""
        verification.email_verify_resend(account=self.account)
        return APIResponse(None, status=202)

    @extend_schema(request=AvatarSerializer)
    @action(detail=False, methods=["put"], parser_classes=[StrictMultiPartParser])
    @errors({413: "Avatar too large", 429: "Too many avatar uploads"})
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

    # --- The second factor (API.md "Two-factor authentication") ----------------------
    # A login session only, and open to an account the realm's policy holds back until
    # it has enrolled. A wrong password or code is a 400 naming the field, throttled.

    @extend_schema(request=PasswordConfirmSerializer, responses={200: TotpSecretSerializer})
    @action(detail=False, methods=["post"], permission_classes=[IsRealmAccount, RequiresSession])
    def totp(self, request: Request) -> APIResponse:
        """Start enrolment: a new TOTP secret and its otpauth:// URI, shown this once; not
        active until confirmed. Calling again replaces an unconfirmed secret."""
        throttle_password_check(realm=self.realm, ip=client_ip(request))
        serializer = PasswordConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        secret, uri = services.two_factor_enrol(
            account=self.account,
            password=serializer.validated_data["password"],
            client=client_of(request),
        )
        return APIResponse({"secret": secret, "otpauth_uri": uri}, headers=NO_STORE)

    def _recovery_codes(self, request: Request, service: Callable[..., list[str]]) -> APIResponse:
        """A current code in (throttled), the account's 10 new recovery codes out, shown
        this once."""
        throttle_second_factor_check(realm=self.realm, ip=client_ip(request), account=self.account)
        serializer = TotpCodeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        codes = service(
            account=self.account, code=serializer.validated_data["code"], client=client_of(request)
        )
        return APIResponse({"recovery_codes": codes}, headers=NO_STORE)

    @extend_schema(request=TotpCodeSerializer, responses={200: RecoveryCodesSerializer})
    @action(detail=False, methods=["post"], permission_classes=[IsRealmAccount, RequiresSession])
    def totp_confirm(self, request: Request) -> APIResponse:
        """Confirm the new secret with a current code: the second factor is on, and the 10
        recovery codes are shown this once."""
        return self._recovery_codes(request, services.two_factor_confirm)

    @extend_schema(request=TotpCodeSerializer, responses={200: RecoveryCodesSerializer})
    @action(detail=False, methods=["post"], permission_classes=[IsRealmAccount, RequiresSession])
    def recovery_codes(self, request: Request) -> APIResponse:
        """10 new recovery codes for a current TOTP code; the old ones stop working."""
        return self._recovery_codes(request, services.two_factor_regenerate_recovery_codes)

    @extend_schema(request=TwoFactorDisableSerializer, responses={200: None})
    @action(detail=False, methods=["delete"], permission_classes=[IsRealmAccount, RequiresSession])
    def two_factor(self, request: Request) -> APIResponse:
        """Turn the second factor off, with the password and a current TOTP code or an
        unused recovery code; the recovery codes are gone."""
        throttle_second_factor_check(realm=self.realm, ip=client_ip(request), account=self.account)
        serializer = TwoFactorDisableSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.two_factor_disable(
            account=self.account, client=client_of(request), **serializer.validated_data
        )
        return APIResponse(None)

    @extend_schema(responses=AuthEventSerializer(many=True))
    @action(detail=False, methods=["get"], serializer_class=AuthEventSerializer)
    def events(self, request: Request) -> Any:
        """The account's own security events, newest first: where and when it was used,
        and what was changed (a read: it writes nothing, not even an event)."""
        events = AuthEvent.objects.for_account(self.account).newest_first()
        page = self.paginate_queryset(events)
        return self.get_paginated_response(AuthEventSerializer(page, many=True).data)
