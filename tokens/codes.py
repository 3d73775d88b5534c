"""
One-time codes: the secrets in the links the project mails (password reset, email
verification, "this wasn't me").

A code is 256 random bits, shown once (in the mail) and stored only as its SHA-256
digest, looked up through the digest's unique index as tokens are. It is bound to one
account, one realm and one purpose, expires after its purpose's lifetime, and is used
at most once: `code_consume` marks it used with one conditional UPDATE, in the
transaction of the change it authorises, so of two concurrent uses exactly one wins and
a change that rolls back leaves the code usable. Issuing a code deletes the account's
older codes of the same purpose, so an account holds at most one row per purpose.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from tokens.crypto import digest
from tokens.models import CodePurpose, OneTimeCode
from tokens.realms import Realm, realm_of

# One message for every refusal (unknown, expired, used, another purpose, another realm):
# a caller learns nothing about which it was.
INVALID_CODE = "This link is invalid or has expired. Ask for a new one."
# Anything longer is not one of ours; it is refused before it is hashed.
MAX_CODE_LENGTH = 128


def code_lifetime(purpose: str) -> timedelta:
    """How long a code of `purpose` lives (each purpose has its own setting)."""
    if purpose == CodePurpose.PASSWORD_RESET:
        return timedelta(minutes=settings.PASSWORD_RESET_TIMEOUT_MINUTES)
    if purpose == CodePurpose.EMAIL_VERIFY:
        return timedelta(hours=settings.EMAIL_VERIFY_TIMEOUT_HOURS)
    if purpose == CodePurpose.SECURE_ACCOUNT:
        return timedelta(days=settings.SECURE_ACCOUNT_TIMEOUT_DAYS)
    raise ValueError(f"unknown code purpose {purpose!r}")


def code_issue(*, account: Any, purpose: str, sent_to: str = "") -> str:
    """A new code for `account` and `purpose`; the account's older codes of that purpose
    stop working. Returns the code itself, which is never stored."""
    lifetime = code_lifetime(purpose)
    owner = {realm_of(account).owner_field: account}
    OneTimeCode.objects.filter(purpose=purpose, **owner).delete()
    code = secrets.token_urlsafe(32)
    OneTimeCode.objects.create(
        purpose=purpose,
        code_hash=digest(code),
        sent_to=sent_to,
        expires_at=timezone.now() + lifetime,
        **owner,
    )
    return code


def code_invalid() -> ValidationError:
    """The one refusal of a code, whatever was wrong with it."""
    return ValidationError({"token": [INVALID_CODE]})


def _matching(*, realm: Realm, purpose: str, code: str) -> Any:
    if not code or len(code) > MAX_CODE_LENGTH:
        return OneTimeCode.objects.none()
    return (
        OneTimeCode.objects.of_realm(realm).usable().filter(code_hash=digest(code), purpose=purpose)
    )


def code_peek(*, realm: Realm, purpose: str, code: str) -> OneTimeCode:
    """The usable code row `code` names, without using it (a password reset judges the new
    password against the account before it spends the code); 400 `details.token` else."""
    row = _matching(realm=realm, purpose=purpose, code=code).select_related(realm.owner_field)
    found: OneTimeCode | None = row.first()
    if found is None:
        raise code_invalid()
    return found


def code_consume(*, realm: Realm, purpose: str, code: str) -> OneTimeCode:
    """Use `code` once; return its row (with its owner). 400 `details.token` when it is
    unknown, expired, used, of another purpose or of the other realm.

    One conditional UPDATE marks it used: two concurrent uses both try, the database lets
    exactly one of them match. Call it inside the transaction of the change the code
    authorises, so that a change that fails leaves the code unused.
    """
    now = timezone.now()
    used = _matching(realm=realm, purpose=purpose, code=code).update(used_at=now)
    if not used:
        raise code_invalid()
    row: OneTimeCode = OneTimeCode.objects.select_related(realm.owner_field).get(
        code_hash=digest(code)
    )
    return row


def codes_end_all(*, account: Any) -> int:
    """Delete every code of `account`, of every purpose (securing an account ends them)."""
    return int(OneTimeCode.objects.for_owner(account).delete()[0])
