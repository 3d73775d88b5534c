"""The user realm end to end, as a client sees it."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from accounts.models import User
from config.testing import assert_error, bearer

pytestmark = pytest.mark.django_db

PASSWORD = "a sturdy passphrase 42"


def test_register_login_me_refresh_logout(api):
    registered = api.post(
        "/api/v1/auth/register",
        {
            "username": "Ada",
            "name": "Ada Lovelace",
            "email": "Ada@Example.com",
            "password": PASSWORD,
        },
        format="json",
    )
    assert registered.status_code == 201, registered.content
    assert registered.json()["data"]["username"] == "Ada"

    by_name = api.post(
        "/api/v1/auth/login", {"username": "ada", "password": PASSWORD}, format="json"
    )
    assert by_name.status_code == 200
    assert by_name["Cache-Control"] == "no-store"
    pair = by_name.json()["data"]
    assert pair["token_type"] == "Bearer"
    assert pair["user"]["email"] == "Ada@Example.com"
    assert pair["expires_in"] == 3600

    by_email = api.post(
        "/api/v1/auth/login", {"username": "ADA@EXAMPLE.COM", "password": PASSWORD}, format="json"
    )
    assert by_email.status_code == 200

    me = api.get("/api/v1/users/me", **bearer(pair["access_token"]))
    assert me.status_code == 200
    assert me.json()["data"]["username"] == "Ada"

    refreshed = api.post(
        "/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json"
    )
    assert refreshed.status_code == 200
    assert refreshed["Cache-Control"] == "no-store"
    new_pair = refreshed.json()["data"]
    assert new_pair["refresh_token"] != pair["refresh_token"]

    assert api.get("/api/v1/users/me", **bearer(new_pair["access_token"])).status_code == 200

    logout = api.post("/api/v1/auth/logout", **bearer(new_pair["access_token"]))
    assert logout.status_code == 200

    assert_error(
        api.get("/api/v1/users/me", **bearer(new_pair["access_token"])), 401, "TOKEN_INVALID"
    )
    assert_error(api.get("/api/v1/users/me", **bearer(pair["access_token"])), 401, "TOKEN_INVALID")
    # The other session (the login by email) is untouched.
    other = by_email.json()["data"]["access_token"]
    assert api.get("/api/v1/users/me", **bearer(other)).status_code == 200
    assert User.objects.count() == 1


def test_login_accepts_form_encoded_bodies(api):
    api.post(
        "/api/v1/auth/register",
        {"username": "bob", "name": "Bob", "email": "bob@example.com", "password": PASSWORD},
        format="json",
    )

    response = api.post(
        "/api/v1/auth/login",
        urlencode({"username": "bob", "password": PASSWORD}),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert response.json()["data"]["user"]["username"] == "bob"
