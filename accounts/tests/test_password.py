"""POST /api/v1/users/me/password: change one's password; every other session ends."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import make_user
from config.testing import PASSWORD, assert_error, bearer, login, login_pair
from tokens.realms import USER

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_login_limit")]

URL = "/api/v1/users/me/password"
ME = "/api/v1/users/me"
NEW_PASSWORD = "a brand new passphrase 7"


@pytest.fixture
def ada() -> User:
    return make_user(username="adalovelace", email="quartzmonkey@example.com", name="Ada")


@pytest.fixture
def session(api: Any, ada: User) -> dict[str, Any]:
    """The login session that makes the request."""
    return login_pair(api, USER, "adalovelace")


@pytest.fixture
def other_session(api: Any, ada: User) -> dict[str, Any]:
    """Another login session of the same user (another device)."""
    return login_pair(api, USER, "quartzmonkey@example.com")


def _change(api: Any, session: dict[str, Any], **body: Any) -> Any:
    return api.post(URL, body, format="json", **bearer(session["access_token"]))


def _unchanged(user: User, hashed: str) -> bool:
    user.refresh_from_db()
    return user.password == hashed and user.check_password(PASSWORD)


# --- Success -----------------------------------------------------------------------------


def test_change_password_answers_200(api, session):
    response = _change(api, session, current_password=PASSWORD, new_password=NEW_PASSWORD)

    assert response.status_code == 200, response.content
    assert response.json()["success"] is True
    assert NEW_PASSWORD not in response.content.decode()


def test_after_a_change_the_new_password_logs_in_and_the_old_one_does_not(api, ada, session):
    assert (
        _change(api, session, current_password=PASSWORD, new_password=NEW_PASSWORD).status_code
        == 200
    )

    assert_error(login(api, USER, "adalovelace", PASSWORD), 401, "INVALID_CREDENTIALS")
    assert login(api, USER, "adalovelace", NEW_PASSWORD).status_code == 200
    ada.refresh_from_db()
    assert ada.check_password(NEW_PASSWORD)
    assert not ada.check_password(PASSWORD)


def test_the_session_that_changed_the_password_keeps_working(api, session):
    assert (
        _change(api, session, current_password=PASSWORD, new_password=NEW_PASSWORD).status_code
        == 200
    )

    assert api.get(ME, **bearer(session["access_token"])).status_code == 200
    refreshed = api.post(
        "/api/v1/auth/refresh", {"refresh_token": session["refresh_token"]}, format="json"
    )
    assert refreshed.status_code == 200, refreshed.content


def test_a_change_revokes_every_other_session_of_the_user_at_once(api, session, other_session):
    third = login_pair(api, USER, "ADALOVELACE")

    assert (
        _change(api, session, current_password=PASSWORD, new_password=NEW_PASSWORD).status_code
        == 200
    )

    for revoked in (other_session, third):
        assert_error(api.get(ME, **bearer(revoked["access_token"])), 401, "TOKEN_INVALID")
        refreshed = api.post(
            "/api/v1/auth/refresh", {"refresh_token": revoked["refresh_token"]}, format="json"
        )
        assert_error(refreshed, 401, "TOKEN_INVALID")


def test_a_change_leaves_other_users_sessions_alone(api, session):
    make_user(username="bob", email="bob@example.com")
    bob = login_pair(api, USER, "bob")

    assert (
        _change(api, session, current_password=PASSWORD, new_password=NEW_PASSWORD).status_code
        == 200
    )

    assert api.get(ME, **bearer(bob["access_token"])).status_code == 200
    assert login(api, USER, "bob", PASSWORD).status_code == 200


@pytest.mark.parametrize("length", [64, 200, 1024])
def test_a_long_new_passphrase_is_accepted_whole(api, session, length):
    passphrase = ("nine quiet lanterns over harbours " * 40)[: length - 1] + "Z"

    assert (
        _change(api, session, current_password=PASSWORD, new_password=passphrase).status_code == 200
    )

    assert_error(login(api, USER, "adalovelace", passphrase[:-1]), 401, "INVALID_CREDENTIALS")
    assert login(api, USER, "adalovelace", passphrase).status_code == 200


# --- Refused -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "current",
    ["not the password", PASSWORD.upper(), f" {PASSWORD}", ""],
    ids=["wrong", "upper-case", "leading-space", "empty"],
)
def test_a_wrong_current_password_is_a_400_and_changes_nothing(
    api, ada, session, other_session, current
):
    hashed = ada.password

    response = _change(api, session, current_password=current, new_password=NEW_PASSWORD)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert list(body["error"]["details"]) == ["current_password"]
    assert _unchanged(ada, hashed)
    assert api.get(ME, **bearer(other_session["access_token"])).status_code == 200
    assert api.get(ME, **bearer(session["access_token"])).status_code == 200


@pytest.mark.parametrize(
    ("new_password", "message"),
    [
        ("xq7#Lp2", "This password is too short. It must contain at least 8 characters."),
        ("password", "This password is too common."),
        ("12345678901", "This password is entirely numeric."),
        ("adalovelace", "The password is too similar to the username."),
        ("quartzmonkey", "The password is too similar to the email."),
        ("x" * 1025, "Ensure this field has no more than 1024 characters."),
    ],
    ids=["short", "common", "numeric", "like-username", "like-email", "over-1024"],
)
def test_a_weak_new_password_is_a_400_and_changes_nothing(
    api, ada, session, other_session, new_password, message
):
    hashed = ada.password

    response = _change(api, session, current_password=PASSWORD, new_password=new_password)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    details = body["error"]["details"]
    assert list(details) == ["new_password"]
    assert message in details["new_password"]
    assert _unchanged(ada, hashed)
    assert api.get(ME, **bearer(other_session["access_token"])).status_code == 200


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ({}, {"current_password", "new_password"}),
        ({"current_password": PASSWORD}, {"new_password"}),
        ({"new_password": NEW_PASSWORD}, {"current_password"}),
        ({"current_password": None, "new_password": None}, {"current_password", "new_password"}),
    ],
    ids=["empty", "no-new", "no-current", "nulls"],
)
def test_missing_fields_are_a_400_naming_each(api, ada, session, other_session, body, missing):
    hashed = ada.password

    response = api.post(URL, body, format="json", **bearer(session["access_token"]))

    details = assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]
    assert set(details) == missing
    assert _unchanged(ada, hashed)
    assert api.get(ME, **bearer(other_session["access_token"])).status_code == 200


def test_malformed_json_is_a_parse_error_and_changes_nothing(api, ada, session):
    hashed = ada.password

    response = api.post(
        URL,
        '{"current_password": ',
        content_type="application/json",
        **bearer(session["access_token"]),
    )

    assert_error(response, 400, "PARSE_ERROR")
    assert _unchanged(ada, hashed)


def test_change_password_without_credentials_is_401(api, ada):
    hashed = ada.password

    response = api.post(
        URL, {"current_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json"
    )

    assert_error(response, 401, "NOT_AUTHENTICATED")
    assert response["WWW-Authenticate"] == "Bearer"
    assert _unchanged(ada, hashed)


def test_a_revoked_session_cannot_change_the_password(api, ada, session, other_session):
    assert (
        _change(api, session, current_password=PASSWORD, new_password=NEW_PASSWORD).status_code
        == 200
    )

    response = _change(
        api, other_session, current_password=NEW_PASSWORD, new_password="yet another passphrase 9"
    )

    assert_error(response, 401, "TOKEN_INVALID")
    ada.refresh_from_db()
    assert ada.check_password(NEW_PASSWORD)


# --- Throttle ----------------------------------------------------------------------------


def test_password_changes_are_throttled(api, ada, session, settings):
    settings.RATE_LIMIT_ATTEMPTS = 2
    hashed = ada.password
    # Frozen, so that the window cannot roll over between the attempts.
    with time_machine.travel(timezone.now(), tick=False):
        for _ in range(2):
            wrong = _change(api, session, current_password="a guess", new_password=NEW_PASSWORD)
            assert_error(wrong, 400, "VALIDATION_ERROR")
        response = _change(api, session, current_password=PASSWORD, new_password=NEW_PASSWORD)

    body = assert_error(response, 429, "RATE_LIMITED")
    retry_after = body["error"]["details"]["retry_after"]
    assert int(response["Retry-After"]) == retry_after
    assert 1 <= retry_after <= 2 * 60 * settings.RATE_LIMIT_WINDOW_MINUTES
    assert _unchanged(ada, hashed)
