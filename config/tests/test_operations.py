"""`/health`, `/ready`, the OpenAPI document and Swagger UI."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings


def test_health_is_a_success_envelope(api):
    response = api.get("/health")

    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "Healthy", "data": {"status": "ok"}}


@pytest.mark.django_db
def test_ready_when_database_and_cache_answer(api):
    response = api.get("/ready")

    assert response.status_code == 200
    assert response.json()["data"] == {"database": "ok", "cache": "ok"}


@pytest.mark.django_db
def test_ready_is_503_naming_the_cache_when_it_is_unreachable(api, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }

    response = api.get("/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert set(body["error"]["details"]) == {"cache"}


def test_openapi_document_is_served(api):
    response = api.get("/api/schema?format=json")

    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["Bearer"]["scheme"] == "bearer"


def test_swagger_ui_is_served(api):
    response = api.get("/api/docs")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


# --- /api/schema: GET (and HEAD) only; every error is the JSON envelope, never a 500 ------

SCHEMA = "/api/schema"
DOCUMENT_PAGES = ["/api/schema", "/api/docs", "/api/redoc"]


def assert_envelope(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code


def test_the_schema_is_yaml_by_default(api):
    response = api.get(SCHEMA)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert response.content.startswith(b"openapi: 3.")


@pytest.mark.parametrize(
    ("query", "accept"),
    [("?format=json", None), ("", "application/json"), ("", "application/vnd.oai.openapi+json")],
)
def test_the_schema_is_json_when_asked_for(api, query, accept):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = api.get(SCHEMA + query, **headers)

    assert response.status_code == 200
    assert "json" in response["Content-Type"]
    assert response.json()["openapi"].startswith("3.")


def test_head_on_the_schema_is_its_headers_without_a_body(api):
    response = api.head(SCHEMA)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert response.content == b""


@pytest.mark.parametrize("path", DOCUMENT_PAGES)
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
def test_any_other_method_on_the_schema_and_docs_is_405(api_no_raise, path, method):
    response = getattr(api_no_raise, method)(path)

    assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "accept", ["application/xml", "text/html", "text/plain", "image/png", "application/yaml+xml"]
)
def test_an_accept_the_schema_cannot_serve_is_406(api_no_raise, accept):
    response = api_no_raise.get(SCHEMA, HTTP_ACCEPT=accept)

    assert_envelope(response, 406, "NOT_ACCEPTABLE")


@pytest.mark.parametrize("fmt", ["xml", "api", "html", "openapi", "bogus"])
def test_an_unknown_format_on_the_schema_is_406(api_no_raise, fmt):
    response = api_no_raise.get(f"{SCHEMA}?format={fmt}")

    assert_envelope(response, 406, "NOT_ACCEPTABLE")


def test_a_schema_error_is_json_even_for_a_client_that_accepts_only_yaml(api_no_raise):
    response = api_no_raise.post(SCHEMA, HTTP_ACCEPT="application/vnd.oai.openapi")

    assert_envelope(response, 405, "METHOD_NOT_ALLOWED")


@pytest.mark.parametrize("path", ["/api/docs", "/api/redoc"])
def test_the_docs_pages_are_html_and_refuse_what_they_cannot_serve(api_no_raise, path):
    page = api_no_raise.get(path, HTTP_ACCEPT="text/html")

    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    assert_envelope(api_no_raise.get(path, HTTP_ACCEPT="application/json"), 406, "NOT_ACCEPTABLE")
    assert_envelope(api_no_raise.get(f"{path}?format=json"), 406, "NOT_ACCEPTABLE")


def test_loading_the_wsgi_application_imports_the_urlconf_before_any_request():
    """So that gunicorn's master imports every view once, before it forks the workers."""
    program = "import sys, config.wsgi; print('accounts.views' in sys.modules)"
    result = subprocess.run(  # noqa: S603 (this interpreter, a fixed program)
        [sys.executable, "-c", program],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert result.stdout.split() == ["True"]
