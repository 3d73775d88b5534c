"""Personal access tokens as bearer tokens: scopes, realms, expiry, revocation, the offline
checksum, the query budget, and that the database never holds a secret."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from accounts.models import User
from admins.models import Admin
from config.testing import PASSWORD, assert_error, bearer, login_pair
from tokens.crypto import new_personal_token
from tokens.models import Token
from tokens.realms import ADMIN, USER
from tokens.tests.factories import make_account
from tokens.tests.helpers import claims, session_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_login_limit")]

TOKENS = "/api/v1/tokens"
ME = "/api/v1/users/me"
ADMIN_ME = "/api/v1/admin/me"
ADMIN_USERS = "/api/v1/admin/users"
BASE62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
SCOPE_SETS = [["read"], ["read", "write"]]
# A personal token's `prefix` keeps "pat_" and this many of its random characters.
RANDOM_CHARS_SHOWN = 4


@pytest.fixture
def user():
    return make_account(USER, name="Original Name")


@pytest.fixture
def session(api, user) -> str:
    """The access token of a login session of `user`."""
    access: str = login_pair(api, USER, user.username)["access_token"]
    return access


def admin_session(api, admin) -> str:
    response = api.post(
        "/api/v1/admin/auth/login",
        {"username": admin.username, "password": PASSWORD},
        format="json",
    )
    assert response.status_code == 200, response.content
    access: str = response.json()["data"]["access_token"]
    return access


def create_pat(api, access, scopes=("read",), **body) -> dict[str, Any]:
    """A new personal access token, made through the API with a login session."""
    response = api.post(
        TOKENS, {"name": "ci", "scopes": list(scopes), **body}, format="json", **bearer(access)
    )
    assert response.status_code == 201, response.content
    data: dict[str, Any] = response.json()["data"]
    return data


def pat_of(api, access, scopes=("read",), **body) -> str:
    secret: str = create_pat(api, access, scopes, **body)["token"]
    return secret


def assert_unauthorized(response, code):
    assert_error(response, 401, code)
    assert response["WWW-Authenticate"] == "Bearer"


def token_state() -> list[tuple[Any, ...]]:
    """Every token row, with what a creation, revocation or expiry change would alter."""
    return list(
        Token.objects.order_by("pk").values_list("pk", "kind", "revoked_at", "expires_at", "scopes")
    )


def one_char_changed(secret: str, position: int) -> str:
    replacement = "a" if secret[position] != "a" else "b"
    return f"{secret[:position]}{replacement}{secret[position + 1 :]}"


# --- Using a token -------------------------------------------------------------------


@pytest.mark.parametrize("scopes", SCOPE_SETS)
def test_personal_token_reads_the_profile(api, user, session, scopes):
    secret = pat_of(api, session, scopes)

    response = api.get(ME, **bearer(secret))

    assert response.status_code == 200, response.content
    assert response.json()["data"]["id"] == user.pk
    assert response.json()["data"]["username"] == user.username


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("patch", ME, {"name": "Changed"}),
        ("put", ME, {"name": "Changed"}),
        ("delete", ME, {"password": PASSWORD}),
        ("delete", f"{ME}/avatar", None),
    ],
)
def test_read_only_token_cannot_change_anything(api, user, session, method, path, body):
    secret = pat_of(api, session, ["read"])
    before = token_state()

    response = getattr(api, method)(path, body, format="json", **bearer(secret))

    assert_error(response, 403, "INSUFFICIENT_SCOPE")
    user.refresh_from_db()
    assert (user.name, user.deleted_at, user.is_active) == ("Original Name", None, True)
    assert token_state() == before
    assert api.get(ME, **bearer(secret)).status_code == 200


def test_read_write_token_can_change_the_profile(api, user, session):
    secret = pat_of(api, session, ["read", "write"])

    response = api.patch(ME, {"name": "Changed"}, format="json", **bearer(secret))

    assert response.status_code == 200, response.content
    assert response.json()["data"]["name"] == "Changed"
    assert User.objects.get(pk=user.pk).name == "Changed"


# --- What only a login session may do ------------------------------------------------


@pytest.mark.parametrize("scopes", SCOPE_SETS)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", TOKENS, None),
        ("post", TOKENS, {"name": "minted", "scopes": ["read", "write"]}),
        ("delete", TOKENS, None),
        ("delete", f"{TOKENS}/{{own_id}}", None),
        ("delete", f"{TOKENS}/{{session_id}}", None),
        ("post", "/api/v1/auth/logout", None),
        (
            "post",
            f"{ME}/password",
            {"current_password": PASSWORD, "new_password": "an entirely new passphrase 42"},
        ),
    ],
)
def test_personal_token_cannot_do_what_needs_a_login_session(
    api, user, session, scopes, method, path, body
):
    pat = create_pat(api, session, scopes)
    path = path.format(own_id=pat["id"], session_id=session_of({"access_token": session}).pk)
    before = token_state()

    response = getattr(api, method)(path, body, format="json", **bearer(pat["token"]))

    assert_error(response, 403, "INSUFFICIENT_SCOPE")
    assert "data" not in response.json()
    assert token_state() == before
    assert User.objects.get(pk=user.pk).check_password(PASSWORD)
    assert api.get(ME, **bearer(pat["token"])).status_code == 200
    assert api.get(ME, **bearer(session)).status_code == 200


@pytest.mark.parametrize("scopes", SCOPE_SETS)
def test_admin_personal_token_cannot_log_out_or_manage_tokens(api, scopes):
    admin = make_account(ADMIN)
    access = admin_session(api, admin)
    pat = pat_of(api, access, scopes)
    before = token_state()

    logout = api.post("/api/v1/admin/auth/logout", **bearer(pat))
    listing = api.get(TOKENS, **bearer(pat))
    minting = api.post(TOKENS, {"name": "x", "scopes": ["read"]}, format="json", **bearer(pat))

    for response in (logout, listing, minting):
        assert_error(response, 403, "INSUFFICIENT_SCOPE")
    assert token_state() == before


# --- Realms --------------------------------------------------------------------------


def test_admin_personal_token_works_on_the_admin_realm(api):
    admin = make_account(ADMIN, is_superuser=True)
    listed_user = make_account(USER)
    pat = pat_of(api, admin_session(api, admin), ["read"])

    me = api.get(ADMIN_ME, **bearer(pat))
    users = api.get(ADMIN_USERS, **bearer(pat))

    assert me.status_code == 200, me.content
    assert me.json()["data"]["id"] == admin.pk
    assert users.status_code == 200, users.content
    assert listed_user.pk in [item["id"] for item in users.json()["data"]["items"]]


def test_read_only_admin_personal_token_cannot_change_the_admin(api):
    admin = make_account(ADMIN, is_superuser=True, name="Admin Name")
    pat = pat_of(api, admin_session(api, admin), ["read"])

    response = api.patch(ADMIN_ME, {"name": "Changed"}, format="json", **bearer(pat))

    assert_error(response, 403, "INSUFFICIENT_SCOPE")
    assert Admin.objects.get(pk=admin.pk).name == "Admin Name"


@pytest.mark.parametrize("scopes", SCOPE_SETS)
def test_admin_personal_token_never_works_on_the_user_realm(api, scopes):
    user = make_account(USER, name="The User")
    admin = make_account(ADMIN, id=user.pk, is_superuser=True)
    pat = pat_of(api, admin_session(api, admin), scopes)

    read = api.get(ME, **bearer(pat))
    write = api.patch(ME, {"name": "Hijacked"}, format="json", **bearer(pat))

    assert_error(read, 403, "FORBIDDEN")
    assert_error(write, 403, "FORBIDDEN")
    assert user.username.encode() not in read.content
    assert User.objects.get(pk=user.pk).name == "The User"


@pytest.mark.parametrize("path", [ADMIN_USERS, ADMIN_ME])
def test_user_personal_token_is_forbidden_on_the_admin_realm(api, session, path):
    make_account(ADMIN, is_superuser=True)
    pat = pat_of(api, session, ["read", "write"])

    response = api.get(path, **bearer(pat))

    assert_error(response, 403, "FORBIDDEN")
    assert "data" not in response.json()


# --- Refused tokens ------------------------------------------------------------------


def test_expired_personal_token_is_token_expired(api, session):
    pat = create_pat(api, session, expires_in_days=1)
    expires_at = Token.objects.get(pk=pat["id"]).expires_at

    with time_machine.travel(expires_at - timedelta(seconds=1), tick=False):
        just_before = api.get(ME, **bearer(pat["token"]))
    with time_machine.travel(expires_at, tick=False):
        at_expiry = api.get(ME, **bearer(pat["token"]))
    with time_machine.travel(expires_at + timedelta(days=1), tick=False):
        later = api.get(ME, **bearer(pat["token"]))

    assert just_before.status_code == 200
    assert_unauthorized(at_expiry, "TOKEN_EXPIRED")
    assert_unauthorized(later, "TOKEN_EXPIRED")


def test_revoked_personal_token_is_token_invalid(api, session):
    pat = create_pat(api, session)
    assert api.delete(f"{TOKENS}/{pat['id']}", **bearer(session)).status_code == 200

    assert_unauthorized(api.get(ME, **bearer(pat["token"])), "TOKEN_INVALID")


def test_personal_token_of_a_blocked_owner_is_token_invalid(api, user, session):
    pat = create_pat(api, session)
    # Straight in the database, so that the token row itself stays unrevoked: the owner's
    # state alone must stop it.
    User.objects.filter(pk=user.pk).update(is_active=False)

    assert_unauthorized(api.get(ME, **bearer(pat["token"])), "TOKEN_INVALID")
    assert Token.objects.get(pk=pat["id"]).revoked_at is None


def test_personal_token_of_a_soft_deleted_owner_is_token_invalid(api, user, session):
    pat = create_pat(api, session)
    User.objects.filter(pk=user.pk).update(deleted_at=timezone.now())

    assert_unauthorized(api.get(ME, **bearer(pat["token"])), "TOKEN_INVALID")
    assert Token.objects.get(pk=pat["id"]).revoked_at is None


def test_personal_token_of_a_blocked_admin_is_token_invalid(api):
    admin = make_account(ADMIN, is_superuser=True)
    pat = pat_of(api, admin_session(api, admin))
    Admin.objects.filter(pk=admin.pk).update(is_active=False)

    assert_unauthorized(api.get(ADMIN_ME, **bearer(pat)), "TOKEN_INVALID")


# Positions: the first and a middle random character, the last random one, the first and
# the last checksum character.
@pytest.mark.parametrize("position", [4, 18, 33, 34, 39])
def test_personal_token_with_one_character_changed_is_refused_without_a_query(
    api, session, position, django_assert_num_queries
):
    secret = pat_of(api, session)
    typo = one_char_changed(secret, position)
    assert typo != secret
    assert len(typo) == len(secret)

    with django_assert_num_queries(0):
        response = api.get(ME, **bearer(typo))

    assert_unauthorized(response, "TOKEN_INVALID")


def test_unknown_well_formed_personal_token_is_token_invalid(api, session):
    pat_of(api, session)

    assert_unauthorized(api.get(ME, **bearer(new_personal_token())), "TOKEN_INVALID")


def test_personal_token_with_a_changed_prefix_is_token_invalid(api, session):
    secret = pat_of(api, session)

    assert_unauthorized(api.get(ME, **bearer("PAT_" + secret[4:])), "TOKEN_INVALID")


# --- Query budget and last_used_at ---------------------------------------------------


def test_personal_token_costs_one_query_and_records_its_use_once_a_minute(
    api, session, django_assert_num_queries
):
    pat = create_pat(api, session)
    start = timezone.now()

    def use(queries: int) -> None:
        with django_assert_num_queries(queries) as captured:
            response = api.get(ME, **bearer(pat["token"]))
        assert response.status_code == 200, response.content
        assert captured.captured_queries[0]["sql"].lstrip().upper().startswith("SELECT")
        if queries == 2:
            assert captured.captured_queries[1]["sql"].lstrip().upper().startswith("UPDATE")

    def last_used():
        return Token.objects.get(pk=pat["id"]).last_used_at

    with time_machine.travel(start, tick=False) as traveller:
        assert last_used() is None
        use(2)  # first use: the lookup and the stamp
        assert last_used() == start
        traveller.shift(timedelta(seconds=30))
        use(1)  # within the minute: a read only
        assert last_used() == start
        traveller.shift(timedelta(seconds=31))
        use(2)  # 61 s after the stamp: stamped again
        assert last_used() == start + timedelta(seconds=61)
        use(1)
        assert last_used() == start + timedelta(seconds=61)


def test_last_used_at_is_shown_in_the_token_list(api, session):
    pat = create_pat(api, session)
    moment = timezone.now()

    with time_machine.travel(moment, tick=False):
        assert api.get(ME, **bearer(pat["token"])).status_code == 200
    listed = api.get(TOKENS, **bearer(session)).json()["data"]["items"]

    (item,) = [item for item in listed if item["id"] == pat["id"]]
    assert item["last_used_at"] is not None
    assert item["last_used_at"].replace("Z", "+00:00") == moment.isoformat()


# --- The database holds no secret ----------------------------------------------------


def every_stored_value() -> list[tuple[str, str]]:
    """(table, value as text) for every column of every row of every table."""
    values = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted}")  # noqa: S608 -- a table name, not input
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, memoryview):
                        value = value.tobytes()
                    if isinstance(value, bytes):
                        value = value.decode("latin-1")
                    values.append((table, str(value)))
    return values


def test_the_database_never_holds_a_secret(api, user, session):
    admin = make_account(ADMIN, is_superuser=True)
    admin_access = admin_session(api, admin)
    second = login_pair(api, USER, user.username)
    pats = [
        create_pat(api, session, ["read"]),
        create_pat(api, session, ["read", "write"], expires_in_days=1),
        create_pat(api, admin_access, ["read"]),
    ]
    for pat, me in zip(pats, (ME, ME, ADMIN_ME), strict=True):
        assert api.get(me, **bearer(pat["token"])).status_code == 200
    stored = every_stored_value()
    tokens_table = Token._meta.db_table
    assert any(table == tokens_table for table, _ in stored)

    for pat in pats:
        secret = pat["token"]
        random_part = secret[4:34]
        longest_shown = RANDOM_CHARS_SHOWN
        leaks = {
            random_part[start : start + longest_shown + 1]
            for start in range(len(random_part) - longest_shown)
        }
        for table, value in stored:
            assert secret not in value, table
            assert not any(leak in value for leak in leaks), (table, value)
        # The scan does see the tokens table: the shown prefix and the digest are there.
        row = Token.objects.get(pk=pat["id"])
        assert (tokens_table, pat["prefix"]) in stored
        assert (tokens_table, row.token_hash) in stored
    for pair in ({"access_token": session}, second):
        session_key = claims(pair["access_token"])["sid"]
        for table, value in stored:
            assert session_key not in value, table
            assert pair["access_token"] not in value, table
    assert not any(second["refresh_token"] in value for _, value in stored)


# --- The admin API sees and revokes a user's personal tokens -------------------------


def test_admin_lists_a_users_personal_tokens_without_their_secrets(api, user, session):
    pats = [create_pat(api, session, ["read"]), create_pat(api, session, ["read", "write"])]
    staff = admin_session(api, make_account(ADMIN, is_superuser=True))

    response = api.get(f"{ADMIN_USERS}/{user.pk}/tokens", **bearer(staff))

    assert response.status_code == 200, response.content
    listed = {item["id"]: item for item in response.json()["data"]["items"]}
    assert set(listed) == {pat["id"] for pat in pats} | {session_of({"access_token": session}).pk}
    for pat in pats:
        assert listed[pat["id"]]["kind"] == "personal"
        assert listed[pat["id"]]["prefix"] == pat["prefix"]
        assert listed[pat["id"]]["scopes"] == pat["scopes"]
        assert pat["token"].encode() not in response.content
    assert b'"token"' not in response.content


def test_admin_revoking_a_users_tokens_stops_their_personal_tokens(api, user, session):
    pats = [pat_of(api, session, ["read"]), pat_of(api, session, ["read", "write"])]
    staff = admin_session(api, make_account(ADMIN, is_superuser=True))

    response = api.delete(f"{ADMIN_USERS}/{user.pk}/tokens", **bearer(staff))

    assert response.status_code == 200, response.content
    assert response.json()["data"] == {"revoked": 3}
    for pat in pats:
        assert_unauthorized(api.get(ME, **bearer(pat)), "TOKEN_INVALID")
    assert_unauthorized(api.get(ME, **bearer(session)), "TOKEN_INVALID")
    assert api.get(ADMIN_ME, **bearer(staff)).status_code == 200
