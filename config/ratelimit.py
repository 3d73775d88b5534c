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

from django_ratelimit.core import get_usage
from redis.exceptions import RedisError

from config.api.exceptions import RateLimited, ServiceUnavailable

logger = logging.getLogger("config.ratelimit")

CACHE_ERRORS = (RedisError, sqlite3.Error, OSError)


def ip_bucket(address: str) -> str:
    """What a client address counts as: the IPv4 address, or the IPv6 /64, since one IPv6
    host usually holds a whole /64 and would otherwise get a fresh allowance from each of
    its addresses."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def throttle(*, group: str, rate: str, key: str) -> None:
    """Count one attempt of `key` (a client's `ip_bucket`, or an account) in `group`;
    raise `RateLimited` once `rate` is exceeded."""
    try:
        usage = get_usage(
            None, group=group, key=lambda _group, _request: key, rate=rate, increment=True
        )
    except CACHE_ERRORS as exc:
        logger.error("rate-limit cache unavailable: %s", type(exc).__name__)
        raise ServiceUnavailable(
            "Rate limiting is unavailable; try again shortly",
            details={"cache": ["The rate-limit cache does not answer."]},
        ) from exc
    if usage is not None and usage["should_limit"]:
        logger.warning(
            "rate limited group=%s key=%s",
            group,
            key,
            extra={"event": "rate_limited", "group": group, "key": key},
        )
        raise RateLimited(retry_after=usage["time_left"])
