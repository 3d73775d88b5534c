"""System checks for deployment: rate limits must be counted in Redis across instances, and
mail needs a mail server."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.caches, deploy=True)
def check_rate_limit_cache(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    backend = settings.CACHES[settings.RATELIMIT_USE_CACHE]["BACKEND"]
    if backend.endswith("RedisCache"):
        return []
    return [
        checks.Warning(
            f"Rate limits are counted in {backend}, which is shared only by the processes of "
            "one host.",
            hint="Set REDIS_URL so that login limits hold across every app instance.",
            id="accounts.W001",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def check_email_url(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    if settings.DEBUG or settings.EMAIL_URL:
        return []
    return [
        checks.Warning(
            "EMAIL_URL is not set: reset links and security notices would go to an SMTP "
            "server on localhost:25.",
            hint="Set EMAIL_URL to the mail server, e.g. smtp+tls://user:password@host:587.",
            id="accounts.W002",
        )
    ]
