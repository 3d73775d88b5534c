"""Scopes: what a personal access token may do. Login sessions have every scope.

`read` allows GET, HEAD and OPTIONS; `write` everything else. Managing tokens and
changing the password need a login session, whatever a personal token's scopes, and so
does every change to admin accounts (a token must never mint an account it could then log
in as).
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from config.api.exceptions import ErrorCode, InsufficientScope, MfaEnrollmentRequired
from tokens.models import Token, TokenKind
from tokens.realms import REALMS


def _personal(request: Request) -> Token | None:
    token = request.auth
    return token if isinstance(token, Token) and token.kind == TokenKind.PERSONAL else None


class HasScope(BasePermission):
    """A personal access token needs `read` to read and `write` to change anything."""

    def has_permission(self, request: Request, view: Any) -> bool:
        token = _personal(request)
        if token is None:
            return True
        needed = "read" if request.method in SAFE_METHODS else "write"
        if needed not in token.scopes:
            raise InsufficientScope(f"This token lacks the '{needed}' scope.")
        return True

    def refusals(self, method: str) -> tuple[ErrorCode, ...]:
        """The 403 codes of the OpenAPI document (config.api.schema): every token has
        `read`, so only a write can lack its scope."""
        return () if method in SAFE_METHODS else (ErrorCode.INSUFFICIENT_SCOPE,)


class RequiresSession(BasePermission):
    """Only a login session may do this (token management, password change, logout)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if _personal(request) is not None:
            raise InsufficientScope("This needs a login session, not a personal access token.")
        return True

    def refusals(self, method: str) -> tuple[ErrorCode, ...]:
        return (ErrorCode.INSUFFICIENT_SCOPE,)


class RequiresSessionToWrite(RequiresSession):
    """Reads are open to a personal access token (with `read`); every write needs a login
    session, whatever the token's scopes."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().has_permission(request, view)

    def refusals(self, method: str) -> tuple[ErrorCode, ...]:
        return () if method in SAFE_METHODS else (ErrorCode.INSUFFICIENT_SCOPE,)


class IsRealmAccount(BasePermission):
    """The bearer is an account of the view's realm (`view.realm`): another realm's token is
    403 here, no token 401."""

    def has_permission(self, request: Request, view: Any) -> bool:
        realm = view.realm
        self.message = f"This endpoint is for {realm.title}."
        return isinstance(request.user, realm.model)


class SecondFactorEnrolledIfRequired(BasePermission):
    """Where the caller's realm requires a second factor (`Realm.second_factor_policy`,
    e.g. `ADMIN_2FA_REQUIRED`), an account without a confirmed one is 403
    MFA_ENROLLMENT_REQUIRED. Every endpoint has it but the account's own profile, its
    second-factor enrolment and logout, which stay open so that it can enrol."""

    def has_permission(self, request: Request, view: Any) -> bool:
        account = request.user
        for realm in REALMS:
            if (
                isinstance(account, realm.model)
                and realm.second_factor_required()
                and not account.two_factor_enabled
            ):
                raise MfaEnrollmentRequired()
        return True

    def refusals(self, method: str) -> tuple[ErrorCode, ...]:
        return (ErrorCode.MFA_ENROLLMENT_REQUIRED,)
