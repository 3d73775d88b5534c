"""
Per-client rate limits on login and registration (django-ratelimit over the cache).

Every attempt counts, successful or not, per client IP (`config.api.net.client_ip`) and
per realm. The counters live in the default cache, shared by every worker process on the
host, and with `REDIS_URL` by every instance. If the cache does not answer, the attempt
is refused with 503: a limit that cannot be counted is not waived.
"""

from __future__ import annotations

import logging
import sqlite3

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError

from config.api.exceptions import RateLimited, ServiceUnavailable
from config.api.net import client_ip

logger = logging.getLogger("accounts.auth")

CACHE_ERRORS = (RedisError, sqlite3.Error, OSError)


def _client_key(group: str, request: HttpRequest) -> str:
    return client_ip(request)


def throttle(request: HttpRequest, *, group: str, rate: str) -> None:
    """Count one attempt in `group`; raise `RateLimited` once the rate is exceeded."""
    try:
        usage = get_usage(request, group=group, key=_client_key, rate=rate, increment=True)
    except CACHE_ERRORS as exc:
        logger.error("rate-limit cache unavailable: %s", type(exc).__name__)
        raise ServiceUnavailable(
            "Rate limiting is unavailable; try again shortly",
            details={"cache": ["The rate-limit cache does not answer."]},
        ) from exc
    if usage is not None and usage["should_limit"]:
        logger.warning(
            "rate limited group=%s ip=%s",
            group,
            client_ip(request),
            extra={"event": "rate_limited", "group": group, "ip": client_ip(request)},
        )
        raise RateLimited(retry_after=usage["time_left"])


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
