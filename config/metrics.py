"""
Prometheus metrics: what they are, how a request is counted, and `/metrics`.

- `auth_events_total{realm,event}`: incremented by `tokens.events.event_record`, once the
  event's transaction has committed, so the counter matches the rows.
- `http_requests_total{method,route,status}` and `http_request_duration_seconds
  {method,route}`: recorded by `MetricsMiddleware`. `route` is the URL pattern the request
  matched (`/api/v1/admin/users/{id}`), never the raw path, so the label set stays bounded;
  a request that matched nothing is `unmatched`.

Under gunicorn every worker is a process of its own: with `PROMETHEUS_MULTIPROC_DIR` set
(read by prometheus-client when it is imported), each process writes its samples to files
in that folder and `/metrics` sums them, whichever worker answers (gunicorn.conf.py empties
the folder at start and marks dead workers). Without it (development), the process's own
default registry.
"""

from __future__ import annotations

import hmac
import os
import re
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from config.api.envelope import error_response
from config.api.exceptions import ErrorCode

# A process started before gunicorn made the folder (`manage.py` in a fresh container)
# writes its samples there too, and `/metrics` needs the folder to exist.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

AUTH_EVENTS = Counter(
    "auth_events", "Security events recorded, by realm and event.", ["realm", "event"]
)
HTTP_REQUESTS = Counter("http_requests", "HTTP requests answered.", ["method", "route", "status"])
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, in seconds.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

UNMATCHED = "unmatched"
# Methods outside these would each add a label value of the client's choosing.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# `(?P<pk>[0-9]+)` (the routers' regex patterns) and `<int:pk>` / `<name>` (path()).
_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_PATH_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")
# Path parameters as the contract spells them: `pk` is the resource's `{id}`.
_PARAMETER_NAMES = {"pk": "id"}
_routes: dict[str, str] = {}
# The labelled children of the HTTP metrics, by (method, route, status): bounded like the
# labels, and a dict lookup is cheaper than `labels()` on every request.
_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}


def _parameter(match: re.Match[str]) -> str:
    return "{" + _PARAMETER_NAMES.get(match[1], match[1]) + "}"


def route_label(route: str) -> str:
    """A resolver's route (`api/v1/admin/^users/(?P<pk>[0-9]+)$`) as an absolute pattern
    (`/api/v1/admin/users/{id}`). Computed once per pattern, then a dict lookup."""
    label = _routes.get(route)
    if label is None:
        label = _REGEX_GROUP.sub(_parameter, route).replace("^", "").replace("$", "")
        label = "/" + _PATH_CONVERTER.sub(_parameter, label).replace("\\", "")
        _routes[route] = label
    return label


class MetricsMiddleware:
    """Count every response and time it, labelled with the URL pattern it matched.

    The outermost middleware, so the time covers the whole stack. Its cost per request is
    two dict lookups and two metric updates (about 10 microseconds with multiprocess files).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = request.resolver_match
        route = route_label(match.route) if match is not None else UNMATCHED
        method = request.method if request.method in _METHODS else "OTHER"
        key = (method, route, str(response.status_code))
        children = _children.get(key)
        if children is None:
            children = _children[key] = (HTTP_REQUESTS.labels(*key), HTTP_DURATION.labels(*key[:2]))
        children[0].inc()
        children[1].observe(elapsed)
        return response


def registry() -> CollectorRegistry:
    """Every worker process's samples when running multiprocess, else this process's."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    collected = CollectorRegistry()
    multiprocess.MultiProcessCollector(collected)
    return collected


@csrf_exempt
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """The Prometheus text format, for a scraper holding `METRICS_TOKEN`.

    No token configured: the endpoint does not exist (404). A missing or wrong token: 401.
    The comparison takes the same time wherever the given token differs.
    """
    expected = settings.METRICS_TOKEN
    if not expected:
        return error_response(404, ErrorCode.NOT_FOUND, "Not found")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        return error_response(
            401,
            ErrorCode.NOT_AUTHENTICATED,
            "The metrics token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        return error_response(
            401, ErrorCode.TOKEN_INVALID, "Invalid token", headers={"WWW-Authenticate": "Bearer"}
        )
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
