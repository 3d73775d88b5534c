"""The Django admin site's forms: its login and own password change, through the same rate
limits, lockout and revocation as the API; and the account pages' forms (add, change, set
password), which apply the API's field rules and change accounts through the services."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import (
    BaseUserCreationForm,
    PasswordChangeForm,
    SetPasswordMixin,
    UsernameField,
)
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from accounts.models import AbstractAccount, User
from accounts.services import (
    SecondFactorInvalid,
    SecondFactorRequired,
    account_confirm_password,
    account_login,
    password_changed,
)
from accounts.throttling import throttle_password_check
from accounts.validators import normalize_email, normalize_phone
from admins import services as staff
from admins.models import Admin
from config.api.exceptions import (
    AccountInactive,
    AccountLocked,
    APIError,
    EmailNotVerified,
    InvalidCredentials,
    RateLimited,
    ServiceUnavailable,
)
from config.api.net import client_ip, client_of
from tokens.realms import ADMIN


def _minutes(seconds: int) -> int:
    return max(1, (seconds + 59) // 60)


def _site_error(exc: APIError, attempts: str) -> ValidationError | None:
    """What the admin site says for a lock, a rate limit or an unavailable cache; None for
    the errors each form words itself."""
    if isinstance(exc, AccountLocked):
        minutes = _minutes((exc.details or {}).get("retry_after", 60))
        return ValidationError(
            f"This account is locked after too many failed attempts. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}, "
            f"or ask a superuser to unlock it.",
            code="locked",
        )
    if isinstance(exc, RateLimited):
        minutes = _minutes((exc.details or {}).get("retry_after", 60))
        return ValidationError(
            f"Too many {attempts} from your address. Try again in {minutes} minutes.",
            code="rate_limited",
        )
    if isinstance(exc, EmailNotVerified):
        return ValidationError(
            "This admin's email address is not verified yet, and this site needs it "
            "verified. A verification link has been mailed to it: open it, then log in "
            "again.",
            code="email_not_verified",
        )
    if isinstance(exc, ServiceUnavailable):
        return ValidationError(
            "This is unavailable right now. Try again shortly.", code="unavailable"
        )
    return None


class AdminLoginForm(AdminAuthenticationForm):
    """Counts every attempt in the admin realm's rate limit and lockout, and says clearly
    why a locked or throttled admin cannot log in.

    An admin with a second factor gives its code in the same form (one page, one POST: the
    code is checked by the same login service as the API's second step, so its lockout
    and replay rules hold here too). Without one, the form asks for it, and nothing counts:
    the password was right.
    """

    code = forms.CharField(
        label="Two-factor code",
        required=False,
        max_length=64,
        strip=True,
        help_text="Only if your account has two-factor authentication: the 6-digit code of "
        "your authenticator app, or a recovery code.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password or self.request is None:
            return self.cleaned_data
        try:
            # The site keeps its own cookie session: no token session starts.
            admin, _, _ = account_login(
                realm=ADMIN,
                identifier=username,
                password=password,
                ip=client_ip(self.request),
                user_agent=self.request.headers.get("User-Agent", ""),
                start_session=False,
                code=self.cleaned_data.get("code") or None,
            )
        except SecondFactorRequired as exc:
            raise ValidationError(
                "This account uses two-factor authentication: enter the code of your "
                "authenticator app, or a recovery code.",
                code="second_factor_required",
            ) from exc
        except SecondFactorInvalid as exc:
            raise ValidationError(
                "The two-factor code is incorrect (a code is accepted only once).",
                code="second_factor_invalid",
            ) from exc
        except (InvalidCredentials, AccountInactive) as exc:
            raise self.get_invalid_login_error() from exc
        except APIError as exc:
            raise (_site_error(exc, "login attempts") or self.get_invalid_login_error()) from exc
        self.user_cache = cast(Admin, admin)
        self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class AdminSitePasswordChangeForm(PasswordChangeForm):
    """The admin site's own password change: the old password is checked as the API checks
    a password (throttled per client IP, and each wrong one counted towards the admin's
    lockout), and saving revokes every API session and token of the admin and records
    `password_changed`, in one transaction."""

    required_css_class = "required"

    def __init__(self, user: Any, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        self.request = request
        super().__init__(user, *args, **kwargs)

    def clean_old_password(self) -> str:
        old_password: str = self.cleaned_data["old_password"]
        try:
            client = client_of(self.request)
            throttle_password_check(realm=ADMIN, ip=client.ip or "")
            account_confirm_password(account=self.user, password=old_password, client=client)
        except InvalidCredentials as exc:
            raise ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            ) from exc
        except APIError as exc:
            raise (_site_error(exc, "password attempts") or ValidationError(exc.message)) from exc
        return old_password

    def save(self, commit: bool = True) -> Any:
        """Save the new password (which revokes every API session and token of the admin),
        record it and mail the admin a notice, in one transaction."""
        with transaction.atomic():
            admin = super().save(commit)
            if commit:
                password_changed(account=admin, client=client_of(self.request), via="admin_site")
        return admin


# --- The account pages ------------------------------------------------------------------


class EmailField(forms.EmailField):
    """An email address, NFKC-normalised before it is checked (so full-width forms are
    accepted and collide with their ASCII twins), in the case typed, as in the API."""

    def to_python(self, value: Any) -> str:
        return normalize_email(super().to_python(value) or "")


class PhoneField(forms.CharField):
    """A phone number in international form, stored as E.164; empty means none. The
    input may be longer than the stored form (spaces, `00` for `+`), as in the API."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.update(max_length=32, required=False, empty_value=None)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str | None:
        return normalize_phone(super().to_python(value))


