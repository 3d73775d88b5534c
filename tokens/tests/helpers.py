"""Helpers for the tokens app's tests: reading and forging JWTs, finding a session's row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jwt
from django.conf import settings

from tokens.crypto import digest
from tokens.models import Token
from tokens.services import session_start

# The Token resource of the HTTP contract. `revoked_at` is shown too (always null in this
# list of live tokens); nothing else may appear, least of all a hash or the owner's id.
TOKEN_FIELDS = {
    "id",
    "name",
    "kind",
    "prefix",
    "scopes",
    "created_at",
    "last_used_at",
    "expires_at",
    "current",
}
TOLERATED_EXTRA = {"revoked_at"}
SESSION_ONLY = {"ip", "user_agent"}


def claims(token: str) -> dict[str, Any]:
    """A JWT's payload, read without checking its signature or expiry."""
    payload: dict[str, Any] = jwt.decode(
        token, options={"verify_signature": False, "verify_exp": False}
    )
    return payload


def sign(payload: dict[str, Any], *, algorithm: str = "HS256", key: str | None = None) -> str:
    """A JWT signed with the project's own key (or `key`): what only the server could make."""
    return jwt.encode(payload, key or settings.JWT_SIGNING_KEY, algorithm=algorithm)


def session_of(pair: Mapping[str, Any]) -> Token:
    """The session row behind a token pair (the access token's `sid` is the session key)."""
    return Token.objects.get(token_hash=digest(claims(pair["access_token"])["sid"]))


def tamper(token: str) -> str:
    """The token with one character of its signature changed.

    The first character, not the last: the last base64url character of a signature carries
    padding bits, and some changes to it decode to the very same bytes.
    """
    header, payload, signature = token.split(".")
    first = "A" if signature[0] != "A" else "B"
    return f"{header}.{payload}.{first}{signature[1:]}"


def make_session(owner: Any, **fields: Any) -> Token:
    """Start a real login session for `owner` and return its row, with `fields` then set."""
    row = session_of(session_start(owner=owner, ip="127.0.0.1", user_agent="test"))
    if fields:
        Token.objects.filter(pk=row.pk).update(**fields)
        row.refresh_from_db()
    return row
