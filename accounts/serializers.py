"""
Serializers of the user realm: what a request may send and how an account is shown.

They parse and check field rules only; every decision with business meaning (conflicts,
lockout, revocation) is a service's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model
from rest_framework import serializers
from rest_framework.utils import html

from accounts.avatars import avatar_url
from accounts.models import User
from accounts.validators import (
    NAME_MAX_LENGTH,
    USERNAME_MAX_LENGTH,
    USERNAME_MIN_LENGTH,
    normalize_email,
    normalize_phone,
    normalize_username,
    username_validators,
    validate_no_control_characters,
)
from config.api.fields import StrictCharField
from tokens.realms import Realm

# Long enough for any passphrase (at least 64 characters are promised), short enough that
# nobody can make the server hash a megabyte.
PASSWORD_MAX_LENGTH = 1024


class FormBlankMixin(serializers.Field):
    """An optional field sent empty in a form (multipart or urlencoded) is an empty value,
    checked like `""` in JSON, not an absent one.

    DRF reads `name=` in a form as "not sent" for an optional field, so a PATCH with an
    empty `email` part would succeed and change nothing, where the same JSON is a 400.
    """

    def get_value(self, dictionary: Any) -> Any:
        if html.is_html_input(dictionary) and dictionary.get(self.field_name) == "":
            return ""
        return super().get_value(dictionary)


class UsernameField(FormBlankMixin, StrictCharField):
    """3-150 letters, digits and `@.+-_`, NFKC-normalised before the rules apply."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", USERNAME_MAX_LENGTH)
        kwargs.setdefault("min_length", USERNAME_MIN_LENGTH)
        kwargs.setdefault("validators", username_validators)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        return normalize_username(super().to_internal_value(data))