# The API's field rules on the account forms (the username is Django's `UsernameField`,
# which NFKC-normalises it as the API does). A username or email another account holds
# as either is refused by the model's `validate_constraints`, a taken phone by the check
# of its unique index.
FIELD_CLASSES = {"username": UsernameField, "email": EmailField, "phone": PhoneField}


class AccountChangeForm(forms.ModelForm):
    """An account's page: its profile fields under the API's rules."""

    class Meta:
        field_classes = FIELD_CLASSES
        help_texts = {
            # The field is read-only here: blocking is an action, which revokes tokens.
            "is_active": "A blocked account cannot log in. To block or activate it, select "
            "it in the list and run the Block or Activate action.",
        }


class AccountCreationForm(BaseUserCreationForm):
    """The add page: Django's two password fields, checked by the password validators
    against the new account's username, name and email; the account itself is created by
    the account services (`create`), never by this form's `save()`."""

    class Meta:
        fields: tuple[str, ...] = ("username", "name", "email", "phone")
        field_classes = FIELD_CLASSES

    def create(self, *, actor: Admin) -> AbstractAccount:
        raise NotImplementedError

    def account_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "username": data["username"],
            "name": data["name"],
            "email": data["email"],
            "phone": data.get("phone"),
            "password": data["password1"],
        }


class UserAddForm(AccountCreationForm):
    class Meta(AccountCreationForm.Meta):
        model = User

    def create(self, *, actor: Admin) -> AbstractAccount:
        return staff.staff_create_user(actor=actor, **self.account_fields())


class AdminAddForm(AccountCreationForm):
    class Meta(AccountCreationForm.Meta):
        model = Admin
        fields = (*AccountCreationForm.Meta.fields, "is_superuser")

    def create(self, *, actor: Admin) -> AbstractAccount:
        return staff.admin_create(
            actor=actor,
            is_superuser=bool(self.cleaned_data.get("is_superuser")),
            **self.account_fields(),
        )


class AccountPasswordForm(SetPasswordMixin, forms.Form):
    """Set another account's password: Django's `AdminPasswordChangeForm`, without its
    choice to disable password login, saved through the staff service, which revokes
    every session and personal access token of the account and records the change."""

    required_css_class = "required"
    password1, password2 = SetPasswordMixin.create_password_fields()

    def __init__(self, user: AbstractAccount, *args: Any, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)
        self.fields["password1"].widget.attrs["autofocus"] = True

    def clean(self) -> dict[str, Any]:
        self.validate_passwords()
        self.validate_password_for_user(self.user)
        return cast(dict[str, Any], super().clean())

    @sensitive_variables("password")
    def save(self, *, actor: Admin) -> AbstractAccount:
        password = self.cleaned_data["password1"]
        staff.staff_set_password(actor=actor, account=self.user, password=password)
        return self.user
