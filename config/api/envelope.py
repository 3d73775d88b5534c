"""
The JSON envelope every response is wrapped in, built in this one place.

Success: `{"success": true, "message": ..., "data": ...}`.
Error: `{"success": false, "message": ..., "error": {"code", "message", "details"?}}`.

An error body holds plain `str`s and JSON types only (never an `ErrorCode` member), and
DRF renders it with the envelope's JSON renderer whatever renderer the view negotiated
(`config.api.handlers.exception_handler`), so no other renderer ever meets one.
"""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse

CONTENT_TYPE = "application/json; charset=utf-8"
# Pages that are HTML by nature keep Django's own (HTML) error pages.
HTML_PREFIXES = ("/admin/", "/api/docs", "/api/redoc")


def success_body(data: Any, message: str) -> dict[str, Any]:
    return {"success": True, "message": message, "data": data}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": str(code), "message": str(message)}
    if details:
        error["details"] = details
    return {"success": False, "message": message, "error": error}


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    """An error envelope as a plain Django response, for errors raised outside DRF."""
    response = json_response(error_body(code, message, details), status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def json_response(body: dict[str, Any], status: int = 200) -> JsonResponse:
    return JsonResponse(body, status=status, content_type=CONTENT_TYPE)
