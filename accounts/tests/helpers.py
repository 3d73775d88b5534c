"""Helpers for the user realm's HTTP tests."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from accounts.tests.factories import PASSWORD


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is an error envelope with this status and `error.code`."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code, body
    return body


def login(api: APIClient, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    return api.post(
        "/api/v1/auth/login", {"username": username, "password": password}, format="json", **extra
    )


def login_pair(api: APIClient, username: str, password: str = PASSWORD) -> dict[str, Any]:
    response = login(api, username, password)
    assert response.status_code == 200, response.content
    data: dict[str, Any] = response.json()["data"]
    return data


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}
