"""CORS: browsers on the configured origins may call /api/ (never with credentials); with
no origin configured the middleware is not installed at all."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import override_settings

from config.testing import assert_error, settings_in_a_fresh_process

pytestmark = pytest.mark.django_db

CORS = "corsheaders.middleware.CorsMiddleware"
APP = "https://app.example"


def _with_cors() -> list[str]:
    """The middleware as the settings put it when an origin is configured."""
    middleware = [name for name in settings.MIDDLEWARE if name != CORS]
    middleware.insert(middleware.index("config.api.middleware.ErrorEnvelopeMiddleware"), CORS)
    return middleware


def _middleware_with(**env: str) -> list[str]:
    return settings_in_a_fresh_process("' '.join(s.MIDDLEWARE)", env={"DEBUG": "true", **env})


def test_the_middleware_is_installed_only_when_an_origin_is_configured():
    assert CORS not in _middleware_with(CORS_ALLOWED_ORIGINS="")
    assert _middleware_with(CORS_ALLOWED_ORIGINS=APP) == _with_cors()


def test_without_origins_a_cross_origin_request_gets_no_cors_header(api):
    response = api.get("/health", HTTP_ORIGIN=APP)

    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response
    assert CORS not in settings.MIDDLEWARE


@pytest.fixture
def cors():
    with override_settings(MIDDLEWARE=_with_cors(), CORS_ALLOWED_ORIGINS=[APP]):
        yield


@pytest.mark.usefixtures("cors")
def test_a_preflight_from_a_configured_origin_is_allowed_without_credentials(api):
    response = api.options(
        "/api/v1/auth/login",
        HTTP_ORIGIN=APP,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    assert "authorization" in response["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in response


@pytest.mark.usefixtures("cors")
def test_an_error_envelope_to_a_configured_origin_carries_the_cors_header(api):
    response = api.get("/api/v1/users/me", HTTP_ORIGIN=APP)

    assert_error(response, 401, "NOT_AUTHENTICATED")
    assert response["Access-Control-Allow-Origin"] == APP


@pytest.mark.usefixtures("cors")
def test_another_origin_and_paths_outside_the_api_get_no_cors_header(api):
    assert "Access-Control-Allow-Origin" not in api.get(
        "/api/v1/users/me", HTTP_ORIGIN="https://evil.example"
    )
    assert "Access-Control-Allow-Origin" not in api.get("/health", HTTP_ORIGIN=APP)
