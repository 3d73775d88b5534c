"""
Bearer authentication for every realm: `Authorization: Bearer <token>`.

A JWT access token is checked by simplejwt (signature with the configured algorithm only,
`exp`, token type), then its `jti` is resolved to the session row and its owner in one
query. A revoked or expired row, or an owner that is blocked or soft-deleted, is
`TOKEN_INVALID`: logout, block and delete take effect on the very next request.

`request.user` is the owner (a `User` or an `Admin`), `request.auth` the `Token` row; the
realm permission classes decide which owners an endpoint serves. simplejwt's own
`JWTAuthentication` is never used: it would resolve ids against `AUTH_USER_MODEL`.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.tokens import AccessToken

from config.api.exceptions import TokenExpired, TokenInvalid
from tokens.crypto import digest
from tokens.models import Token, TokenKind
from tokens.services import owner_is_usable


class BearerAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[Any, Token] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise TokenInvalid("Malformed Authorization header")
        try:
            credential = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise TokenInvalid() from exc
        return self._authenticate_jwt(credential)

    def _authenticate_jwt(self, credential: str) -> tuple[Any, Token]:
        try:
            access = AccessToken(credential)  # type: ignore[arg-type]
        except ExpiredTokenError as exc:
            raise TokenExpired() from exc
        except TokenError as exc:
            raise TokenInvalid() from exc
        jti = access.get("jti")
        if not isinstance(jti, str):
            raise TokenInvalid()
        session = (
            Token.objects.select_related("user", "admin")
            .filter(token_hash=digest(jti), kind=TokenKind.SESSION)
            .first()
        )
        if session is None or not session.is_live(timezone.now()):
            raise TokenInvalid()
        owner = session.owner
        if not owner_is_usable(owner):
            raise TokenInvalid()
        return owner, session

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"
