"""The Django admin site's login and password-change forms, through the same rate limits,
lockout and revocation as the API."""

from __future__ import annotations

from typing import Any, cast

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from accounts.services import account_confirm_password, account_login, password_changed
from accounts.throttling import throttle_password_check
from admins.models import Admin
from config.api.exceptions import (
    AccountInactive,
    AccountLocked,
    APIError,
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
    if isinstance(exc, ServiceUnavailable):
        return ValidationError(
            "This is unavailable right now. Try again shortly.", code="unavailable"
        )
    return None


class AdminLoginForm(AdminAuthenticationForm):
    """Counts every attempt in the admin realm's rate limit and lockout, and says clearly
    why a locked or throttled admin cannot log in."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password or self.request is None:
            return self.cleaned_data
        try:
            # The site keeps its own cookie session: no token session starts.
            admin, _ = account_login(
                realm=ADMIN,
                identifier=username,
                password=password,
                ip=client_ip(self.request),
                user_agent=self.request.headers.get("User-Agent", ""),
                start_session=False,
            )
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
        with transaction.atomic():
            user = super().save(commit=commit)
            if commit:
                password_changed(account=user, client=client_of(self.request), via="admin_site")
        return user
