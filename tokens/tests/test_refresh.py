"""`POST /api/v1/auth/refresh`: rotation, reuse detection, a fixed session lifetime."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from accounts.models import User
from config.testing import assert_error, bearer, login_pair
from tokens.models import Token
from tokens.realms import ADMIN, USER
from tokens.services import session_refresh, session_start
from tokens.tests.factories import make_account
from tokens.tests.helpers import claims, session_of, sign, tamper

pytestmark = pytest.mark.django_db

REFRESH = "/api/v1/auth/refresh"
ME = "/api/v1/users/me"


def refresh(api, refresh_token):
    return api.post(REFRESH, {"refresh_token": refresh_token}, format="json")


def refresh_at(api, prefix, refresh_token):
    """A refresh on the realm whose API starts at `prefix`."""
    return api.post(f"{prefix}/auth/refresh", {"refresh_token": refresh_token}, format="json")


def refreshed_pair(api, refresh_token):
    response = refresh(api, refresh_token)
    assert response.status_code == 200, response.content
    return response.json()["data"]


def state(session):
    """What a refresh may write on a session row, read afresh from the database."""
    row = Token.objects.get(pk=session.pk)
    return row.refresh_jti, row.last_used_at, row.revoked_at, row.expires_at


def assert_refused(response, code):
    assert_error(response, 401, code)
    assert response["WWW-Authenticate"] == "Bearer"


# --- Rotation ------------------------------------------------------------------------


def test_refresh_returns_a_new_pair_that_works(api, user, pair):
    response = refresh(api, pair["refresh_token"])

    assert response.status_code == 200
    new = response.json()["data"]
    assert new["token_type"] == "Bearer"
    assert new["user"]["id"] == user.pk
    assert new["refresh_token"] != pair["refresh_token"]
    assert api.get(ME, **bearer(new["access_token"])).status_code == 200
    assert Token.objects.count() == 1


@pytest.mark.parametrize("realm", [USER, ADMIN], ids=str)
def test_refreshes_within_one_second_each_give_a_new_access_and_refresh_token(api, realm):
    account = make_account(realm, password="a sturdy passphrase 42")
    prefix = f"/api/v1/{realm.url_prefix}".rstrip("/")
    me = f"{prefix}/me" if realm is ADMIN else ME
    credentials = {"username": account.username, "password": "a sturdy passphrase 42"}
    # Frozen: every token is issued within one second, with the same `iat` and `exp`.
    with time_machine.travel(timezone.now(), tick=False):
        login = api.post(f"{prefix}/auth/login", credentials, format="json").json()["data"]
        pairs = [login]
        for _ in range(2):
            response = api.post(
                f"{prefix}/auth/refresh",
                {"refresh_token": pairs[-1]["refresh_token"]},
                format="json",
            )
            assert response.status_code == 200, response.content
            pairs.append(response.json()["data"])
        accesses = [pair["access_token"] for pair in pairs]
        refreshes = [pair["refresh_token"] for pair in pairs]

        assert len(set(accesses)) == 3
        assert len(set(refreshes)) == 3
        assert len({claims(access)["jti"] for access in accesses}) == 3
        assert len({claims(access)["iat"] for access in accesses}) == 1
        # One session behind all of them, and its access tokens all work while it lives.
        assert len({claims(token)["sid"] for token in accesses + refreshes}) == 1
        assert Token.objects.count() == 1
        for access in accesses:
            assert api.get(me, **bearer(access)).status_code == 200

        logout = api.post(f"{prefix}/auth/logout", **bearer(accesses[0]))
        assert logout.status_code == 200

        for access in accesses:
            assert_refused(api.get(me, **bearer(access)), "TOKEN_INVALID")
        assert_refused(refresh_at(api, prefix, refreshes[-1]), "TOKEN_INVALID")


def test_the_access_token_of_a_refresh_costs_one_query(api, pair, django_assert_num_queries):
    new = refreshed_pair(api, pair["refresh_token"])

    with django_assert_num_queries(1):
        response = api.get(ME, **bearer(new["access_token"]))

    assert response.status_code == 200


def test_refresh_response_is_not_cacheable(api, pair):
    response = refresh(api, pair["refresh_token"])

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


def test_rotated_refresh_token_works_once(api, pair):
    second = refreshed_pair(api, pair["refresh_token"])

    third = refresh(api, second["refresh_token"])
    again = refresh(api, second["refresh_token"])

    assert third.status_code == 200
    assert_refused(again, "TOKEN_INVALID")


def test_reused_refresh_token_revokes_the_whole_session(api, pair):
    session = session_of(pair)
    newest = refreshed_pair(api, pair["refresh_token"])

    reuse = refresh(api, pair["refresh_token"])

    assert_refused(reuse, "TOKEN_INVALID")
    assert Token.objects.get(pk=session.pk).revoked_at is not None
    assert_refused(api.get(ME, **bearer(newest["access_token"])), "TOKEN_INVALID")
    assert_refused(refresh(api, newest["refresh_token"]), "TOKEN_INVALID")


def test_reuse_in_one_session_leaves_the_owners_other_sessions_alone(api, user, pair):
    other = login_pair(api, USER, user.username)
    refreshed_pair(api, pair["refresh_token"])

    assert_refused(refresh(api, pair["refresh_token"]), "TOKEN_INVALID")

    assert api.get(ME, **bearer(other["access_token"])).status_code == 200
    assert session_of(other).revoked_at is None


def test_refresh_costs_at_most_three_queries(api, pair, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        response = refresh(api, pair["refresh_token"])

    assert response.status_code == 200


# --- The session's lifetime is fixed at login ----------------------------------------


def test_refreshing_never_extends_the_session(api, pair):
    session = session_of(pair)
    login_expiry = session.expires_at
    now = timezone.now()

    with time_machine.travel(now + timedelta(days=1), tick=False):
        second = refreshed_pair(api, pair["refresh_token"])
    with time_machine.travel(now + timedelta(days=3), tick=False):
        third = refreshed_pair(api, second["refresh_token"])

    assert Token.objects.get(pk=session.pk).expires_at == login_expiry
    exps = {claims(p["refresh_token"])["exp"] for p in (pair, second, third)}
    assert exps == {int(login_expiry.timestamp())}
    assert pair["refresh_expires_in"] == settings.REFRESH_TOKEN_EXPIRE_DAYS * 86400
    assert second["refresh_expires_in"] <= pair["refresh_expires_in"] - 86400
    assert third["refresh_expires_in"] <= pair["refresh_expires_in"] - 3 * 86400


def test_access_token_from_a_refresh_never_outlives_the_session(api, pair):
    login_expiry = session_of(pair).expires_at

    with time_machine.travel(login_expiry - timedelta(minutes=10), tick=False):
        late = refreshed_pair(api, pair["refresh_token"])

    assert claims(late["access_token"])["exp"] <= int(login_expiry.timestamp())
    assert late["expires_in"] <= 600


# --- Refused refreshes write nothing -------------------------------------------------


def test_access_token_used_as_refresh_token_is_token_invalid(api, pair):
    before = state(session_of(pair))

    assert_refused(refresh(api, pair["access_token"]), "TOKEN_INVALID")

    assert state(session_of(pair)) == before
    assert Token.objects.count() == 1


def test_tampered_refresh_token_is_token_invalid(api, pair):
    before = state(session_of(pair))

    assert_refused(refresh(api, tamper(pair["refresh_token"])), "TOKEN_INVALID")

    assert state(session_of(pair)) == before
    assert Token.objects.count() == 1


@pytest.mark.parametrize(
    ("garbage", "status", "code"),
    [
        ("garbage", 401, "TOKEN_INVALID"),
        ("a.b.c", 401, "TOKEN_INVALID"),
        ("x" * 4097, 400, "VALIDATION_ERROR"),
        ("   ", 400, "VALIDATION_ERROR"),
    ],
)
def test_garbage_refresh_token_is_refused(api, pair, garbage, status, code):
    before = state(session_of(pair))

    assert_error(refresh(api, garbage), status, code)

    assert state(session_of(pair)) == before


def test_well_signed_refresh_token_for_an_unknown_session_is_token_invalid(api, pair):
    before = state(session_of(pair))
    forged = sign({**claims(pair["refresh_token"]), "sid": "no-such-session"})

    assert_refused(refresh(api, forged), "TOKEN_INVALID")

    assert state(session_of(pair)) == before


def test_refresh_token_without_a_session_id_is_token_invalid(api, pair):
    before = state(session_of(pair))
    payload = claims(pair["refresh_token"])
    del payload["sid"]

    assert_refused(refresh(api, sign(payload)), "TOKEN_INVALID")

    assert state(session_of(pair)) == before


def test_refresh_after_the_session_lifetime_is_token_expired(api, pair):
    session = session_of(pair)
    before = state(session)
    past_expiry = session.expires_at + timedelta(seconds=1)

    with time_machine.travel(past_expiry, tick=False):
        response = refresh(api, pair["refresh_token"])

    assert_refused(response, "TOKEN_EXPIRED")
    assert state(session) == before


def test_refresh_after_the_session_row_expired_is_token_invalid(api, pair):
    session = session_of(pair)
    Token.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    before = state(session)

    assert_refused(refresh(api, pair["refresh_token"]), "TOKEN_INVALID")

    assert state(session) == before


def test_missing_refresh_token_is_a_validation_error(api, pair):
    before = state(session_of(pair))

    response = api.post(REFRESH, {}, format="json")

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert "refresh_token" in body["error"]["details"]
    assert state(session_of(pair)) == before


def test_blank_refresh_token_is_a_validation_error(api):
    response = refresh(api, "")

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert "refresh_token" in body["error"]["details"]


def test_refresh_of_a_logged_out_session_is_token_invalid(api, pair):
    assert api.post("/api/v1/auth/logout", **bearer(pair["access_token"])).status_code == 200
    before = state(session_of(pair))

    assert_refused(refresh(api, pair["refresh_token"]), "TOKEN_INVALID")

    assert state(session_of(pair)) == before


def test_refresh_when_the_owner_is_blocked_is_token_invalid(api, user, pair):
    User.objects.filter(pk=user.pk).update(is_active=False)

    response = refresh(api, pair["refresh_token"])

    assert_refused(response, "TOKEN_INVALID")
    assert b"access_token" not in response.content
    assert Token.objects.count() == 1


def test_refresh_when_the_owner_is_soft_deleted_is_token_invalid(api, user, pair):
    User.objects.filter(pk=user.pk).update(deleted_at=timezone.now())

    response = refresh(api, pair["refresh_token"])

    assert_refused(response, "TOKEN_INVALID")
    assert b"access_token" not in response.content
    assert Token.objects.count() == 1


def test_refused_refresh_of_a_blocked_owner_leaves_the_session_unchanged(api, user, pair):
    """A 401 writes nothing: the client still holds the only refresh token it was given,
    so once the owner is unblocked that token must still work, not count as a reuse."""
    session = session_of(pair)
    before = state(session)
    User.objects.filter(pk=user.pk).update(is_active=False)

    assert_refused(refresh(api, pair["refresh_token"]), "TOKEN_INVALID")

    assert state(session) == before
    User.objects.filter(pk=user.pk).update(is_active=True)
    assert refresh(api, pair["refresh_token"]).status_code == 200


# --- Realms --------------------------------------------------------------------------


def test_admin_refresh_token_on_the_user_endpoint_is_token_invalid(api):
    admin = make_account(ADMIN)
    admin_pair = session_start(owner=admin, ip="127.0.0.1", user_agent="test")
    session = session_of(admin_pair)
    before = state(session)

    assert_refused(refresh(api, admin_pair["refresh_token"]), "TOKEN_INVALID")

    assert state(session) == before
    # The admin's own realm still rotates it: the user endpoint did not revoke it.
    _, owner = session_refresh(refresh_token=admin_pair["refresh_token"], realm=ADMIN)
    assert owner == admin
