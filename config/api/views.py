"""Operations endpoints: `/health` (the process is up) and `/ready` (its backends answer)."""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from config.api.envelope import error_response, json_response, success_body
from config.api.exceptions import ErrorCode

logger = logging.getLogger(__name__)


@csrf_exempt
@require_safe
def health(request: HttpRequest) -> JsonResponse:
    """200 while the process can answer; touches nothing else, so it stays cheap."""
    return json_response(success_body({"status": "ok"}, "Healthy"))


@csrf_exempt
@require_safe
def ready(request: HttpRequest) -> JsonResponse:
    """200 when the database and the cache answer, else 503 naming what failed."""
    failing: dict[str, list[str]] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        logger.exception("readiness: database unavailable")
        failing["database"] = ["The database does not answer."]
    try:
        cache.set("ready-probe", 1, timeout=5)
        if cache.get("ready-probe") != 1:
            raise RuntimeError("cache did not keep a value")
    except Exception:
        logger.exception("readiness: cache unavailable")
        failing["cache"] = ["The cache does not answer."]
    if failing:
        return error_response(
            503, ErrorCode.SERVICE_UNAVAILABLE, "Service unavailable", details=failing
        )
    return json_response(success_body({"database": "ok", "cache": "ok"}, "Ready"))
