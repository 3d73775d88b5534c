"""`/api/v1/tokens` with a login session: create, list and revoke my own tokens, either realm."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from config.testing import assert_error, bearer, login, login_pair
from tokens.models import Token
from tokens.realms import ADMIN, USER, realm_of
from tokens.tests.factories import make_account
from tokens.tests.helpers import SESSION_ONLY, TOKEN_FIELDS, TOLERATED_EXTRA, session_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_login_limit")]

TOKENS = "/api/v1/tokens"
ME = "/api/v1/users/me"
ADMIN_ME = "/api/v1/admin/me"

MISSING = object()  # a field left out of the request body


@dataclass
class Caller:
    """An account of either realm, logged in: its access token and its own profile URL."""

    owner: Any
    access: str
    me: str


def log_in(api, owner, **extra) -> dict[str, Any]:
    """A new login session of `owner` (user or admin); its token pair."""
    response = login(api, realm_of(owner), owner.username, **extra)
    assert response.status_code == 200, response.content
    data: dict[str, Any] = response.json()["data"]
    return data


def caller_of(api, owner) -> Caller:
    me = ME if owner._meta.label_lower == "accounts.user" else ADMIN_ME
    return Caller(owner=owner, access=log_in(api, owner)["access_token"], me=me)


@pytest.fixture(params=["user", "admin"])
def caller(request, api) -> Caller:
    owner = make_account(USER) if request.param == "user" else make_account(ADMIN)
    return caller_of(api, owner)


def create(api, access, **body):
    body.setdefault("name", "ci")
    body.setdefault("scopes", ["read"])
    return api.post(TOKENS, body, format="json", **bearer(access))


def created(api, access, **body) -> dict[str, Any]:
    response = create(api, access, **body)
    assert response.status_code == 201, response.content
    data: dict[str, Any] = response.json()["data"]
    return data


def items(response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    listed: list[dict[str, Any]] = response.json()["data"]["items"]
    return listed


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def is_live(pk: int) -> bool:
    return Token.objects.get(pk=pk).is_live()


# --- Create --------------------------------------------------------------------------


def test_create_answers_201_with_the_token_and_its_secret(api, caller):
    moment = timezone.now()

    with time_machine.travel(moment, tick=False):
        response = create(api, caller.access, name="deploy bot", scopes=["read", "write"])

    assert response.status_code == 201, response.content
    assert response.json()["success"] is True
    data = response.json()["data"]
    assert TOKEN_FIELDS | {"token"} <= data.keys()
    assert data.keys() <= TOKEN_FIELDS | {"token"} | TOLERATED_EXTRA
    assert not SESSION_ONLY & data.keys()
    row = Token.objects.get(pk=data["id"])
    assert row.owner == caller.owner
    assert data["name"] == "deploy bot"
    assert data["kind"] == "personal" == row.kind
    assert data["scopes"] == ["read", "write"]
    assert data["current"] is False
    assert data["last_used_at"] is None
    assert data.get("revoked_at") is None
    assert when(data["created_at"]) == moment
    assert when(data["expires_at"]) == moment + timedelta(days=90)
    assert data["token"].startswith("pat_")
    assert data["token"].startswith(data["prefix"])
    assert data["prefix"] == data["token"][:8]
    assert row.token_hash.encode() not in response.content


def test_create_answers_cache_control_no_store(api, caller):
    response = create(api, caller.access)

    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]


def test_created_token_authenticates_its_owner(api, caller):
    secret = created(api, caller.access)["token"]

    response = api.get(caller.me, **bearer(secret))

    assert response.status_code == 200, response.content
    assert response.json()["data"]["id"] == caller.owner.pk


def test_each_created_token_has_its_own_secret(api, caller):
    first = created(api, caller.access)
    second = created(api, caller.access)

    assert first["token"] != second["token"]
    assert first["id"] != second["id"]


@pytest.mark.parametrize("days", [1, 365])
def test_expires_in_days_accepts_the_bounds(api, caller, days):
    moment = timezone.now()

    with time_machine.travel(moment, tick=False):
        data = created(api, caller.access, expires_in_days=days)

    assert when(data["expires_at"]) == moment + timedelta(days=days)
    assert Token.objects.get(pk=data["id"]).expires_at == moment + timedelta(days=days)


@pytest.mark.parametrize(
    ("given", "stored"),
    [(["write", "read"], ["read", "write"]), (["read", "read"], ["read"])],
)
def test_scopes_are_stored_once_each_and_in_order(api, caller, given, stored):
    data = created(api, caller.access, scopes=given)

    assert data["scopes"] == stored
    assert Token.objects.get(pk=data["id"]).scopes == stored


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"expires_in_days": 0}, "expires_in_days"),
        ({"expires_in_days": 366}, "expires_in_days"),
        ({"expires_in_days": "abc"}, "expires_in_days"),
        ({"expires_in_days": 1.5}, "expires_in_days"),
        ({"name": MISSING}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"scopes": MISSING}, "scopes"),
        ({"scopes": []}, "scopes"),
        ({"scopes": ["admin"]}, "scopes"),
        ({"scopes": ["read", "admin"]}, "scopes"),
        ({"scopes": ["write"]}, "scopes"),
        ({"scopes": "read"}, "scopes"),
    ],
)
def test_bad_input_is_a_validation_error_and_writes_nothing(api, caller, body, field):
    payload: dict[str, Any] = {"name": "ci", "scopes": ["read"], **body}
    payload = {key: value for key, value in payload.items() if value is not MISSING}
    before = Token.objects.count()

    response = api.post(TOKENS, payload, format="json", **bearer(caller.access))

    error = assert_error(response, 400, "VALIDATION_ERROR")["error"]
    assert field in error["details"], error
    assert Token.objects.count() == before
    assert not Token.objects.personal().exists()


def test_name_of_100_characters_is_accepted(api, caller):
    data = created(api, caller.access, name="x" * 100)

    assert data["name"] == "x" * 100


# --- Rate limit ----------------------------------------------------------------------


def test_token_creation_is_rate_limited_per_account(api, settings):
    settings.TOKEN_CREATE_RATE_LIMIT = "2/h"
    user = make_account(USER)
    admin_with_same_id = make_account(ADMIN, id=user.pk)
    other = make_account(USER)
    access = log_in(api, user)["access_token"]
    another_session = log_in(api, user)["access_token"]
    admin_access = log_in(api, admin_with_same_id)["access_token"]
    other_access = log_in(api, other)["access_token"]

    with time_machine.travel(timezone.now(), tick=False):
        assert create(api, access).status_code == 201
        assert create(api, access).status_code == 201
        before = Token.objects.count()

        third = create(api, access)
        from_another_session = create(api, another_session)
        counts_after_refusals = Token.objects.count()
        from_other_account = create(api, other_access)
        from_admin_with_same_id = create(api, admin_access)

    body = assert_error(third, 429, "RATE_LIMITED")
    assert int(third["Retry-After"]) >= 1
    assert body["error"]["details"]["retry_after"] == int(third["Retry-After"])
    assert_error(from_another_session, 429, "RATE_LIMITED")
    assert counts_after_refusals == before
    assert Token.objects.for_owner(user).personal().count() == 2
    assert from_other_account.status_code == 201, from_other_account.content
    assert from_admin_with_same_id.status_code == 201, from_admin_with_same_id.content


# --- List ----------------------------------------------------------------------------


def test_list_shows_my_live_sessions_and_tokens_newest_first(api):
    user = make_account(USER)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        first = log_in(api, user, HTTP_USER_AGENT="agent-one")
        traveller.shift(timedelta(seconds=1))
        second = log_in(api, user, HTTP_USER_AGENT="agent-two")
        traveller.shift(timedelta(seconds=1))
        pat = created(api, first["access_token"], name="ci")
        traveller.shift(timedelta(seconds=1))
        revoked_pat = created(api, first["access_token"], name="gone")
        revoke = api.delete(f"{TOKENS}/{revoked_pat['id']}", **bearer(first["access_token"]))
        assert revoke.status_code == 200
        traveller.shift(timedelta(seconds=1))
        logged_out = log_in(api, user)
        logout = api.post("/api/v1/auth/logout", **bearer(logged_out["access_token"]))
        assert logout.status_code == 200
        traveller.shift(timedelta(seconds=1))
        expired = created(api, first["access_token"], name="short")
        Token.objects.filter(pk=expired["id"]).update(expires_at=timezone.now())
        traveller.shift(timedelta(seconds=1))

        seen_by_first = api.get(TOKENS, **bearer(first["access_token"]))
        seen_by_second = api.get(TOKENS, **bearer(second["access_token"]))

    listed = items(seen_by_first)
    first_id, second_id = session_of(first).pk, session_of(second).pk
    assert [item["id"] for item in listed] == [pat["id"], second_id, first_id]
    assert seen_by_first.json()["data"]["total"] == 3
    assert [item["kind"] for item in listed] == ["personal", "session", "session"]
    assert [item["current"] for item in listed] == [False, False, True]
    assert [item["current"] for item in items(seen_by_second)] == [False, True, False]
    assert expired["id"] not in [item["id"] for item in listed]
    for response in (seen_by_first, seen_by_second):
        for secret in (pat["token"], revoked_pat["token"], expired["token"]):
            assert secret.encode() not in response.content
        assert b'"token"' not in response.content
        assert b"token_hash" not in response.content


def test_list_shows_ip_and_user_agent_for_sessions_only(api):
    user = make_account(USER)
    access = log_in(api, user, HTTP_USER_AGENT="pytest-agent/1.0")["access_token"]
    created(api, access)

    personal, session = items(api.get(TOKENS, **bearer(access)))

    assert session["kind"] == "session"
    assert session["ip"] == "127.0.0.1"
    assert session["user_agent"] == "pytest-agent/1.0"
    assert session.keys() >= TOKEN_FIELDS | SESSION_ONLY
    assert session.keys() <= TOKEN_FIELDS | SESSION_ONLY | TOLERATED_EXTRA
    assert personal["kind"] == "personal"
    assert not SESSION_ONLY & personal.keys()
    assert TOKEN_FIELDS <= personal.keys() <= TOKEN_FIELDS | TOLERATED_EXTRA
    assert personal["prefix"].startswith("pat_")


def test_each_realm_lists_only_its_own_tokens(api):
    user = make_account(USER)
    admin = make_account(ADMIN, id=user.pk)
    user_pair = log_in(api, user)
    user_pat = created(api, user_pair["access_token"])
    admin_pair = log_in(api, admin)
    admin_pat = created(api, admin_pair["access_token"])

    seen_by_admin = items(api.get(TOKENS, **bearer(admin_pair["access_token"])))
    seen_by_user = items(api.get(TOKENS, **bearer(user_pair["access_token"])))

    assert admin.pk == user.pk
    assert [item["id"] for item in seen_by_admin] == [admin_pat["id"], session_of(admin_pair).pk]
    assert [item["id"] for item in seen_by_user] == [user_pat["id"], session_of(user_pair).pk]


def test_list_is_paginated(api, caller):
    for _ in range(3):
        created(api, caller.access)

    response = api.get(TOKENS, {"page_size": 2, "page": 2}, **bearer(caller.access))

    data = response.json()["data"]
    assert (data["count"], data["total"], data["page"], data["pages"]) == (2, 4, 2, 2)


# --- Revoke one ----------------------------------------------------------------------


def test_revoking_my_personal_token_stops_it_at_once(api, caller):
    pat = created(api, caller.access)
    assert api.get(caller.me, **bearer(pat["token"])).status_code == 200

    response = api.delete(f"{TOKENS}/{pat['id']}", **bearer(caller.access))

    assert response.status_code == 200, response.content
    assert response.json()["success"] is True
    assert not is_live(pat["id"])
    after = api.get(caller.me, **bearer(pat["token"]))
    assert_error(after, 401, "TOKEN_INVALID")
    assert api.get(caller.me, **bearer(caller.access)).status_code == 200


def test_revoking_another_of_my_sessions_stops_its_access_token_at_once(api, caller):
    other_session = log_in(api, caller.owner)

    response = api.delete(f"{TOKENS}/{session_of(other_session).pk}", **bearer(caller.access))

    assert response.status_code == 200, response.content
    assert_error(api.get(caller.me, **bearer(other_session["access_token"])), 401, "TOKEN_INVALID")
    assert api.get(caller.me, **bearer(caller.access)).status_code == 200


@pytest.mark.parametrize("stranger", ["user", "admin with the same id"])
def test_revoking_someone_elses_token_is_not_found_and_leaves_it_working(api, stranger):
    victim = make_account(USER)
    victim_pat = created(api, log_in(api, victim)["access_token"])
    attacker = make_account(USER) if stranger == "user" else make_account(ADMIN, id=victim.pk)
    attacker_access = log_in(api, attacker)["access_token"]

    response = api.delete(f"{TOKENS}/{victim_pat['id']}", **bearer(attacker_access))

    assert_error(response, 404, "NOT_FOUND")
    assert is_live(victim_pat["id"])
    assert api.get(ME, **bearer(victim_pat["token"])).status_code == 200


def test_revoking_an_unknown_token_is_not_found(api, caller):
    before = list(Token.objects.values_list("pk", "revoked_at"))

    response = api.delete(f"{TOKENS}/999999", **bearer(caller.access))

    assert_error(response, 404, "NOT_FOUND")
    assert list(Token.objects.values_list("pk", "revoked_at")) == before


# --- Revoke all but the current one --------------------------------------------------


def test_revoke_all_keeps_only_the_current_session(api, caller):
    other_session = log_in(api, caller.owner)
    pats = [created(api, caller.access), created(api, other_session["access_token"])]
    bystander = make_account(USER)
    bystander_access = log_in(api, bystander)["access_token"]

    response = api.delete(TOKENS, **bearer(caller.access))

    assert response.status_code == 200, response.content
    assert response.json()["data"] == {"revoked": 3}
    assert_error(api.get(caller.me, **bearer(other_session["access_token"])), 401, "TOKEN_INVALID")
    for pat in pats:
        assert_error(api.get(caller.me, **bearer(pat["token"])), 401, "TOKEN_INVALID")
    assert api.get(caller.me, **bearer(caller.access)).status_code == 200
    assert api.get(ME, **bearer(bystander_access)).status_code == 200
    remaining = items(api.get(TOKENS, **bearer(caller.access)))
    assert [(item["kind"], item["current"]) for item in remaining] == [("session", True)]


def test_revoke_all_with_nothing_else_revokes_nothing(api, caller):
    response = api.delete(TOKENS, **bearer(caller.access))

    assert response.status_code == 200
    assert response.json()["data"] == {"revoked": 0}
    assert api.get(caller.me, **bearer(caller.access)).status_code == 200


# --- Authentication ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", TOKENS), ("post", TOKENS), ("delete", TOKENS), ("delete", f"{TOKENS}/1")],
)
def test_token_endpoints_without_credentials_are_not_authenticated(api, method, path):
    created(api, login_pair(api, USER, make_account(USER).username)["access_token"])
    before = list(Token.objects.values_list("pk", "revoked_at"))

    response = getattr(api, method)(path, {"name": "ci", "scopes": ["read"]}, format="json")

    assert_error(response, 401, "NOT_AUTHENTICATED")
    assert response["WWW-Authenticate"] == "Bearer"
    assert list(Token.objects.values_list("pk", "revoked_at")) == before
