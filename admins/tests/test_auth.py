"""The admin realm's authentication: login, refresh, logout, /admin/me, lockout, rate limits,
and the wall between the two realms."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import make_user
from admins.models import Admin
from admins.tests.factories import make_admin
from admins.tests.helpers import (
    ADMIN_FIELDS,
    LOCKOUT_FIELDS,
    admin_token,
    stored,
    token_rows,
    user_token,
)
from config.testing import PASSWORD, assert_error, bearer, login, login_pair
from tokens.models import Token
from tokens.realms import ADMIN, USER

pytestmark = pytest.mark.django_db

WRONG = "not the password"
ME = "/api/v1/admin/me"
REFRESH = "/api/v1/admin/auth/refresh"
LOGOUT = "/api/v1/admin/auth/logout"
PAIR_FIELDS = {"access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in"}


@pytest.fixture
def generous_limit(settings: Any) -> None:
    """For tests that log in more often than the per-IP limit allows."""
    settings.RATE_LIMIT_ATTEMPTS = 100


@pytest.fixture
def root() -> Admin:
    return make_admin(username="root", email="Root@Example.com", name="Root", phone="+14155550100")


@pytest.fixture
def ada() -> User:
    return make_user(username="ada", email="ada@example.com")


# --- Login -------------------------------------------------------------------------------


def test_admin_login_by_username_answers_the_token_pair_and_the_admin(api, root):
    response = login(api, ADMIN, "root")

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    data = response.json()["data"]
    assert set(data) == {*PAIR_FIELDS, "admin"}
    assert data["token_type"] == "Bearer"
    admin = data["admin"]
    assert set(admin) == ADMIN_FIELDS
    assert not LOCKOUT_FIELDS & set(admin)
    assert (admin["id"], admin["username"], admin["email"], admin["phone"]) == (
        root.pk,
        "root",
        "Root@Example.com",
        "+14155550100",
    )
    assert (admin["is_active"], admin["is_superuser"], admin["avatar_url"]) == (True, False, None)
    assert admin["created_at"].endswith("Z")
    body = response.content.decode()
    assert "password" not in body
    assert root.password not in body
    session = Token.objects.get()
    assert (session.kind, session.admin_id, session.user_id) == ("session", root.pk, None)


@pytest.mark.parametrize("identifier", ["Root@Example.com", "root@example.com", "ROOT@EXAMPLE.COM"])
def test_admin_login_by_email_in_any_case(api, root, identifier):
    response = login(api, ADMIN, identifier)

    assert response.status_code == 200
    assert response.json()["data"]["admin"]["id"] == root.pk


def test_admin_login_by_username_in_another_case(api, root):
    assert login(api, ADMIN, "ROOT").json()["data"]["admin"]["id"] == root.pk


def test_admin_login_with_a_wrong_password_counts_a_failure_and_issues_nothing(api, root):
    assert_error(login(api, ADMIN, "root", WRONG), 401, "INVALID_CREDENTIALS")

    root.refresh_from_db()
    assert root.failed_login_attempts == 1
    assert Token.objects.count() == 0


def test_admin_login_for_an_unknown_admin_is_invalid_credentials(api, root):
    assert_error(login(api, ADMIN, "nobody"), 401, "INVALID_CREDENTIALS")

    assert Token.objects.count() == 0


def test_a_soft_deleted_admin_cannot_log_in(api):
    gone = make_admin(username="gone", deleted_at=timezone.now())
    before = stored(gone)

    assert_error(login(api, ADMIN, "gone"), 401, "INVALID_CREDENTIALS")

    assert stored(gone) == before
    assert Token.objects.count() == 0


def test_a_successful_admin_login_resets_the_failure_count(api, root):
    login(api, ADMIN, "root", WRONG)

    assert login(api, ADMIN, "root").status_code == 200

    root.refresh_from_db()
    assert (root.failed_login_attempts, root.locked_until) == (0, None)
    assert root.last_login is not None


# --- Refresh and logout ------------------------------------------------------------------


def test_admin_refresh_rotates_the_refresh_token_and_answers_the_admin(api, root):
    pair = login_pair(api, ADMIN, "root")

    response = api.post(REFRESH, {"refresh_token": pair["refresh_token"]}, format="json")

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    data = response.json()["data"]
    assert set(data) == {*PAIR_FIELDS, "admin"}
    assert data["admin"]["id"] == root.pk
    assert set(data["admin"]) == ADMIN_FIELDS
    assert api.get(ME, **bearer(data["access_token"])).status_code == 200
    assert Token.objects.count() == 1


def test_a_rotated_away_admin_refresh_token_is_refused_and_revokes_the_session(api, root):
    pair = login_pair(api, ADMIN, "root")
    new = api.post(REFRESH, {"refresh_token": pair["refresh_token"]}, format="json")
    newest = new.json()["data"]

    reused = api.post(REFRESH, {"refresh_token": pair["refresh_token"]}, format="json")

    assert_error(reused, 401, "TOKEN_INVALID")
    assert_error(api.get(ME, **bearer(newest["access_token"])), 401, "TOKEN_INVALID")


def test_admin_logout_revokes_the_session_at_once(api, root):
    pair = login_pair(api, ADMIN, "root")

    response = api.post(LOGOUT, **bearer(pair["access_token"]))

    assert response.status_code == 200
    assert response.json()["success"] is True
    assert Token.objects.get().revoked_at is not None
    assert_error(api.get(ME, **bearer(pair["access_token"])), 401, "TOKEN_INVALID")
    refreshed = api.post(REFRESH, {"refresh_token": pair["refresh_token"]}, format="json")
    assert_error(refreshed, 401, "TOKEN_INVALID")


def test_admin_logout_revokes_only_the_session_making_the_request(api, root, generous_limit):
    first = login_pair(api, ADMIN, "root")
    second = login_pair(api, ADMIN, "root")

    api.post(LOGOUT, **bearer(first["access_token"]))

    assert api.get(ME, **bearer(second["access_token"])).status_code == 200


def test_admin_logout_without_a_token_is_not_authenticated(api, root):
    login_pair(api, ADMIN, "root")
    before = token_rows()

    response = api.post(LOGOUT)

    assert_error(response, 401, "NOT_AUTHENTICATED")
    assert response["WWW-Authenticate"] == "Bearer"
    assert token_rows() == before


# --- /admin/me ---------------------------------------------------------------------------


def test_get_admin_me_returns_the_calling_admin(api, root):
    make_admin(username="other")
    token = admin_token(api, root)

    response = api.get(ME, **bearer(token))

    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) == ADMIN_FIELDS
    assert (data["id"], data["username"], data["name"]) == (root.pk, "root", "Root")


def test_admin_me_without_a_token_is_not_authenticated(api):
    assert_error(api.get(ME), 401, "NOT_AUTHENTICATED")


def test_patch_admin_me_updates_the_profile_and_ignores_fields_no_client_may_set(api, root):
    token = admin_token(api, root)
    body = {
        "username": "Rooty",
        "name": "Root Admin",
        "email": "rooty@example.com",
        "phone": "+1 415 555 0199",
        "is_superuser": True,
        "is_active": False,
        "failed_login_attempts": 9,
    }

    response = api.patch(ME, body, format="json", **bearer(token))

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert (data["username"], data["name"], data["pending_email"], data["phone"]) == (
        "Rooty",
        "Root Admin",
        "rooty@example.com",
        "+14155550199",
    )
    assert data["email"] == root.email  # until the link mailed to the new one is used
    root.refresh_from_db()
    assert (root.username, root.phone) == ("Rooty", "+14155550199")
    assert (root.is_superuser, root.is_active, root.failed_login_attempts) == (False, True, 0)


@pytest.mark.parametrize(
    ("field", "value"), [("username", "TAKEN"), ("email", "Taken@EXAMPLE.com")]
)
def test_patch_admin_me_with_a_value_another_admin_holds_in_any_case_is_409(
    api, root, field, value
):
    make_admin(username="taken", email="taken@example.com")
    token = admin_token(api, root)
    before = stored(root)

    response = api.patch(ME, {field: value}, format="json", **bearer(token))

    body = assert_error(response, 409, "CONFLICT")
    assert body["error"]["details"] == {field: [f"This {field} is already taken."]}
    assert stored(root) == before


def test_patch_admin_me_is_limited_per_admin_whatever_it_answers(api, root, settings):
    settings.PROFILE_UPDATE_RATE_LIMIT = "3/h"
    make_admin(username="taken", email="taken@example.com", phone="+14155550111")
    other = make_admin(username="other", email="other@example.com")
    token, other_token = admin_token(api, root), admin_token(api, other)
    with time_machine.travel(timezone.now(), tick=False):
        answers = [
            api.patch(ME, {"name": "Root A"}, format="json", **bearer(token)).status_code,
            api.patch(ME, {"phone": "+14155550111"}, format="json", **bearer(token)).status_code,
            api.patch(ME, {"email": "nope"}, format="json", **bearer(token)).status_code,
        ]
        before, tokens_before = stored(root), token_rows()
        refused = api.patch(ME, {"name": "Root B"}, format="json", **bearer(token))
        probe = api.patch(ME, {"phone": "+14155550111"}, format="json", **bearer(token))
        after, tokens_after = stored(root), token_rows()
        unaffected = api.patch(ME, {"name": "Other O"}, format="json", **bearer(other_token))

    assert answers == [200, 409, 400]
    body = assert_error(refused, 429, "RATE_LIMITED")
    assert int(refused["Retry-After"]) == body["error"]["details"]["retry_after"] >= 1
    assert_error(probe, 429, "RATE_LIMITED")
    assert (after, tokens_after) == (before, tokens_before)
    assert before["name"] == "Root A"
    assert unaffected.status_code == 200, unaffected.content
    assert stored(other)["name"] == "Other O"


def test_patch_admin_me_with_a_username_and_email_only_a_user_holds_is_fine(api, root, ada):
    token = admin_token(api, root)

    response = api.patch(
        ME, {"username": "ADA", "email": "ada@example.com"}, format="json", **bearer(token)
    )

    assert response.status_code == 200, response.content
    root.refresh_from_db()
    assert (root.username, root.pending_email) == ("ADA", "ada@example.com")
    ada.refresh_from_db()
    assert (ada.username, ada.email) == ("ada", "ada@example.com")


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "not-an-email"), ("username", "a b"), ("username", "ab"), ("name", "")],
)
def test_patch_admin_me_with_an_invalid_value_is_a_validation_error(api, root, field, value):
    token = admin_token(api, root)
    before = stored(root)

    response = api.patch(ME, {field: value}, format="json", **bearer(token))

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert field in body["error"]["details"]
    assert stored(root) == before


# --- Lockout -----------------------------------------------------------------------------


def test_the_fifth_wrong_admin_password_locks_the_admin(api, root, generous_limit):
    for attempt in range(1, 5):
        assert_error(login(api, ADMIN, "root", WRONG), 401, "INVALID_CREDENTIALS")
        root.refresh_from_db()
        assert root.failed_login_attempts == attempt

    body = assert_error(login(api, ADMIN, "root", WRONG), 423, "ACCOUNT_LOCKED")

    details = body["error"]["details"]
    assert details["locked_until"].endswith("Z")
    assert 29 * 60 < details["retry_after"] <= 30 * 60
    root.refresh_from_db()
    assert root.failed_login_attempts == 5
    assert root.locked_until is not None
    assert root.locked_until > timezone.now() + timedelta(minutes=29)


def test_a_locked_admin_is_refused_even_with_the_right_password(api, root, generous_limit):
    for _ in range(5):
        login(api, ADMIN, "root", WRONG)
    before = stored(root)

    body = assert_error(login(api, ADMIN, "root"), 423, "ACCOUNT_LOCKED")

    assert body["error"]["details"]["retry_after"] > 0
    assert stored(root) == before
    assert Token.objects.count() == 0


def test_admin_and_user_lockout_counters_are_separate(api, root, generous_limit):
    make_user(username="root", email="root-user@example.com")
    for _ in range(4):
        login(api, USER, "root", WRONG)

    assert_error(login(api, ADMIN, "root", WRONG), 401, "INVALID_CREDENTIALS")

    root.refresh_from_db()
    assert root.failed_login_attempts == 1


# --- Rate limits -------------------------------------------------------------------------


def test_admin_login_is_rate_limited_per_ip(api, root, settings):
    settings.RATE_LIMIT_ATTEMPTS = 2
    for _ in range(2):
        login(api, ADMIN, "nobody", WRONG)

    response = login(api, ADMIN, "root")

    body = assert_error(response, 429, "RATE_LIMITED")
    assert body["error"]["details"]["retry_after"] == int(response["Retry-After"])
    root.refresh_from_db()
    assert root.last_login is None
    assert Token.objects.count() == 0


def test_exhausting_the_user_login_limit_does_not_block_admin_login(api, root, ada, settings):
    settings.RATE_LIMIT_ATTEMPTS = 2
    for _ in range(2):
        login(api, USER, "nobody", WRONG)
    assert_error(login(api, USER, "ada", PASSWORD), 429, "RATE_LIMITED")

    response = login(api, ADMIN, "root")

    assert response.status_code == 200


def test_exhausting_the_admin_login_limit_does_not_block_user_login(api, root, ada, settings):
    settings.RATE_LIMIT_ATTEMPTS = 2
    for _ in range(2):
        login(api, ADMIN, "nobody", WRONG)
    assert_error(login(api, ADMIN, "root"), 429, "RATE_LIMITED")

    response = login(api, USER, "ada", PASSWORD)

    assert response.status_code == 200


# --- No public registration --------------------------------------------------------------


def test_there_is_no_public_admin_registration(api):
    body = {
        "username": "mallory",
        "name": "Mallory",
        "email": "mallory@example.com",
        "password": "a long enough password 1",
    }

    assert_error(api.post("/api/v1/admin/auth/register", body, format="json"), 404, "NOT_FOUND")
    created = api.post("/api/v1/admin/admins", body, format="json")

    assert_error(created, 401, "NOT_AUTHENTICATED")
    assert Admin.objects.count() == 0
    assert User.objects.count() == 0


# --- Realm isolation ---------------------------------------------------------------------


def _admin_endpoints(user_id: int, admin_id: int) -> list[tuple[str, str]]:
    return [
        ("get", ME),
        ("patch", ME),
        ("post", LOGOUT),
        ("get", "/api/v1/admin/users"),
        ("get", f"/api/v1/admin/users/{user_id}"),
        ("patch", f"/api/v1/admin/users/{user_id}"),
        ("patch", f"/api/v1/admin/users/{user_id}/block"),
        ("get", f"/api/v1/admin/users/{user_id}/tokens"),
        ("delete", f"/api/v1/admin/users/{user_id}/tokens"),
        ("delete", f"/api/v1/admin/users/{user_id}"),
        ("get", "/api/v1/admin/admins"),
        ("post", "/api/v1/admin/admins"),
        ("get", f"/api/v1/admin/admins/{admin_id}"),
        ("patch", f"/api/v1/admin/admins/{admin_id}/block"),
    ]


def _send(api: Any, method: str, url: str, token: str) -> Any:
    """One request with the bearer token, and a body that would change something."""
    if method == "get":
        return api.get(url, **bearer(token))
    body = {"username": "hijack", "password": PASSWORD, "current_password": PASSWORD}
    return getattr(api, method)(url, body, format="json", **bearer(token))


def test_a_user_token_is_forbidden_on_every_admin_endpoint(api, ada, root):
    token = user_token(api, "ada")
    user_before, admin_before, tokens_before = stored(ada), stored(root), token_rows()

    for method, url in _admin_endpoints(ada.pk, root.pk):
        assert_error(_send(api, method, url, token), 403, "FORBIDDEN")

    assert stored(ada) == user_before
    assert stored(root) == admin_before
    assert token_rows() == tokens_before
    assert Admin.objects.count() == 1
    assert api.get("/api/v1/users/me", **bearer(token)).status_code == 200


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/v1/users/me"),
        ("patch", "/api/v1/users/me"),
        ("put", "/api/v1/users/me"),
        ("delete", "/api/v1/users/me"),
        ("post", "/api/v1/users/me/password"),
        ("delete", "/api/v1/users/me/avatar"),
        ("post", "/api/v1/auth/logout"),
    ],
)
def test_an_admin_token_is_forbidden_on_the_user_realm(api, root, method, url):
    token = admin_token(api, root)
    before, tokens_before = stored(root), token_rows()

    assert_error(_send(api, method, url, token), 403, "FORBIDDEN")

    assert stored(root) == before
    assert token_rows() == tokens_before


def test_a_user_and_an_admin_with_the_same_id_never_act_as_each_other(api, generous_limit):
    user = make_user(id=4242, username="same-user", email="same-user@example.com")
    admin = make_admin(id=4242, username="same-admin", email="same-admin@example.com")
    user_pair = login_pair(api, USER, "same-user")
    staff_pair = login_pair(api, ADMIN, "same-admin")
    user_access, staff_access = user_pair["access_token"], staff_pair["access_token"]

    assert api.get("/api/v1/users/me", **bearer(user_access)).json()["data"]["username"] == (
        "same-user"
    )
    assert api.get(ME, **bearer(staff_access)).json()["data"]["username"] == "same-admin"
    assert_error(api.get(ME, **bearer(user_access)), 403, "FORBIDDEN")
    assert_error(api.get("/api/v1/admin/users", **bearer(user_access)), 403, "FORBIDDEN")
    assert_error(api.get("/api/v1/users/me", **bearer(staff_access)), 403, "FORBIDDEN")
    user_refresh = {"refresh_token": user_pair["refresh_token"]}
    staff_refresh = {"refresh_token": staff_pair["refresh_token"]}
    assert_error(api.post(REFRESH, user_refresh, format="json"), 401, "TOKEN_INVALID")
    assert_error(
        api.post("/api/v1/auth/refresh", staff_refresh, format="json"), 401, "TOKEN_INVALID"
    )
    assert Token.objects.get(user=user).revoked_at is None
    assert Token.objects.get(admin=admin).revoked_at is None


def test_a_user_refresh_token_is_invalid_on_the_admin_refresh_and_keeps_the_user_session(api, ada):
    pair = login_pair(api, USER, "ada")
    before = token_rows()

    response = api.post(REFRESH, {"refresh_token": pair["refresh_token"]}, format="json")

    assert_error(response, 401, "TOKEN_INVALID")
    assert token_rows() == before
    assert api.get("/api/v1/users/me", **bearer(pair["access_token"])).status_code == 200
    own = api.post("/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json")
    assert own.status_code == 200


def test_an_admin_refresh_token_is_invalid_on_the_user_refresh_and_keeps_the_admin_session(
    api, root
):
    pair = login_pair(api, ADMIN, "root")
    before = token_rows()

    response = api.post(
        "/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json"
    )

    assert_error(response, 401, "TOKEN_INVALID")
    assert token_rows() == before
    assert (
        api.post(REFRESH, {"refresh_token": pair["refresh_token"]}, format="json").status_code
        == 200
    )


def test_user_credentials_on_the_admin_login_are_invalid_credentials(api, ada):
    before = stored(ada)

    assert_error(login(api, ADMIN, "ada", PASSWORD), 401, "INVALID_CREDENTIALS")

    assert stored(ada) == before
    assert Token.objects.count() == 0


def test_admin_credentials_on_the_user_login_are_invalid_credentials(api, root):
    before = stored(root)

    assert_error(login(api, USER, "root", PASSWORD), 401, "INVALID_CREDENTIALS")

    assert stored(root) == before
    assert Token.objects.count() == 0
