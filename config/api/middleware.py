"""
Middleware every response goes through: a request id, the envelope on errors that Django
itself produced, and the request-body cap.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any, cast

from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import middleware as messages_middleware
from django.contrib.sessions import middleware as sessions_middleware
from django.http import HttpRequest, HttpResponse, HttpResponseBase, UnreadablePostError
from django.middleware import csrf
from django.utils.functional import SimpleLazyObject, empty

from config.api.envelope import HTML_PREFIXES, error_response
from config.api.exceptions import ErrorCode, status_error
from config.api.net import client_ip

access_log = logging.getLogger("config.request")

GetResponse = Callable[[HttpRequest], HttpResponseBase]

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

# Headers an error response keeps when it is rewritten as an envelope.
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


class RequestIDMiddleware:
    """Give every request an id (`request.request_id`) and echo it as `X-Request-ID`.

    The client's id is kept when it is 1-128 characters of `A-Z a-z 0-9 . _ -`, so it can
    be traced through logs; anything else is replaced, so a header cannot inject into logs.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        # META, not request.headers: that would build a dict of every header on each request.
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class AccessLogMiddleware:
    """One log line per request: method, path, status, duration, request id, account and
    client IP (logger `config.request`). Never the query string, headers or body, where a
    secret could be."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        account = _account(request)
        access_log.info(
            "%s %s %s %.2fms",
            request.method,
            request.path,
            response.status_code,
            duration_ms,
            extra={
                "event": "request",
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": duration_ms,
                "request_id": getattr(request, "request_id", None),
                "account": account,
                "ip": client_ip(request),
            },
        )
        return response


def _account(request: HttpRequest) -> str | None:
    """`user:42` / `admin:7` for an authenticated request, without loading anything: the
    admin site's lazy user is read only if something already evaluated it."""
    user = request.__dict__.get("user")
    if type(user) is SimpleLazyObject:
        wrapped = user._wrapped  # type: ignore[attr-defined]  # the lazy object's own slot
        user = None if wrapped is empty else wrapped
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return f"{user._meta.model_name}:{user.pk}"


class ErrorEnvelopeMiddleware:
    """Rewrite an error response that is not JSON as the error envelope.

    The JSON handler views cover errors Django raises when DEBUG is off; this covers the
    rest: Django's DEBUG pages (an unknown URL during `make run`), bare 405s from plain
    views, and any other HTML error, so a client always gets the envelope.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if (
            response.status_code < 400
            or response.get("Content-Type", "").startswith("application/json")
            or request.path.startswith(HTML_PREFIXES)
        ):
            return response
        code, message = status_error(response.status_code)
        headers = {name: response[name] for name in _KEPT_HEADERS if response.has_header(name)}
        return error_response(response.status_code, code, message, headers=headers)


class BodySizeLimitMiddleware:
    """Refuse a request whose declared body is over `MAX_REQUEST_BYTES`, before reading it;
    and read what the view left unread of an admitted body before answering.

    A view may answer without reading the body: a 401 to an upload with a bad token, a 413
    to JSON over Django's 1 MiB. If the server then closed the connection with bytes
    unread, the kernel would reset it, and nginx, which is still sending it the body it
    buffered, would report its upstream failing (a 503) instead of the answer. What is
    left is at most `MAX_REQUEST_BYTES`, as nginx and this cap already allow an upload.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase | HttpResponse:
        length = request.META.get("CONTENT_LENGTH") or "0"
        # isascii: str.isdigit() also accepts digits such as "²" that int() refuses.
        if not (length.isascii() and length.isdigit()) or length == "0":
            return self.get_response(request)
        if int(length) > settings.MAX_REQUEST_BYTES:
            return error_response(413, ErrorCode.PAYLOAD_TOO_LARGE, "Request body too large")
        response = self.get_response(request)
        # Django's stream is limited to CONTENT_LENGTH, and empty once the view read it all.
        try:
            while request.read(64 * 1024):
                pass
        except UnreadablePostError:
            pass  # the client went away: nothing is left to read
        return response


# --- The admin site's middleware, for the admin site only ------------------------------

# The paths that use cookies: the Django admin site.
SITE_PREFIXES = ("/admin/",)


def _site_only(base: Any) -> Any:
    """`base` (a Django middleware the admin site needs: sessions, CSRF, auth, messages),
    run only for the admin site's paths.

    The API authenticates every request with a bearer token and never reads a cookie, so
    on its paths these cost time and do nothing: on the hot path they are passed by. They
    stay subclasses of Django's own, so the admin site's and Django's system checks (which
    look for them in MIDDLEWARE) still see them.
    """

    class SiteOnly(base):
        def __call__(self, request: HttpRequest) -> HttpResponseBase:
            if not request.path_info.startswith(SITE_PREFIXES):
                response: HttpResponseBase = self.get_response(request)
                return response
            return cast(HttpResponseBase, super().__call__(request))

        if hasattr(base, "process_view"):

            def process_view(self, request: HttpRequest, *args: Any) -> Any:
                if not request.path_info.startswith(SITE_PREFIXES):
                    return None
                return super().process_view(request, *args)

    SiteOnly.__name__ = SiteOnly.__qualname__ = base.__name__
    return SiteOnly


SessionMiddleware = _site_only(sessions_middleware.SessionMiddleware)
CsrfViewMiddleware = _site_only(csrf.CsrfViewMiddleware)
AuthenticationMiddleware = _site_only(auth_middleware.AuthenticationMiddleware)
MessageMiddleware = _site_only(messages_middleware.MessageMiddleware)
