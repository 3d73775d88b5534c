"""
Bearer authentication for every realm: `Authorization: Bearer <token>`.

Two kinds of bearer token:

- a personal access token (`pat_...`), recognised by its prefix before any JWT parsing;
  a bad checksum is refused without a query, a good one is looked up by its digest;
- a JWT access token, checked by `tokens.signing` (signature with the configured
  algorithm only, `exp`, token type), whose `sid` is the session key, looked up by its
  digest (its `jti` is new on every issue and names nothing).

Either way the row and its owner come in one query. A revoked row, or an owner that is
blocked or soft-deleted, is `TOKEN_INVALID`: logout, block and delete take effect on the
very next request. `last_used_at` is written at most once a minute.

`request.user` is the owner (a `User` or an `Admin`), `request.auth` the `Token` row; the
realm permission classes decide which owners an endpoint serves.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from config.api.exceptions import TokenExpired, TokenInvalid
from tokens import signing
from tokens.crypto import digest, is_personal_token, personal_token_is_well_formed
from tokens.lookup import token_with_owner
from tokens.models import Token, TokenKind
from tokens.services import owner_is_usable, token_touch


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
        if is_personal_token(credential):
            if not personal_token_is_well_formed(credential):
                raise TokenInvalid()
            return self._resolve(digest(credential), TokenKind.PERSONAL)
        return self._resolve(self._session_key(credential), TokenKind.SESSION)

    @staticmethod
    def _session_key(credential: str) -> str:
        return digest(signing.decode(credential, token_type=signing.ACCESS)["sid"])

    @staticmethod
    def _resolve(token_hash: str, kind: str) -> tuple[Any, Token]:
        token = token_with_owner(token_hash=token_hash, kind=kind)
        now = timezone.now()
        if token is None or token.revoked_at is not None:
            raise TokenInvalid()
        if token.expires_at <= now:
            # A session's access token never outlives it, so this is a personal token.
            raise TokenExpired() if kind == TokenKind.PERSONAL else TokenInvalid()
        owner = token.owner
        if not owner_is_usable(owner):
            raise TokenInvalid()
        token_touch(token=token, now=now)
        return owner, token

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"