class NameField(FormBlankMixin, StrictCharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", NAME_MAX_LENGTH)
        kwargs.setdefault("min_length", 1)
        kwargs.setdefault("validators", [validate_no_control_characters])
        super().__init__(**kwargs)


class PhoneField(StrictCharField):
    """A phone number in international form, stored as E.164; `""` and null mean none."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("max_length", 32)
        super().__init__(**kwargs)

    def run_validation(self, data: Any = serializers.empty) -> Any:
        # DRF answers "" for a blank string before any hook runs; here blank means none.
        if isinstance(data, str) and not data.strip():
            return None
        return super().run_validation(data)

    def to_internal_value(self, data: Any) -> Any:
        try:
            return normalize_phone(super().to_internal_value(data))
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc


class EmailField(FormBlankMixin, StrictCharField, serializers.EmailField):
    """An email address, NFKC-normalised (so full-width forms collide), case kept."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 254)
        kwargs.setdefault(
            "help_text",
            "Checked by Django's EmailValidator, which is stricter than `format: email` "
            "(for one, the top-level domain has at least two characters).",
        )
        super().__init__(**kwargs)

    def run_validation(self, data: Any = serializers.empty) -> Any:
        if isinstance(data, str):
            data = normalize_email(data)
        return super().run_validation(data)


class PasswordField(StrictCharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("write_only", True)
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("max_length", PASSWORD_MAX_LENGTH)
        kwargs.setdefault("style", {"input_type": "password"})
        super().__init__(**kwargs)


class AccountSerializer(serializers.ModelSerializer):
    """An account as its owner sees it."""

    avatar_url = serializers.SerializerMethodField()

    class Meta:
        model: type[Model] = User
        fields: tuple[str, ...] = (
            "id",
            "username",
            "name",
            "email",
            "phone",
            "avatar_url",
            "is_active",
            "email_verified",
            "pending_email",
            "two_factor_enabled",
            "created_at",
            "updated_at",
        )
        read_only_fields: tuple[str, ...] = fields

    def get_avatar_url(self, account: Any) -> str | None:
        return avatar_url(account.avatar.name)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        """Read the listed fields straight from the account (a `get_<name>` method where
        there is one), formatting datetimes as DRF does.

        The declared fields remain the contract and the OpenAPI schema; building DRF's field
        objects for every read cost more than the rest of `GET /users/me` (profiled), and
        an account has nothing to format but datetimes.
        """
        data: dict[str, Any] = {}
        for name in self.Meta.fields:
            getter = getattr(self, f"get_{name}", None)
            value = getter(instance) if getter is not None else getattr(instance, name)
            if isinstance(value, datetime):
                value = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
            data[name] = value
        return data


class UserSerializer(AccountSerializer):
    class Meta(AccountSerializer.Meta):
        model = User


class RegisterSerializer(serializers.Serializer):
    username = UsernameField()
    name = NameField()
    email = EmailField()
    password = PasswordField()
    phone = PhoneField()
    avatar = serializers.FileField(
        required=False, help_text="JPEG, PNG or WebP (multipart requests only)."
    )


class AvatarSerializer(serializers.Serializer):
    avatar = serializers.FileField(help_text="JPEG, PNG or WebP, at most MAX_UPLOAD_MB.")


class LoginSerializer(serializers.Serializer):
    username = StrictCharField(max_length=254, help_text="Username or email address.")
    password = PasswordField()


class RefreshSerializer(serializers.Serializer):
    refresh_token = StrictCharField(max_length=4096)


class ProfileUpdateSerializer(serializers.Serializer):
    """Every field optional, for PATCH and PUT alike (the contract lists them all as such)."""

    username = UsernameField(required=False)
    name = NameField(required=False)
    email = EmailField(required=False)
    phone = PhoneField()


class PasswordChangeSerializer(serializers.Serializer):
    current_password = PasswordField()
    new_password = PasswordField()


class PasswordConfirmSerializer(serializers.Serializer):
    password = PasswordField()


class PasswordResetSerializer(serializers.Serializer):
    email = EmailField()


class CodeSerializer(serializers.Serializer):
    token = StrictCharField(max_length=128, help_text="The one-time code from the mail's link.")


class PasswordResetConfirmSerializer(CodeSerializer):
    new_password = PasswordField()


class TokenPairSerializer(serializers.Serializer):
    """The token pair a login or a refresh returns (for the OpenAPI document)."""

    access_token = serializers.CharField()
    token_type = serializers.ChoiceField(choices=["Bearer"])
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")
    refresh_token = serializers.CharField()
    refresh_expires_in = serializers.IntegerField(
        help_text="Seconds until the session (and its refresh token) expires."
    )


@cache
def token_pair_serializer(realm: Realm) -> type[TokenPairSerializer]:
    """The token pair with the account of `realm` under its name (`user` or `admin`), as a
    login or refresh of that realm answers it (for the OpenAPI document)."""
    name = f"{realm.name.title()}TokenPairSerializer"
    return type(
        name, (TokenPairSerializer,), {realm.name: realm.serializer(), "__module__": __name__}
    )


class LoginResponseSerializer(TokenPairSerializer):
    """What a login answers, in one object for both outcomes (for the OpenAPI document):
    the token pair and the account, or, for an account with a second factor, a challenge
    (`mfa_required: true`, `mfa_token`) and no token at all.

    One object rather than a `oneOf`: client generators (openapi-python-client,
    openapi-typescript) read it as one model with optional fields, where a `oneOf` of
    objects without a string discriminator becomes an untyped union. `expires_in` is there
    either way (the access token's lifetime, or the challenge's); `mfa_required` only with
    a challenge, so `if (data.mfa_required)` tells the two apart.
    """

    mfa_required = serializers.BooleanField(
        required=False,
        help_text="Present (true) only for a challenge: send `mfa_token` and a code to "
        "`.../auth/login/2fa`. No session has started.",
    )
    mfa_token = serializers.CharField(
        required=False, help_text="Only with `mfa_required`: the single-use challenge."
    )
    expires_in = serializers.IntegerField(
        help_text="Seconds until the access token expires, or (`mfa_required`) the challenge."
    )
    access_token = serializers.CharField(required=False)
    token_type = serializers.ChoiceField(choices=["Bearer"], required=False)
    refresh_token = serializers.CharField(required=False)
    refresh_expires_in = serializers.IntegerField(
        required=False, help_text="Seconds until the session (and its refresh token) expires."
    )


@cache
def login_response_serializer(realm: Realm) -> type[LoginResponseSerializer]:
    """A login's answer in `realm` (see `LoginResponseSerializer`), with the account under
    the realm's name when a session started."""
    name = f"{realm.name.title()}LoginResponseSerializer"
    return type(
        name,
        (LoginResponseSerializer,),
        {realm.name: realm.serializer(required=False), "__module__": __name__},
    )


class CodeField(StrictCharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("write_only", True)
        kwargs.setdefault("help_text", "A 6-digit code of the authenticator app.")
        super().__init__(**kwargs)


class LoginSecondFactorSerializer(serializers.Serializer):
    mfa_token = StrictCharField(max_length=128, help_text="The login's `mfa_token`.")
    code = CodeField(help_text="A current 6-digit TOTP code, or an unused recovery code.")


class TotpCodeSerializer(serializers.Serializer):
    code = CodeField(help_text="A current 6-digit code of the authenticator app.")


class TwoFactorDisableSerializer(serializers.Serializer):
    password = PasswordField()
    code = CodeField(help_text="A current 6-digit TOTP code, or an unused recovery code.")


class TotpSecretSerializer(serializers.Serializer):
    """A new TOTP secret, shown this once (for the OpenAPI document)."""

    secret = serializers.CharField(help_text="Base32, for typing into an authenticator app.")
    otpauth_uri = serializers.CharField(help_text="The `otpauth://totp/...` URI, for a QR code.")


class RecoveryCodesSerializer(serializers.Serializer):
    """Recovery codes, shown this once (for the OpenAPI document)."""

    recovery_codes = serializers.ListField(
        child=serializers.CharField(), min_length=10, max_length=10
    )
