"""Regression tests for what `scripts/fuzz.py` (schemathesis) found in the admin realm."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import User
from accounts.tests.factories import make_user
from admins.models import Admin
from admins.tests.factories import make_admin
from config.testing import assert_error, bearer
from tokens.services import session_start

pytestmark = pytest.mark.django_db

USERS = "/api/v1/admin/users"
MULTIPART = "multipart/form-data; boundary=b"


@pytest.fixture
def boss() -> Admin:
    return make_admin(username="boss", is_superuser=True)


@pytest.fixture
def auth(boss: Admin) -> dict[str, str]:
    return bearer(session_start(owner=boss, ip="127.0.0.1", user_agent="test")["access_token"])


@pytest.fixture
def ada() -> User:
    return make_user(username="ada", email="ada@example.com", name="Ada", is_active=False)


def _usernames(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return sorted(item["username"] for item in response.json()["data"]["items"])


# --- The user list's query parameters ----------------------------------------------------


@pytest.mark.parametrize("parameter", ["ordering", "deleted", "is_active", "is_locked"])
def test_a_filter_sent_empty_is_a_validation_error(api, auth, ada, parameter):
    # `?ordering=` and `?deleted=` meant the default, `?is_active=` no filter: values the
    # document does not allow, accepted (schemathesis: schema-violating request accepted).
    response = api.get(USERS, {parameter: ""}, **auth)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {parameter}


@pytest.mark.parametrize("value", ["1", "0", "yes", "True", "null", "on"])
def test_a_boolean_filter_is_true_or_false(api, auth, ada, value):
    response = api.get(USERS, {"is_active": value}, **auth)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {"is_active"}


def test_boolean_filters_still_filter_and_are_optional(api, auth, ada):
    make_user(username="bob")

    assert _usernames(api.get(USERS, {"is_active": "false"}, **auth)) == ["ada"]
    assert _usernames(api.get(USERS, {"is_active": "true"}, **auth)) == ["bob"]
    assert _usernames(api.get(USERS, **auth)) == ["ada", "bob"]


def test_an_empty_search_filters_nothing(api, auth, ada):
    # The document said `minLength: 1` while the server took `?search=` as no search.
    assert _usernames(api.get(USERS, {"search": ""}, **auth)) == ["ada"]


def test_a_nul_in_a_search_is_refused_and_documented(api, auth, ada):
    response = api.get(USERS, {"search": "a\x00"}, **auth)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {"search"}
    document = api.get("/api/schema?format=json").json()
    (search,) = [
        parameter
        for parameter in document["paths"][USERS]["get"]["parameters"]
        if parameter["name"] == "search"
    ]
    assert search["schema"]["oneOf"][0]["pattern"] == r"^[^\u0000]+$"


# --- Bodies ------------------------------------------------------------------------------


def test_a_multipart_user_update_with_nothing_readable_is_a_parse_error(api, auth, ada):
    # What schemathesis sent for a JSON array body: Django read it as an empty form, and
    # the PATCH answered 200 without changing anything.
    response = api.generic(
        "PATCH", f"{USERS}/{ada.pk}", b"--b\r\n[None]--b--\r\n", content_type=MULTIPART, **auth
    )

    assert_error(response, 400, "PARSE_ERROR")


@pytest.mark.parametrize("field", ["username", "name", "email"])
def test_a_field_sent_empty_in_a_multipart_user_update_is_blank_not_absent(api, auth, ada, field):
    body = f'--b\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n\r\n--b--\r\n'

    response = api.generic("PATCH", f"{USERS}/{ada.pk}", body, content_type=MULTIPART, **auth)

    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(error["error"]["details"]) == {field}
    ada.refresh_from_db()
    assert (ada.username, ada.name, ada.email) == ("ada", "Ada", "ada@example.com")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("patch", "/api/v1/admin/me"),
        ("post", "/api/v1/admin/admins"),
        ("post", "/api/v1/admin/auth/refresh"),
    ],
)
def test_admin_endpoints_without_an_upload_take_json_only(api, auth, method, path):
    response = getattr(api, method)(
        path, "name=x", content_type="application/x-www-form-urlencoded", **auth
    )

    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize("value", [0, True, ["boss"]])
def test_an_admin_name_must_be_a_string(api, auth, boss, value):
    response = api.patch("/api/v1/admin/me", {"name": value}, format="json", **auth)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {"name"}
