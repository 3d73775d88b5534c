"""Bearer authentication, as a client of `GET /api/v1/users/me` sees it."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import make_user
from accounts.tests.helpers import assert_error, bearer, login, login_pair
from admins.tests.factories import make_admin
from tokens.models import Token
from tokens.services import session_start
from tokens.tests.helpers import claims, session_of, sign, tamper

pytestmark = pytest.mark.django_db

ME = "/api/v1/users/me"


def assert_unauthorized(response, code):
    body = assert_error(response, 401, code)
    assert response["WWW-Authenticate"] == "Bearer"
    return body


@pytest.fixture
def user():
    return make_user()


@pytest.fixture
def pair(api, user):
    return login_pair(api, user.username)


# --- A valid token -------------------------------------------------------------------


def test_valid_access_token_reads_the_profile(api, user, pair):
    response = api.get(ME, **bearer(pair["access_token"]))

    assert response.status_code == 200
    assert response.json()["data"]["id"] == user.pk
    assert response.json()["data"]["username"] == user.username


def test_authenticated_get_costs_one_query_and_writes_nothing(api, pair, django_assert_num_queries):
    session = session_of(pair)

    with django_assert_num_queries(1) as captured:
        response = api.get(ME, **bearer(pair["access_token"]))

    assert response.status_code == 200
    assert captured.captured_queries[0]["sql"].lstrip().upper().startswith("SELECT")
    fresh = Token.objects.get(pk=session.pk)
    assert (fresh.last_used_at, fresh.revoked_at) == (session.last_used_at, None)


# --- Missing or malformed credentials ------------------------------------------------


def test_no_authorization_header_is_not_authenticated(api):
    assert_unauthorized(api.get(ME), "NOT_AUTHENTICATED")


def test_other_scheme_is_not_authenticated(api):
    response = api.get(ME, HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")

    assert_unauthorized(response, "NOT_AUTHENTICATED")


def test_bearer_without_a_token_is_token_invalid(api):
    assert_unauthorized(api.get(ME, HTTP_AUTHORIZATION="Bearer"), "TOKEN_INVALID")


def test_bearer_with_two_parts_is_token_invalid(api, pair):
    response = api.get(ME, HTTP_AUTHORIZATION=f"Bearer {pair['access_token']} extra")

    assert_unauthorized(response, "TOKEN_INVALID")


@pytest.mark.parametrize("garbage", ["garbage", "a.b.c", "pat_", "eyJhbGciOiJIUzI1NiJ9.."])
def test_garbage_token_is_token_invalid(api, garbage):
    assert_unauthorized(api.get(ME, **bearer(garbage)), "TOKEN_INVALID")


def test_bearer_scheme_is_case_insensitive(api, pair):
    response = api.get(ME, HTTP_AUTHORIZATION=f"bearer {pair['access_token']}")

    assert response.status_code == 200


# --- Forged tokens -------------------------------------------------------------------


def test_tampered_signature_is_token_invalid(api, pair):
    response = api.get(ME, **bearer(tamper(pair["access_token"])))

    assert_unauthorized(response, "TOKEN_INVALID")


def test_alg_none_token_is_token_invalid(api, pair):
    unsigned = jwt.encode(claims(pair["access_token"]), key="", algorithm="none")

    assert_unauthorized(api.get(ME, **bearer(unsigned)), "TOKEN_INVALID")


def test_hand_built_alg_none_token_with_empty_signature_is_token_invalid(api, pair):
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    token = f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims(pair['access_token']))}."

    assert_unauthorized(api.get(ME, **bearer(token)), "TOKEN_INVALID")


# The test secret is shorter than HS512's recommended key length; PyJWT warns when signing,
# which is beside the point here: the server must refuse the algorithm whatever the key.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_token_signed_with_another_algorithm_and_the_right_key_is_token_invalid(api, pair):
    """Only the configured algorithm is accepted, even with the real secret."""
    forged = sign(claims(pair["access_token"]), algorithm="HS512")

    assert_unauthorized(api.get(ME, **bearer(forged)), "TOKEN_INVALID")


def test_token_signed_with_another_key_is_token_invalid(api, pair):
    forged = sign(claims(pair["access_token"]), key="not-the-server-secret-" * 3)

    assert_unauthorized(api.get(ME, **bearer(forged)), "TOKEN_INVALID")


def test_refresh_token_used_as_access_token_is_token_invalid(api, pair):
    assert_unauthorized(api.get(ME, **bearer(pair["refresh_token"])), "TOKEN_INVALID")


def test_well_signed_token_for_an_unknown_session_is_token_invalid(api, pair):
    payload = {**claims(pair["access_token"]), "sid": "no-such-session"}

    assert_unauthorized(api.get(ME, **bearer(sign(payload))), "TOKEN_INVALID")


@pytest.mark.parametrize("sid", [None, 42, ["a"]], ids=["missing", "number", "list"])
def test_well_signed_access_token_without_a_session_key_is_token_invalid(api, pair, sid):
    payload = claims(pair["access_token"])
    if sid is None:
        del payload["sid"]
    else:
        payload["sid"] = sid
    tokens_before = list(Token.objects.values_list("pk", "last_used_at", "revoked_at"))

    assert_unauthorized(api.get(ME, **bearer(sign(payload))), "TOKEN_INVALID")

    assert list(Token.objects.values_list("pk", "last_used_at", "revoked_at")) == tokens_before


def test_the_session_key_as_jti_alone_no_longer_names_a_session(api, pair):
    """Only `sid` names the session: a token whose `jti` is the session key and that has no
    `sid` (the old format) is refused."""
    payload = claims(pair["access_token"])
    payload["jti"] = payload.pop("sid")

    assert_unauthorized(api.get(ME, **bearer(sign(payload))), "TOKEN_INVALID")


# --- Expiry --------------------------------------------------------------------------


def test_access_token_past_its_lifetime_is_token_expired(api, pair):
    lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]

    with time_machine.travel(timezone.now() + lifetime + timedelta(seconds=1), tick=False):
        response = api.get(ME, **bearer(pair["access_token"]))

    assert_unauthorized(response, "TOKEN_EXPIRED")


def test_access_token_with_a_past_exp_is_token_expired(api, pair):
    past = int((timezone.now() - timedelta(minutes=1)).timestamp())
    expired = sign({**claims(pair["access_token"]), "exp": past})

    assert_unauthorized(api.get(ME, **bearer(expired)), "TOKEN_EXPIRED")


def test_access_token_of_an_expired_session_row_is_token_invalid(api, pair):
    Token.objects.filter(pk=session_of(pair).pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert_unauthorized(api.get(ME, **bearer(pair["access_token"])), "TOKEN_INVALID")


# --- Revocation and the owner's state ------------------------------------------------


def test_access_token_after_logout_is_token_invalid(api, pair):
    assert api.post("/api/v1/auth/logout", **bearer(pair["access_token"])).status_code == 200

    assert_unauthorized(api.get(ME, **bearer(pair["access_token"])), "TOKEN_INVALID")


def test_access_token_of_a_blocked_owner_is_token_invalid(api, user, pair):
    User.objects.filter(pk=user.pk).update(is_active=False)

    assert_unauthorized(api.get(ME, **bearer(pair["access_token"])), "TOKEN_INVALID")


def test_access_token_of_a_soft_deleted_owner_is_token_invalid(api, user, pair):
    User.objects.filter(pk=user.pk).update(deleted_at=timezone.now())

    assert_unauthorized(api.get(ME, **bearer(pair["access_token"])), "TOKEN_INVALID")


# --- Realms --------------------------------------------------------------------------


def test_admin_session_token_on_the_user_realm_is_forbidden(api):
    admin_pair = session_start(owner=make_admin(), ip="127.0.0.1", user_agent="test")

    response = api.get(ME, **bearer(admin_pair["access_token"]))

    assert_error(response, 403, "FORBIDDEN")
    assert "data" not in response.json()


def test_admin_token_never_acts_as_the_user_with_the_same_id(api):
    user = make_user(name="The User")
    admin = make_admin(id=user.pk)
    admin_pair = session_start(owner=admin, ip="127.0.0.1", user_agent="test")
    assert admin.pk == user.pk

    read = api.get(ME, **bearer(admin_pair["access_token"]))
    write = api.patch(ME, {"name": "Hijacked"}, format="json", **bearer(admin_pair["access_token"]))

    assert_error(read, 403, "FORBIDDEN")
    assert_error(write, 403, "FORBIDDEN")
    assert user.username.encode() not in read.content
    assert User.objects.get(pk=user.pk).name == "The User"


# --- Secrets stay secret -------------------------------------------------------------


def test_responses_never_contain_the_token_hash(api, user):
    logged_in = login(api, user.username)
    pair = logged_in.json()["data"]
    session = session_of(pair)
    me = api.get(ME, **bearer(pair["access_token"]))
    refreshed = api.post(
        "/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json"
    )

    for response in (logged_in, me, refreshed):
        assert response.status_code == 200
        assert session.token_hash.encode() not in response.content
        assert b"token_hash" not in response.content


def test_token_str_never_contains_the_hash(pair):
    session = session_of(pair)

    assert session.token_hash not in str(session)
    assert session.token_hash not in repr(session)
