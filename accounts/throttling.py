"""The throttles of the accounts: login and registration per client IP and realm, profile
updates per account. Every attempt counts, whatever it answers."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from config.ratelimit import throttle


def login_rate() -> str:
    return f"{settings.RATE_LIMIT_ATTEMPTS}/{settings.RATE_LIMIT_WINDOW_MINUTES}m"


def throttle_login(request: HttpRequest, *, realm: str) -> None:
    """Login attempts of one realm."""
    throttle(request, group=f"login:{realm}", rate=login_rate())


def throttle_password_check(request: HttpRequest, *, realm: str) -> None:
    """Password confirmations (password change, account deletion): a stolen access token
    must not be a way to guess the password at full speed."""
    throttle(request, group=f"password-check:{realm}", rate=login_rate())


def throttle_register(request: HttpRequest) -> None:
    throttle(request, group="register", rate=settings.REGISTER_RATE_LIMIT)


def _by_account(group: str, request: HttpRequest) -> str:
    """The authenticated account (realm and id), not the address it calls from."""
    account: Any = request.user
    return f"{account._meta.label_lower}:{account.pk}"


def throttle_profile_update(request: HttpRequest) -> None:
    """Profile updates of one account, either realm. A 409 tells whether a username, email
    or phone is taken, so the attempt counts whether it succeeds, conflicts or is invalid:
    otherwise the endpoint would be an oracle for other people's contact details."""
    throttle(
        request, group="profile-update", rate=settings.PROFILE_UPDATE_RATE_LIMIT, key=_by_account
    )
