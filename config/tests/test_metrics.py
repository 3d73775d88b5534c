"""/metrics: behind METRICS_TOKEN; the event counter moves with committed events only; the
HTTP metrics are labelled with URL patterns, never raw paths. (Across gunicorn's worker
processes: scripts/metrics.py.)"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import transaction
from django.http import HttpResponse
from django.test import Client
from django.urls import resolve
from prometheus_client.parser import text_string_to_metric_families

from accounts.tests.factories import make_user
from admins.tests.factories import make_admin
from admins.tests.helpers import admin_token
from config.metrics import UNMATCHED, MetricsMiddleware, route_label
from config.testing import assert_error, bearer, login, login_pair
from tokens.events import event_record
from tokens.models import EventName
from tokens.realms import USER

pytestmark = pytest.mark.django_db

TOKEN = "metrics-scrape-token-for-tests"


@pytest.fixture
def metrics_token(settings: Any) -> str:
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, keyed by (name, sorted labels)."""
    response = client.get("/metrics", **bearer(TOKEN))
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# --- The token ----------------------------------------------------------------------------


def test_without_a_configured_token_metrics_is_a_404(api, settings):
    settings.METRICS_TOKEN = ""

    assert_error(api.get("/metrics", **bearer("anything")), 404, "NOT_FOUND")


def test_without_a_token_or_with_a_wrong_one_metrics_is_a_401(api, metrics_token):
    missing = assert_error(api.get("/metrics"), 401, "NOT_AUTHENTICATED")
    wrong = api.get("/metrics", **bearer(TOKEN + "x"))
    basic = api.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}")

    assert missing is not None
    assert_error(wrong, 401, "TOKEN_INVALID")
    assert_error(basic, 401, "NOT_AUTHENTICATED")
    assert wrong["WWW-Authenticate"] == "Bearer"


def test_a_session_token_is_not_the_metrics_token(api, metrics_token):
    make_user(username="ada")

    response = api.get("/metrics", **bearer(login_pair(api, USER, "ada")["access_token"]))

    assert_error(response, 401, "TOKEN_INVALID")


def test_only_reads_are_allowed(api, metrics_token):
    response = api.post("/metrics", **bearer(TOKEN))

    assert_error(response, 405, "METHOD_NOT_ALLOWED")


# --- auth_events_total ------------------------------------------------------------------


def test_the_event_counter_moves_with_each_committed_event(
    api, metrics_token, django_capture_on_commit_callbacks
):
    make_user(username="ada")
    before = scrape(api)

    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            login(api, USER, "ada", "not the password")
    with django_capture_on_commit_callbacks(execute=True):
        login(api, USER, "nobody", "not the password")

    after = scrape(api)
    failed = {"realm": "user", "event": "login_failed"}
    assert (
        value(after, "auth_events_total", **failed) - value(before, "auth_events_total", **failed)
        == 4
    )


def test_an_event_that_rolls_back_is_not_counted(
    api, metrics_token, django_capture_on_commit_callbacks
):
    labels = {"realm": "user", "event": "account_secured"}
    before = value(scrape(api), "auth_events_total", **labels)

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError, match="rolled back"),
    ):
        _record_then_fail()

    assert callbacks == []
    assert value(scrape(api), "auth_events_total", **labels) == before


def _record_then_fail() -> None:
    with transaction.atomic():
        event_record(event=EventName.ACCOUNT_SECURED, realm=USER)
        raise RuntimeError("rolled back")


# --- HTTP metrics ---------------------------------------------------------------------


def test_requests_are_counted_by_method_route_pattern_and_status(api, metrics_token):
    root = make_admin(username="root", is_superuser=True)
    ada = make_user(username="ada")
    auth = bearer(admin_token(api, root))
    route = "/api/v1/admin/users/{id}"
    before = scrape(api)

    api.get(f"/api/v1/admin/users/{ada.pk}", **auth)
    api.get(f"/api/v1/admin/users/{ada.pk + 1000}", **auth)
    api.get("/health")
    api.get("/no/such/path/12345")

    after = scrape(api)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("http_requests_total", method="GET", route=route, status="200") == 1
    assert moved("http_requests_total", method="GET", route=route, status="404") == 1
    assert moved("http_requests_total", method="GET", route="/health", status="200") == 1
    assert moved("http_requests_total", method="GET", route=UNMATCHED, status="404") == 1
    assert moved("http_request_duration_seconds_count", method="GET", route=route) == 2
    # No label ever holds a raw path.
    routes = {dict(labels).get("route") for _, labels in after}
    assert not routes & {f"/api/v1/admin/users/{ada.pk}", "/no/such/path/12345"}
    assert not any("12345" in (route or "") for route in routes)


@pytest.mark.parametrize(
    ("route", "label"),
    [
        ("health", "/health"),
        ("api/v1/users/me", "/api/v1/users/me"),
        ("api/v1/admin/^users/(?P<pk>[0-9]+)$", "/api/v1/admin/users/{id}"),
        ("api/v1/admin/^users/(?P<pk>[0-9]+)/block$", "/api/v1/admin/users/{id}/block"),
        ("api/v1/^tokens/(?P<pk>[0-9]+)$", "/api/v1/tokens/{id}"),
        ("^uploads/(?P<name>[^/]+)$", "/uploads/{name}"),
        (
            "admin/accounts/user/<path:object_id>/change/",
            "/admin/accounts/user/{object_id}/change/",
        ),
    ],
)
def test_a_route_is_its_pattern_with_named_parameters(route, label):
    assert route_label(route) == label


def test_an_unknown_method_is_one_label(metrics_token):
    client = Client()
    before = scrape(client)

    client.generic("BREW", "/health")

    moved = value(
        scrape(client), "http_requests_total", method="OTHER", route="/health", status="405"
    )
    assert (
        moved - value(before, "http_requests_total", method="OTHER", route="/health", status="405")
        == 1
    )


def test_the_middleware_costs_microseconds_a_request(rf):
    """Its own cost, in process, around a view that does nothing: the best of five runs,
    so a busy machine cannot fail it (it measures about 10 microseconds; the README has the
    figures). A request through the whole stack costs a millisecond or more."""
    request = rf.get("/api/v1/users/me")
    request.resolver_match = resolve("/api/v1/users/me")
    response = HttpResponse()

    def view(request: Any) -> HttpResponse:
        return response

    measured = MetricsMiddleware(view)
    rounds = 2000

    def best(call: Any) -> float:
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(rounds):
                call(request)
            runs.append((time.perf_counter() - started) / rounds)
        return min(runs)

    overhead = best(measured) - best(view)

    assert overhead < 0.0001, f"{overhead * 1e6:.1f} microseconds"
