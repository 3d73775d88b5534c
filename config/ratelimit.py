"""
Rate limits over the cache (django-ratelimit), failing closed.

The counters live in the default cache: shared by every worker process on the host, and
with `REDIS_URL` by every instance. If the cache does not answer, the request is refused
with 503: a limit that cannot be counted is not waived.
"""

from __future__ import annotations

import ipaddress
import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError

from config.api.exceptions import RateLimited, ServiceUnavailable
from config.api.net import client_ip

logger = logging.getLogger("config.ratelimit")

CACHE_ERRORS = (RedisError, sqlite3.Error, OSError)

Key = Callable[[str, HttpRequest], str]


def by_client_ip(group: str, request: HttpRequest) -> str:
    """The client's IPv4 address, or its IPv6 /64: one IPv6 host usually holds a whole
    /64, and would otherwise get a fresh allowance from each of its addresses."""
    address = client_ip(request)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def by_account(group: str, request: HttpRequest) -> str:
    """The authenticated caller's realm and id: for limits on what an account does,
    wherever it comes from."""
    owner: Any = request.user
    return f"{owner._meta.label_lower}:{owner.pk}"


def throttle(request: HttpRequest, *, group: str, rate: str, key: Key = by_client_ip) -> None:
    """Count one attempt in `group`; raise `RateLimited` once `rate` is exceeded."""
    try:
        usage = get_usage(request, group=group, key=key, rate=rate, increment=True)
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
