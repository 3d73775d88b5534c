"""The login and registration throttles (every attempt counts, per client IP and realm),
and the per-account upload throttle."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from config.ratelimit import by_account, throttle


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


def throttle_avatar_upload(request: HttpRequest) -> None:
    """Avatar uploads of one account: each costs a decode, so one account's loop must not
    occupy a worker, from however many addresses it comes."""
    throttle(request, group="avatar-upload", rate=settings.AVATAR_UPLOAD_RATE_LIMIT, key=by_account)
