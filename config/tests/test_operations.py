"""`/health`, `/ready`, the OpenAPI document and Swagger UI."""

from __future__ import annotations

import pytest


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
