"""
The session's JWTs, signed and checked with PyJWT and one shared secret.

Two types, named by the `token_type` claim: `access` (sent as the bearer credential) and
`refresh` (sent to rotate the session). Each carries `sid`, the session key (the session
row holds its digest), a `jti` and its `iat` and `exp`. Checking accepts only the
configured HMAC algorithm (never `none`, never another one an attacker picks), requires
every claim, and allows no leeway on `exp`.

PyJWT directly, not a token class library: an access token is checked on every
authenticated request, and the check is one HMAC and one JSON decode.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jwt
from django.conf import settings

from config.api.exceptions import TokenExpired, TokenInvalid

ACCESS = "access"
REFRESH = "refresh"
_REQUIRED = ["token_type", "sid", "jti", "iat", "exp"]


def encode(
    *, token_type: str, sid: str, jti: str, issued_at: datetime, expires_at: datetime
) -> str:
    claims = {
        "token_type": token_type,
        "sid": sid,
        "jti": jti,
        "iat": int(issued_at.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    return jwt.encode(claims, settings.JWT_SIGNING_KEY, algorithm=settings.JWT_ALGORITHM)


def decode(token: str, *, token_type: str) -> dict[str, Any]:
    """The claims of a valid, unexpired JWT of `token_type`; else 401 TOKEN_EXPIRED (past
    its `exp`) or TOKEN_INVALID (anything else)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.JWT_SIGNING_KEY,
            algorithms=[settings.JWT_ALGORITHM],
            options={"require": _REQUIRED},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired() from exc
    except jwt.InvalidTokenError as exc:
        raise TokenInvalid() from exc
    if (
        claims["token_type"] != token_type
        or not isinstance(claims["sid"], str)
        or not isinstance(claims["jti"], str)
    ):
        raise TokenInvalid()
    return claims
