"""/api/v1/users/me: read, update (PATCH and PUT) and soft-delete one's own account."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import full_width, make_user
from accounts.tests.helpers import USER_FIELDS
from admins.tests.factories import make_admin
from admins.tests.helpers import admin_token
from config.testing import PASSWORD, assert_error, bearer, login, login_pair
from tokens.models import Token
from tokens.realms import USER
from tokens.services import session_start

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_login_limit")]

URL = "/api/v1/users/me"
PROFILE = ("username", "name", "email", "phone", "is_active", "deleted_at", "updated_at")


@pytest.fixture
def ada() -> User:
    return make_user(username="ada", email="ada@example.com", name="Ada", phone="+14155550123")


@pytest.fixture
def token(api: Any, ada: User) -> str:
    access: str = login_pair(api, USER, "ada")["access_token"]
    return access


def _snapshot(user: User) -> tuple[Any, ...]:
    user.refresh_from_db()
    return (*(getattr(user, field) for field in PROFILE), user.password)


# --- GET ---------------------------------------------------------------------------------


def test_get_returns_the_callers_own_account(api, ada, token):
    make_user(username="bob")

    response = api.get(URL, **bearer(token))

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert set(data) == USER_FIELDS
    assert data["id"] == ada.pk
    assert (data["username"], data["email"], data["name"], data["phone"]) == (
        "ada",
        "ada@example.com",
        "Ada",
        "+14155550123",
    )
    assert data["is_active"] is True
    assert "password" not in response.content.decode()
    assert ada.password not in response.content.decode()


# --- PATCH (and PUT, routed to the same partial update) ----------------------------------


@pytest.mark.parametrize(
    ("field", "sent", "stored"),
    [
        ("name", "Ada Lovelace", "Ada Lovelace"),
        ("username", "lovelace", "lovelace"),
        ("username", full_width("lovelace"), "lovelace"),
        ("email", "Countess@Example.org", "Countess@Example.org"),
        ("phone", "+44 20 7946 0958", "+442079460958"),
        ("phone", "0044 20 7946 0958", "+442079460958"),
        ("phone", "", None),
        ("phone", None, None),
    ],
    ids=[
        "name",
        "username",
        "username-full-width",
        "email",
        "phone",
        "phone-00-prefix",
        "phone-empty",
        "phone-null",
    ],
)
def test_update_changes_one_field_and_answers_the_new_representation(
    api, ada, token, field, sent, stored
):
    before = {name: getattr(ada, name) for name in ("username", "name", "email", "phone")}

    response = api.patch(URL, {field: sent}, format="json", **bearer(token))

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert set(data) == USER_FIELDS
    # A new email waits for its verification link (test_email_change.py).
    shown_as = "pending_email" if field == "email" else field
    assert data[shown_as] == stored
    ada.refresh_from_db()
    assert getattr(ada, shown_as) == stored
    for other, value in before.items():
        if other != field or field == "email":
            assert getattr(ada, other) == value


def test_update_changes_several_fields_at_once_and_moves_updated_at(api, ada, token):
    created = ada.updated_at

    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        response = api.patch(
            URL,
            {
                "username": "Countess",
                "name": "Augusta Ada King",
                "email": "countess@example.org",
                "phone": "+442079460958",
            },
            format="json",
            **bearer(token),
        )

    assert response.status_code == 200, response.content
    ada.refresh_from_db()
    assert (ada.username, ada.name, ada.email, ada.pending_email, ada.phone) == (
        "Countess",
        "Augusta Ada King",
        "ada@example.com",
        "countess@example.org",
        "+442079460958",
    )
    assert ada.updated_at > created
    shown = response.json()["data"]["updated_at"].replace("Z", "+00:00")
    assert datetime.fromisoformat(shown) == ada.updated_at


def test_update_with_an_empty_body_changes_nothing(api, ada, token):
    before = _snapshot(ada)[:4]

    response = api.patch(URL, {}, format="json", **bearer(token))

    assert response.status_code == 200, response.content
    assert _snapshot(ada)[:4] == before


# PUT takes PATCH's body and answers as PATCH does: the cases above run once, through PATCH;
# these show the PUT route reaches the same update, for a success and for each refusal.
def test_put_does_not_require_every_field(api, ada, token):
    response = api.put(URL, {"name": "Ada L."}, format="json", **bearer(token))

    assert response.status_code == 200, response.content
    ada.refresh_from_db()
    assert (ada.username, ada.name, ada.email, ada.phone) == (
        "ada",
        "Ada L.",
        "ada@example.com",
        "+14155550123",
    )


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [({"email": "not-an-email"}, 400, "VALIDATION_ERROR"), ({"username": "BOB"}, 409, "CONFLICT")],
    ids=["invalid", "taken"],
)
def test_put_refuses_what_patch_refuses_and_changes_nothing(api, ada, token, fields, status, code):
    make_user(username="bob", email="bob@example.com")
    before = _snapshot(ada)

    response = api.put(URL, {"name": "Should Not Stick", **fields}, format="json", **bearer(token))

    body = assert_error(response, status, code)
    assert list(body["error"]["details"]) == list(fields)
    assert _snapshot(ada) == before


@pytest.mark.parametrize("empty", ["", "   ", None], ids=["empty", "blank", "null"])
def test_two_users_may_both_clear_their_phone(api_no_raise, ada, empty):
    make_user(username="bob", email="bob@example.com", phone="+442079460958")
    for username in ("ada", "bob"):
        access = login_pair(api_no_raise, USER, username)["access_token"]

        response = api_no_raise.patch(URL, {"phone": empty}, format="json", **bearer(access))

        assert response.status_code == 200, response.content
        assert response.json()["data"]["phone"] is None
    assert list(User.objects.values_list("phone", flat=True)) == [None, None]


@pytest.mark.parametrize(
    ("field", "value"),
    [("username", "Ada"), ("username", "ADA"), ("email", "ADA@Example.COM")],
)
def test_changing_ones_own_username_or_email_only_in_case_is_allowed(api, ada, token, field, value):
    response = api.patch(URL, {field: value}, format="json", **bearer(token))

    assert response.status_code == 200, response.content
    assert response.json()["data"][field] == value
    ada.refresh_from_db()
    assert getattr(ada, field) == value


def test_setting_ones_own_phone_in_another_format_is_allowed(api, ada, token):
    response = api.patch(URL, {"phone": "001 415 555 0123"}, format="json", **bearer(token))

    assert response.status_code == 200, response.content
    ada.refresh_from_db()
    assert ada.phone == "+14155550123"


def test_a_new_username_logs_in_and_the_old_one_no_longer_does(api, ada, token):
    assert (
        api.patch(URL, {"username": "lovelace"}, format="json", **bearer(token)).status_code == 200
    )

    assert login(api, USER, "Lovelace").status_code == 200
    assert_error(login(api, USER, "ada"), 401, "INVALID_CREDENTIALS")


@pytest.mark.parametrize(
    ("fields", "taken"),
    [
        ({"username": "bob"}, {"username"}),
        ({"username": "BOB"}, {"username"}),
        ({"username": full_width("Bob")}, {"username"}),
        ({"email": "Bob@Example.COM"}, {"email"}),
        ({"phone": "0044 20 7946 0958"}, {"phone"}),
        ({"phone": "+44 (20) 7946-0958"}, {"phone"}),
        ({"username": "Bob", "email": "BOB@example.com"}, {"username", "email"}),
        (
            {"username": "bob", "email": "bob@example.com", "phone": "+442079460958"},
            {"username", "email", "phone"},
        ),
    ],
    ids=[
        "username",
        "username-upper",
        "username-full-width",
        "email-other-case",
        "phone-00-prefix",
        "phone-formatted",
        "username-and-email",
        "all-three",
    ],
)
def test_update_to_another_users_value_is_a_409_naming_the_field(api, ada, token, fields, taken):
    make_user(username="bob", email="bob@example.com", phone="+442079460958")
    before = _snapshot(ada)

    response = api.patch(
        URL, {"name": "Should Not Stick", **fields}, format="json", **bearer(token)
    )

    body = assert_error(response, 409, "CONFLICT")
    assert set(body["error"]["details"]) == taken
    assert _snapshot(ada) == before


def test_a_soft_deleted_users_username_stays_taken(api, ada, token):
    make_user(username="gone", email="gone@example.com", deleted_at=timezone.now())
    before = _snapshot(ada)

    body = assert_error(
        api.patch(URL, {"username": "Gone"}, format="json", **bearer(token)), 409, "CONFLICT"
    )

    assert list(body["error"]["details"]) == ["username"]
    assert _snapshot(ada) == before


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"username": "ab"}, "username"),
        ({"username": "a" * 151}, "username"),
        ({"username": "ada lovelace"}, "username"),
        ({"username": "ada!"}, "username"),
        ({"username": ""}, "username"),
        ({"username": None}, "username"),
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"email": None}, "email"),
        ({"phone": "12345"}, "phone"),
        ({"phone": "415 555 0123"}, "phone"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"name": "Ada\x00"}, "name"),
        ({"name": "Ada\u202e"}, "name"),
        ({"name": "a" * 151}, "name"),
        ({"name": "Valid Name", "email": "nope"}, "email"),
    ],
    ids=[
        "username-short",
        "username-long",
        "username-space",
        "username-bang",
        "username-empty",
        "username-null",
        "email-invalid",
        "email-empty",
        "email-null",
        "phone-invalid",
        "phone-no-country-code",
        "name-empty",
        "name-null",
        "name-nul",
        "name-rtl-override",
        "name-long",
        "valid-name-with-bad-email",
    ],
)
def test_update_with_an_invalid_value_is_a_400_and_changes_nothing(api, ada, token, fields, field):
    before = _snapshot(ada)

    response = api.patch(URL, fields, format="json", **bearer(token))

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert list(body["error"]["details"]) == [field]
    assert _snapshot(ada) == before


def test_update_ignores_fields_a_client_may_not_set(api, ada, token):
    response = api.patch(
        URL,
        {
            "name": "Ada L.",
            "id": 987654,
            "is_active": False,
            "is_superuser": True,
            "deleted_at": "2020-01-01T00:00:00Z",
            "failed_login_attempts": 99,
            "locked_until": "2099-01-01T00:00:00Z",
            "password": "a brand new password 1",
            "created_at": "2000-01-01T00:00:00Z",
        },
        format="json",
        **bearer(token),
    )

    assert response.status_code == 200, response.content
    assert response.json()["data"]["id"] == ada.pk
    assert response.json()["data"]["is_active"] is True
    pk = ada.pk
    ada.refresh_from_db()
    assert ada.pk == pk
    assert ada.name == "Ada L."
    assert ada.is_active is True
    assert ada.deleted_at is None
    assert ada.failed_login_attempts == 0
    assert ada.locked_until is None
    assert ada.check_password(PASSWORD)
    assert ada.created_at.year >= 2025
    assert not User.objects.filter(pk=987654).exists()
    assert api.get(URL, **bearer(token)).status_code == 200


def test_a_users_username_and_email_may_equal_an_admins(api, ada, token):
    make_admin(username="root", email="root@example.com")

    response = api.patch(
        URL, {"username": "Root", "email": "root@example.com"}, format="json", **bearer(token)
    )

    assert response.status_code == 200, response.content
    ada.refresh_from_db()
    assert (ada.username, ada.pending_email) == ("Root", "root@example.com")


def test_update_refuses_malformed_json(api, ada, token):
    before = _snapshot(ada)

    response = api.patch(URL, '{"name": ', content_type="application/json", **bearer(token))

    assert_error(response, 400, "PARSE_ERROR")
    assert _snapshot(ada) == before


# --- Profile update limit ----------------------------------------------------------------


def test_profile_updates_are_limited_per_account_whatever_they_answer(api, ada, token, settings):
    settings.PROFILE_UPDATE_RATE_LIMIT = "4/h"
    make_user(username="bob", email="bob@example.com", phone="+442079460958")
    probe = {"name": "Probed", "phone": "+442079460958"}
    # Frozen, so that the window cannot roll over between the attempts.
    with time_machine.travel(timezone.now(), tick=False):
        answers = [
            api.patch(URL, {"name": "Ada L"}, format="json", **bearer(token)).status_code,
            api.patch(URL, probe, format="json", **bearer(token)).status_code,
            api.put(URL, {"email": "not an address"}, format="json", **bearer(token)).status_code,
            api.put(URL, {"phone": "+442079460958"}, format="json", **bearer(token)).status_code,
        ]
        before = _snapshot(ada)
        refused = [
            api.patch(URL, {"name": "Renamed"}, format="json", **bearer(token)),
            api.put(URL, {"name": "Renamed"}, format="json", **bearer(token)),
            api.patch(URL, probe, format="json", **bearer(token)),
        ]

    assert answers == [200, 409, 400, 409]
    for response in refused:
        body = assert_error(response, 429, "RATE_LIMITED")
        assert int(response["Retry-After"]) == body["error"]["details"]["retry_after"] >= 1
    assert _snapshot(ada) == before
    assert ada.name == "Ada L"
    # Reading is not an update.
    assert api.get(URL, **bearer(token)).status_code == 200


def test_the_profile_update_limit_counts_every_session_of_the_account(api, ada, settings):
    settings.PROFILE_UPDATE_RATE_LIMIT = "1/h"
    first, second = (login_pair(api, USER, "ada")["access_token"] for _ in range(2))
    with time_machine.travel(timezone.now(), tick=False):
        assert api.patch(URL, {"name": "One"}, format="json", **bearer(first)).status_code == 200
        response = api.patch(URL, {"name": "Two"}, format="json", **bearer(second))

    assert_error(response, 429, "RATE_LIMITED")
    ada.refresh_from_db()
    assert ada.name == "One"


def test_the_profile_update_limit_of_one_account_leaves_others_alone(api, ada, token, settings):
    settings.PROFILE_UPDATE_RATE_LIMIT = "1/h"
    bob = make_user(username="bob", email="bob@example.com")
    bob_token = login_pair(api, USER, "bob")["access_token"]
    admin = make_admin(id=ada.pk, username="root")
    root_token = admin_token(api, admin)
    with time_machine.travel(timezone.now(), tick=False):
        assert api.patch(URL, {"name": "Once"}, format="json", **bearer(token)).status_code == 200
        assert_error(
            api.patch(URL, {"name": "Twice"}, format="json", **bearer(token)), 429, "RATE_LIMITED"
        )
        other = api.patch(URL, {"name": "Bob B"}, format="json", **bearer(bob_token))
        same_id_admin = api.patch(
            "/api/v1/admin/me", {"name": "Root R"}, format="json", **bearer(root_token)
        )

    assert other.status_code == 200, other.content
    assert same_id_admin.status_code == 200, same_id_admin.content
    bob.refresh_from_db()
    admin.refresh_from_db()
    assert (bob.name, admin.name) == ("Bob B", "Root R")


# --- DELETE ------------------------------------------------------------------------------


def test_delete_with_the_password_soft_deletes_the_account(api, ada, token):
    response = api.delete(URL, {"password": PASSWORD}, format="json", **bearer(token))

    assert response.status_code == 200, response.content
    assert response.json()["success"] is True
    ada.refresh_from_db()
    assert ada.deleted_at is not None
    assert abs(ada.deleted_at - timezone.now()) < timedelta(minutes=1)
    assert User.objects.filter(pk=ada.pk).exists()


def test_delete_revokes_every_session_of_the_user_at_once(api, ada, token):
    other_session = login_pair(api, USER, "ada@example.com")

    assert (
        api.delete(URL, {"password": PASSWORD}, format="json", **bearer(token)).status_code == 200
    )

    assert_error(api.get(URL, **bearer(token)), 401, "TOKEN_INVALID")
    assert_error(api.get(URL, **bearer(other_session["access_token"])), 401, "TOKEN_INVALID")
    refreshed = api.post(
        "/api/v1/auth/refresh", {"refresh_token": other_session["refresh_token"]}, format="json"
    )
    assert_error(refreshed, 401, "TOKEN_INVALID")
    assert not Token.objects.filter(user=ada, revoked_at__isnull=True).exists()


def test_delete_leaves_other_users_sessions_alone(api, ada, token):
    make_user(username="bob", email="bob@example.com")
    bob = login_pair(api, USER, "bob")["access_token"]

    assert (
        api.delete(URL, {"password": PASSWORD}, format="json", **bearer(token)).status_code == 200
    )

    assert api.get(URL, **bearer(bob)).status_code == 200


def test_a_deleted_user_can_no_longer_log_in(api, ada, token):
    assert (
        api.delete(URL, {"password": PASSWORD}, format="json", **bearer(token)).status_code == 200
    )

    assert_error(login(api, USER, "ada"), 401, "INVALID_CREDENTIALS")
    assert_error(login(api, USER, "ada@example.com"), 401, "INVALID_CREDENTIALS")


@pytest.mark.parametrize(
    "body",
    [{"password": "not the password"}, {"password": PASSWORD.upper()}, {"password": ""}],
    ids=["wrong", "wrong-case", "empty"],
)
def test_delete_with_a_wrong_password_changes_nothing(api, ada, token, body):
    other = login_pair(api, USER, "ada")["access_token"]
    before = _snapshot(ada)

    response = api.delete(URL, body, format="json", **bearer(token))

    assert_error(response, 400, "VALIDATION_ERROR")
    assert list(response.json()["error"]["details"]) == ["password"]
    assert _snapshot(ada) == before
    assert ada.deleted_at is None
    assert api.get(URL, **bearer(token)).status_code == 200
    assert api.get(URL, **bearer(other)).status_code == 200


def test_delete_without_a_body_is_a_400_naming_the_password(api, ada, token):
    before = _snapshot(ada)

    response = api.delete(URL, **bearer(token))

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert list(body["error"]["details"]) == ["password"]
    assert _snapshot(ada) == before
    assert api.get(URL, **bearer(token)).status_code == 200


def test_delete_is_throttled_like_a_password_check(api, ada, token, settings):
    settings.RATE_LIMIT_ATTEMPTS = 2
    # Frozen, so that the window cannot roll over between the attempts.
    with time_machine.travel(timezone.now(), tick=False):
        for _ in range(2):
            wrong = api.delete(URL, {"password": "guess"}, format="json", **bearer(token))
            assert_error(wrong, 400, "VALIDATION_ERROR")
        response = api.delete(URL, {"password": PASSWORD}, format="json", **bearer(token))

    body = assert_error(response, 429, "RATE_LIMITED")
    assert int(response["Retry-After"]) == body["error"]["details"]["retry_after"] >= 1
    ada.refresh_from_db()
    assert ada.deleted_at is None


# --- Authentication ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "patch", "put", "delete"])
def test_me_without_credentials_is_401_not_authenticated(api, ada, method):
    before = _snapshot(ada)

    response = getattr(api, method)(URL, {"name": "X", "password": PASSWORD}, format="json")

    assert_error(response, 401, "NOT_AUTHENTICATED")
    assert response["WWW-Authenticate"] == "Bearer"
    assert _snapshot(ada) == before


@pytest.mark.parametrize("method", ["get", "patch", "put", "delete"])
def test_me_with_a_garbage_token_is_401_token_invalid(api, ada, method):
    before = _snapshot(ada)

    response = getattr(api, method)(
        URL, {"name": "X", "password": PASSWORD}, format="json", **bearer("not.a.jwt")
    )

    assert_error(response, 401, "TOKEN_INVALID")
    assert _snapshot(ada) == before


def test_an_admins_token_is_forbidden_on_users_me(api):
    admin = make_admin(username="ada", email="ada@example.com")
    access = session_start(owner=admin, ip="127.0.0.1", user_agent="")["access_token"]

    assert_error(api.get(URL, **bearer(access)), 403, "FORBIDDEN")
    assert_error(api.patch(URL, {"name": "X"}, format="json", **bearer(access)), 403, "FORBIDDEN")
    admin.refresh_from_db()
    assert admin.name != "X"


@pytest.mark.parametrize(
    "path", ["/api/v1/users/me", "/api/v1/users/me/avatar", "/api/v1/users/me/password"]
)
def test_options_on_the_account_describes_it(api, token, path):
    response = api.options(path, **bearer(token))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True
    assert "application/json" in body["data"]["renders"]


@pytest.mark.parametrize("path", [URL, f"{URL}/avatar", "/api/v1/admin/me"])
def test_options_on_the_own_account_is_its_metadata_not_a_server_error(api, token, path):
    # DRF's metadata for OPTIONS looks the object up for PUT and PATCH, and the account's
    # own resource had no queryset to find it in: a 500 (schemathesis: server error).
    auth = bearer(admin_token(api, make_admin()) if path.startswith("/api/v1/admin/") else token)

    response = api.options(path, **auth)

    assert response.status_code == 200, response.content
    assert response.json()["success"] is True
