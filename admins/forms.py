"""The Django admin site's login form, through the same lockout and rate limits as the API."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from accounts.services import account_authenticate
from accounts.throttling import throttle_login
from admins.models import Admin
from config.api.exceptions import (
    AccountInactive,
    AccountLocked,
    InvalidCredentials,
    RateLimited,
    ServiceUnavailable,
)
from config.api.net import client_ip


def _minutes(seconds: int) -> int:
    return max(1, (seconds + 59) // 60)


class AdminLoginForm(AdminAuthenticationForm):
    """Counts every attempt in the admin realm's rate limit and lockout, and says clearly
    why a locked or throttled admin cannot log in."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password or self.request is None:
            return self.cleaned_data
        try:
            throttle_login(self.request, realm="admin")
            admin = account_authenticate(
                model=Admin,
                identifier=username,
                password=password,
                realm="admin",
                ip=client_ip(self.request),
            )
        except AccountLocked as exc:
            minutes = _minutes((exc.details or {}).get("retry_after", 60))
            raise ValidationError(
                f"This account is locked after too many failed logins. "
                f"Try again in {minutes} minute{'s' if minutes != 1 else ''}, "
                f"or ask a superuser to unlock it.",
                code="locked",
            ) from exc
        except RateLimited as exc:
            minutes = _minutes((exc.details or {}).get("retry_after", 60))
            raise ValidationError(
                f"Too many login attempts from your address. Try again in {minutes} minutes.",
                code="rate_limited",
            ) from exc
        except ServiceUnavailable as exc:
            raise ValidationError(
                "Logins are unavailable right now. Try again shortly.", code="unavailable"
            ) from exc
        except (InvalidCredentials, AccountInactive) as exc:
            raise self.get_invalid_login_error() from exc
        self.user_cache = admin
        self.confirm_login_allowed(admin)
        return self.cleaned_data
