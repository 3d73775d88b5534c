"""
The one place that turns exceptions into error envelopes.

`exception_handler` is DRF's EXCEPTION_HANDLER: it maps the project's `APIError`s and
DRF's and Django's own exceptions (the one table, `config.api.exceptions.KNOWN_ERRORS`;
services raise Django's own `ValidationError`, never DRF's) to a status, a stable
`error.code`, a message and details, and rolls back the request's transaction. Anything
else is left to Django, which logs the traceback and answers through `server_error` (a 500
envelope, never a traceback).

`bad_request`, `page_not_found`, `permission_denied` and `server_error` are the root
URLconf's handler400/403/404/500: errors Django raises before DRF sees the request.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

from config.api.envelope import HTML_PREFIXES, error_body, error_response
from config.api.exceptions import APIError, known_error, status_error
from config.api.renderers import EnvelopeRenderer

logger = logging.getLogger(__name__)


def field_errors(detail: Any) -> dict[str, list[str]]:
    """DRF validation detail as `{field: [messages]}`, with `non_field_errors` for the rest.

    Every value is a flat list of strings. An error inside a list names its item, 1-based
    (`{"scopes": ["Item 2: ..."]}`), one inside a nested object names its field
    (`{"address": ["city: ..."]}`), and deeper levels compose
    (`{"addresses": ["Item 2: city: ..."]}`).
    """
    if not isinstance(detail, dict):
        return {api_settings.NON_FIELD_ERRORS_KEY: _flat(detail)}
    errors: dict[str, list[str]] = {}
    for key, value in detail.items():
        if isinstance(key, int):  # the items of a list validated as a whole (`many=True`)
            errors.setdefault(api_settings.NON_FIELD_ERRORS_KEY, []).extend(
                _flat(value, _label(key))
            )
        else:
            errors[str(key)] = _flat(value)
    return errors


def _flat(value: Any, prefix: str = "") -> list[str]:
    if isinstance(value, dict):
        # A ListField's errors are keyed by the failing item's (0-based) index; a nested
        # serializer's or a DictField's by the field or key.
        return [
            message for key, item in value.items() for message in _flat(item, prefix + _label(key))
        ]
    if isinstance(value, list):
        # A list of messages, or a ListSerializer's errors: one entry per item, with an
        # empty one for each valid item.
        return [
            message
            for index, item in enumerate(value, start=1)
            for message in (
                _flat(item, f"{prefix}Item {index}: ")
                if isinstance(item, (dict, list))
                else [f"{prefix}{item}"]
            )
        ]
    return [f"{prefix}{value}"]


def _label(key: Any) -> str:
    if isinstance(key, int):
        return f"Item {key + 1}: "
    if key == api_settings.NON_FIELD_ERRORS_KEY:
        return ""  # a nested object's own errors belong to the field holding it
    return f"{key}: "


def _describe(exc: Exception) -> tuple[int, str, str, Any, dict[str, str]] | None:
    """(status, code, message, details, headers) for an exception we know, else None."""
    if isinstance(exc, APIError):
        return exc.status_code, exc.error_code, exc.message, exc.details, dict(exc.headers)
    known = known_error(exc)
    if known is None:
        return None
    details: Any = None
    headers: dict[str, str] = {}
    if isinstance(exc, exceptions.ValidationError):
        details = field_errors(exc.detail)
    elif isinstance(exc, DjangoValidationError):
        # Services raise Django's own error: `{field: [messages]}` or a list of messages.
        details = field_errors(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, (OperationalError, InterfaceError)):
        logger.error("database unavailable: %s", type(exc).__name__)
        details = {"database": ["The database does not answer."]}
    elif isinstance(exc, exceptions.Throttled) and cast(Any, exc).wait is not None:
        retry_after = max(1, int(cast(Any, exc).wait))
        details, headers = {"retry_after": retry_after}, {"Retry-After": str(retry_after)}
    message = known.message
    if message is None:
        detail = getattr(exc, "detail", None)
        message = str(detail) if isinstance(detail, str) else str(known.code)
    return known.status, known.code, message, details, headers


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    described = _describe(exc)
    if described is None:
        return None
    status, code, message, details, headers = described
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    set_rollback()
    request = context.get("request")
    if request is not None:
        # An error is always the JSON envelope, whatever renderer the view negotiated: the
        # schema's YAML or the docs' HTML renderer cannot represent it, and when negotiation
        # itself failed (406) DRF would fall back to the view's first renderer. DRF's
        # finalize_response renders with the request's accepted renderer.
        request.accepted_renderer = EnvelopeRenderer()
        request.accepted_media_type = EnvelopeRenderer.media_type
    return Response(error_body(code, message, details), status=status, headers=headers)


def _status_view(status: int, html_view: Any) -> Any:
    def view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
        if request.path.startswith(HTML_PREFIXES):
            return html_view(request, exception)
        described = _describe(exception) if exception is not None else None
        if described is not None:
            status_, code, message, details, headers = described
            return error_response(status_, code, message, details, headers)
        code, message = status_error(status)
        return error_response(status, code, message)

    view.__name__ = f"handler{status}"
    return view


bad_request = _status_view(400, defaults.bad_request)
permission_denied = _status_view(403, defaults.permission_denied)
page_not_found = _status_view(404, defaults.page_not_found)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(HTML_PREFIXES):
        return defaults.server_error(request)
    code, message = status_error(500)
    return error_response(500, code, message)
