"""The session's JWTs (`tokens.signing`): standard tokens, accepted only in the exact form
the server writes them, through `GET /users/me`. The forgeries are made with PyJWT, the
library an attacker would use."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from config.testing import assert_error, bearer, login
from tokens.realms import USER
from tokens.tests.factories import make_account
from tokens.tests.helpers import claims, sign

pytestmark = pytest.mark.django_db

ME = "/api/v1/users/me"


@pytest.fixture
def access(api) -> str:
    make_account(USER, username="ada")
    token: str = login(api, USER, "ada").json()["data"]["access_token"]
    return token


def _part(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signed(header: str, body: str, key: str | None = None) -> str:
    """`header.body` with the HS256 signature of the server's key (or `key`)."""
    signed = f"{header}.{body}"
    mac = hmac.digest((key or settings.JWT_SIGNING_KEY).encode(), signed.encode(), hashlib.sha256)
    return f"{signed}.{_part(mac)}"


def _json(value: Any, **dumps: Any) -> str:
    return _part(json.dumps(value, **dumps).encode())


OUR_HEADER = _json({"alg": "HS256", "typ": "JWT"}, separators=(",", ":"))


def _refused(api, token: str, code: str = "TOKEN_INVALID") -> None:
    response = api.get(ME, **bearer(token))
    assert_error(response, 401, code)
    assert response["WWW-Authenticate"] == "Bearer"


def test_an_issued_token_is_a_standard_jwt_that_pyjwt_reads(access):
    read = jwt.decode(access, settings.JWT_SIGNING_KEY, algorithms=["HS256"])

    assert set(read) == {"token_type", "sid", "jti", "iat", "exp"}
    assert jwt.get_unverified_header(access) == {"alg": "HS256", "typ": "JWT"}


def test_a_token_pyjwt_signs_with_the_servers_key_and_header_is_accepted(api, access):
    """Tokens issued by earlier releases (signed with PyJWT) keep working."""
    assert api.get(ME, **bearer(sign(claims(access)))).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        {"typ": "JWT", "alg": "HS256"},  # the same fields in another order
        {"alg": "HS256"},
        {"alg": "HS256", "typ": "JWT", "kid": "1"},
        {"alg": "HS256", "typ": "JWT", "jku": "https://attacker.example/keys"},
        {"alg": "none", "typ": "JWT"},
        {"alg": "HS512", "typ": "JWT"},
        {"alg": "RS256", "typ": "JWT"},
    ],
)
def test_a_token_signed_with_the_right_key_under_any_other_header_is_invalid(api, access, header):
    body = access.split(".")[1]

    _refused(api, _signed(_json(header, separators=(",", ":")), body))


def test_our_header_with_spaces_in_its_json_is_another_header(api, access):
    body = access.split(".")[1]

    _refused(api, _signed(_json({"alg": "HS256", "typ": "JWT"}), body))


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("exp", "9999999999"),
        ("exp", 9_999_999_999.5),
        ("exp", True),
        ("exp", None),
        ("iat", "0"),
        ("sid", 42),
        ("jti", ["a"]),
        ("token_type", None),
    ],
)
def test_a_signed_token_with_a_claim_of_the_wrong_type_is_invalid(api, access, claim, value):
    payload = {**claims(access), claim: value}

    _refused(api, _signed(OUR_HEADER, _json(payload)))


@pytest.mark.parametrize("claim", ["token_type", "sid", "jti", "iat", "exp"])
def test_a_signed_token_missing_a_claim_is_invalid(api, access, claim):
    payload = {key: value for key, value in claims(access).items() if key != claim}

    _refused(api, _signed(OUR_HEADER, _json(payload)))


@pytest.mark.parametrize(
    "body",
    [
        _part(b"not json"),
        _json(["a", "list"]),
        "%%%",  # not base64url
        "",
        _part(b"\xff\xfe"),
    ],
)
def test_a_signed_token_whose_body_is_not_a_claims_object_is_invalid(api, body):
    _refused(api, _signed(OUR_HEADER, body))


@pytest.mark.parametrize(
    "shape",
    ["{h}.{b}", "{h}.{b}.{s}.{s}", "{h}..{b}.{s}", "{h}.{b}.", ".{b}.{s}", "{h}.{b}.{s}é"],
)
def test_a_token_of_another_shape_is_invalid(api, access, shape):
    header, body, signature = access.split(".")

    _refused(api, shape.format(h=header, b=body, s=signature))


def test_a_forged_signature_on_an_expired_token_is_invalid_not_expired(api, access):
    payload = {**claims(access), "exp": int(timezone.now().timestamp()) - 60}

    _refused(api, _signed(OUR_HEADER, _json(payload), key="not-the-servers-key" * 3))
    _refused(api, _signed(OUR_HEADER, _json(payload)), "TOKEN_EXPIRED")


def test_exp_allows_no_leeway(api, access):
    exp = claims(access)["exp"]

    with time_machine.travel(exp - 1, tick=False):
        assert api.get(ME, **bearer(access)).status_code == 200
    with time_machine.travel(exp, tick=False):
        _refused(api, access, "TOKEN_EXPIRED")


def test_a_non_ascii_token_in_a_refresh_body_is_invalid(api, access):
    response = api.post("/api/v1/auth/refresh", {"refresh_token": "é.é.é"}, format="json")

    assert_error(response, 401, "TOKEN_INVALID")
