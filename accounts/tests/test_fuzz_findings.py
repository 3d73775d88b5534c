"""Regression tests for what `scripts/fuzz.py` (schemathesis) found in the user realm."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from accounts.tests.factories import PASSWORD, make_user
from accounts.tests.helpers import assert_error, bearer
from tokens.services import session_start

pytestmark = pytest.mark.django_db

ME = "/api/v1/users/me"
REGISTER = "/api/v1/auth/register"
BOUNDARY = "fuzzboundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


@pytest.fixture
def ada() -> User:
    return make_user(username="ada", email="ada@example.com", name="Ada")


@pytest.fixture
def auth(ada: User) -> dict[str, str]:
    return bearer(session_start(owner=ada, ip="127.0.0.1", user_agent="test")["access_token"])


def _registration(**fields: Any) -> dict[str, Any]:
    return {
        "username": "grace",
        "name": "Grace",
        "email": "grace@example.com",
        "password": PASSWORD,
        **fields,
    }


def _multipart(fields: dict[str, str]) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    return ("".join(parts) + f"--{BOUNDARY}--\r\n").encode()


# --- A number where the schema says string ------------------------------------------------


@pytest.mark.parametrize("field", ["username", "name", "email"])
@pytest.mark.parametrize("value", [0, 12345, 1.5])
def test_a_number_is_not_a_string_in_a_profile_update(api, ada, auth, field, value):
    # DRF's CharField turned the JSON number 0 into the name "0" (schemathesis: a
    # schema-violating request accepted).
    response = api.patch(ME, {field: value}, format="json", **auth)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {field}
    ada.refresh_from_db()
    assert (ada.username, ada.name, ada.email) == ("ada", "Ada", "ada@example.com")


@pytest.mark.parametrize("field", ["username", "name", "email", "password", "phone"])
def test_a_number_is_not_a_string_in_a_registration(api, field):
    response = api.post(REGISTER, _registration(**{field: 4155550123}), format="json")

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert field in body["error"]["details"]
    assert not User.objects.filter(username="grace").exists()


def test_a_number_is_not_a_refresh_token(api):
    response = api.post("/api/v1/auth/refresh", {"refresh_token": 12345}, format="json")

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {"refresh_token"}


# --- Bodies: JSON, and multipart only where a file is uploaded ----------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("patch", ME),
        ("put", ME),
        ("delete", ME),
        ("post", "/api/v1/users/me/password"),
        ("post", "/api/v1/auth/refresh"),
    ],
)
@pytest.mark.parametrize("form", ["multipart", "urlencoded"])
def test_endpoints_without_an_upload_take_json_only(api, ada, auth, method, path, form):
    # A form cannot say null, a number or "sent, but empty" the way JSON does; DRF read an
    # empty `email=` in a PATCH form as "not sent" and answered 200 (API.md: JSON in).
    if form == "multipart":
        kwargs: dict[str, Any] = {"data": _multipart({"email": ""}), "content_type": MULTIPART}
    else:
        kwargs = {"data": "email=", "content_type": "application/x-www-form-urlencoded"}

    response = getattr(api, method)(path, **kwargs, **auth)

    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize("field", ["username", "name", "email"])
def test_a_field_sent_empty_in_a_multipart_registration_is_blank_not_absent(api, field):
    response = api.generic(
        "POST", REGISTER, _multipart(_registration(**{field: ""})), content_type=MULTIPART
    )

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert field in body["error"]["details"]


@pytest.mark.parametrize(
    "body",
    [
        b"--fuzzboundary\r\n[]--fuzzboundary--\r\n",  # what schemathesis sent for a JSON array
        b"--fuzzboundary\r\n\r\nno headers\r\n--fuzzboundary--\r\n",  # a part with no name
        b"not multipart at all",
    ],
    ids=["junk-part", "nameless-part", "no-delimiter"],
)
def test_a_multipart_body_with_nothing_readable_is_a_parse_error(api, auth, body):
    # Django's parser skips what it cannot read, so these were an empty form.
    response = api.generic("PUT", "/api/v1/users/me/avatar", body, content_type=MULTIPART, **auth)

    assert_error(response, 400, "PARSE_ERROR")


@pytest.mark.parametrize(
    "body",
    [
        b"--fuzzboundary--\r\n",
        # A form whose file input was left empty: Django skips the part.
        b"--fuzzboundary\r\n"
        b'Content-Disposition: form-data; name="avatar"; filename=""\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n\r\n--fuzzboundary--\r\n",
    ],
    ids=["no-part", "empty-file-input"],
)
def test_an_empty_multipart_form_is_still_an_empty_form(api, auth, body):
    response = api.generic("PUT", "/api/v1/users/me/avatar", body, content_type=MULTIPART, **auth)

    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(error["error"]["details"]) == {"avatar"}


# --- The OpenAPI document says what the server does ------------------------------------


@pytest.mark.parametrize("path", [ME, "/api/v1/users/me/avatar", "/api/v1/admin/me"])
def test_options_on_the_own_account_is_its_metadata_not_a_server_error(api, ada, auth, path):
    # DRF's metadata for OPTIONS looks the object up for PUT and PATCH, and the account's
    # own resource had no queryset to find it in: a 500 (schemathesis: server error).
    from admins.tests.factories import make_admin

    if path.startswith("/api/v1/admin/"):
        admin = make_admin()
        auth = bearer(session_start(owner=admin, ip="127.0.0.1", user_agent="test")["access_token"])

    response = api.options(path, **auth)

    assert response.status_code == 200, response.content
    assert response.json()["success"] is True


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    response = Client().get("/api/schema?format=json")
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def test_the_password_that_confirms_an_account_deletion_is_documented(document):
    operation = document["paths"][ME]["delete"]

    body = operation["requestBody"]
    assert body["required"] is True
    assert list(body["content"]) == ["application/json"]
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert document["components"]["schemas"][ref]["required"] == ["password"]
    assert {"400", "413", "415"} <= operation["responses"].keys()


def test_text_fields_document_what_drf_refuses_beyond_their_length(document):
    # DRF refuses a NUL character anywhere, and trims whitespace before `minLength`.
    properties = document["components"]["schemas"]["RegisterRequest"]["properties"]

    assert properties["username"]["pattern"] == r"^[\w.@+-]+$"  # its own validator's
    name = properties["name"]["pattern"]
    # Not only what DRF trims (Python's whitespace), and no NUL.
    assert name.startswith(r"^[^\u0000]*[^\u0009\u000a")
    assert name.endswith(r"\u0000][^\u0000]*$")
    assert re.search(name, "a")
    assert not re.search(name, "\x1f \u3000")
    assert properties["password"]["pattern"] == r"^[^\u0000]*$"  # never trimmed


@pytest.mark.parametrize(
    "value",
    [
        "\u0000",
        "a\u0000b",
        "   ",
        "\t\n",
        "\x1f",
        "\u001d",
        "\u001c\u001f",
        " \u0085 ",
        "\u0085\u3000",
    ],
)
def test_the_documented_patterns_are_what_the_server_refuses(api, auth, value):
    response = api.patch(ME, {"name": value}, format="json", **auth)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body["error"]["details"]) == {"name"}
