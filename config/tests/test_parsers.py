"""The request parsers (`config.api.parsers`): JSON in, multipart only where a file is
uploaded, and a multipart body read as strictly as JSON (a field sent empty is blank, a body
with nothing readable is a parse error)."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import User
from admins.models import Admin
from config.testing import PASSWORD, assert_error, bearer
from tokens.models import Token
from tokens.realms import ADMIN, USER
from tokens.services import session_start
from tokens.tests.factories import make_account

pytestmark = pytest.mark.django_db

ME = "/api/v1/users/me"
REGISTER = "/api/v1/auth/register"
USERS = "/api/v1/admin/users"
TOKENS = "/api/v1/tokens"
BOUNDARY = "fuzzboundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


@pytest.fixture
def ada() -> User:
    return make_account(USER, username="ada", email="ada@example.com", name="Ada")


@pytest.fixture
def auth(ada: User) -> dict[str, str]:
    return bearer(session_start(owner=ada, ip="127.0.0.1", user_agent="test")["access_token"])


@pytest.fixture
def staff_auth() -> dict[str, str]:
    boss: Admin = make_account(ADMIN, username="boss", is_superuser=True)
    return bearer(session_start(owner=boss, ip="127.0.0.1", user_agent="test")["access_token"])


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


# --- JSON in; multipart only where a file is uploaded ---------------------------------


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


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("patch", "/api/v1/admin/me"),
        ("post", "/api/v1/admin/admins"),
        ("post", "/api/v1/admin/auth/refresh"),
    ],
)
def test_admin_endpoints_without_an_upload_take_json_only(api, staff_auth, method, path):
    response = getattr(api, method)(
        path, "name=x", content_type="application/x-www-form-urlencoded", **staff_auth
    )

    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("name=ci&scopes=read", "application/x-www-form-urlencoded"),
        (
            '--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nnull\r\n'
            '--b\r\nContent-Disposition: form-data; name="scopes"\r\n\r\nread\r\n--b--\r\n',
            "multipart/form-data; boundary=b",
        ),
    ],
    ids=["urlencoded", "multipart"],
)
def test_tokens_are_created_from_json_only(api, auth, data, content_type):
    # A multipart `name` of null arrived as the text "null", and became the token's name.
    response = api.generic("POST", TOKENS, data, content_type=content_type, **auth)

    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert not Token.objects.personal().exists()


# --- A multipart body, read as strictly as JSON ------------------------------------------


@pytest.mark.parametrize("field", ["username", "name", "email"])
def test_a_field_sent_empty_in_a_multipart_registration_is_blank_not_absent(api, field):
    response = api.generic(
        "POST", REGISTER, _multipart(_registration(**{field: ""})), content_type=MULTIPART
    )

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert field in body["error"]["details"]


@pytest.mark.parametrize("field", ["username", "name", "email"])
def test_a_field_sent_empty_in_a_multipart_user_update_is_blank_not_absent(
    api, staff_auth, ada, field
):
    body = f'--b\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n\r\n--b--\r\n'

    response = api.generic(
        "PATCH",
        f"{USERS}/{ada.pk}",
        body,
        content_type="multipart/form-data; boundary=b",
        **staff_auth,
    )

    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(error["error"]["details"]) == {field}
    ada.refresh_from_db()
    assert (ada.username, ada.name, ada.email) == ("ada", "Ada", "ada@example.com")


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


def test_a_multipart_user_update_with_nothing_readable_is_a_parse_error(api, staff_auth, ada):
    # What schemathesis sent for a JSON array body: Django read it as an empty form, and
    # the PATCH answered 200 without changing anything.
    response = api.generic(
        "PATCH",
        f"{USERS}/{ada.pk}",
        b"--b\r\n[None]--b--\r\n",
        content_type="multipart/form-data; boundary=b",
        **staff_auth,
    )

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
