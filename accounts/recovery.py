"""
Account recovery, for either realm: password reset and "this wasn't me".

Services, like `accounts.services`, holding the transactions; the flows are only
enqueued here, and the mails go out from the worker (`accounts.tasks`).

- A reset request enqueues one task and does nothing else, whatever the address: the
  answer and its time say nothing about whether an account has it. The worker looks the
  address up and applies the per-address cap.
- A reset confirm judges the new password first (a refused password leaves the code
  usable), then uses the code and sets the password in one transaction: every session
  and personal access token of the account ends, its lockout is cleared, a notice goes
  out.
- Securing an account ("this wasn't me") uses its code, ends every session, personal
  access token and other code of the account, makes the password unusable and mails a
  new reset link.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from accounts.mail import PASSWORD_RESET, Notice
from accounts.models import AbstractAccount
from accounts.notices import account_notify
from accounts.services import account_set_password, account_unlock, password_validate
from accounts.tasks import mail_enqueue, password_reset_enqueue
from tokens.codes import code_consume, code_invalid, code_peek, codes_end_all
from tokens.models import CodePurpose
from tokens.realms import Realm, realm_of
from tokens.services import token_revoke_all

logger = logging.getLogger("accounts.auth")


def _owner(realm: Realm, row: Any) -> AbstractAccount:
    account: AbstractAccount = getattr(row, realm.owner_field)
    return account


def _log(event: str, *, realm: Realm, account: AbstractAccount) -> None:
    logger.info(
        "%s realm=%s account=%s",
        event,
        realm.name,
        account.pk,
        extra={"event": event, "realm": realm.name, "account_id": account.pk},
    )


def password_reset_request(*, realm: Realm, email: str) -> None:
    """Ask for a reset link for `email`; always the same outcome for the caller."""
    password_reset_enqueue(realm=realm, email=email)


def _usable_owner(realm: Realm, row: Any) -> AbstractAccount:
    """The code's account, if it may still use it: a code of an account deleted or
    blocked since it was mailed is refused like an unknown one."""
    account = _owner(realm, row)
    if account.deleted_at is not None or not account.is_active:
        raise code_invalid()
    return account


@transaction.atomic
def password_reset_confirm(*, realm: Realm, code: str, new_password: str) -> AbstractAccount:
    """Set a new password with a reset code; 400 `details.token` for a code that does not
    work, 400 `details.new_password` for a password the validators refuse (the code stays
    usable)."""
    account = _usable_owner(
        realm, code_peek(realm=realm, purpose=CodePurpose.PASSWORD_RESET, code=code)
    )
    password_validate(account=account, password=new_password, field="new_password")
    row = code_consume(realm=realm, purpose=CodePurpose.PASSWORD_RESET, code=code)
    account = _usable_owner(realm, row)
    account_set_password(account=account, password=new_password, field="new_password")
    account_unlock(account=account)
    account_notify(account=account, notice=Notice.PASSWORD_RESET)
    _log("password_reset_completed", realm=realm, account=account)
    return account


def password_reset_send(*, account: AbstractAccount) -> None:
    """Mail `account` a reset link (staff's "send password reset"), through the same
    worker path and per-address cap as a request by its address."""
    password_reset_enqueue(realm=realm_of(account), email=account.email)


@transaction.atomic
def account_secure(*, realm: Realm, code: str) -> AbstractAccount:
    """ "This wasn't me": every session, personal access token and code of the account
    ends, its password stops working, and a new reset link is mailed to it."""
    row = code_consume(realm=realm, purpose=CodePurpose.SECURE_ACCOUNT, code=code)
    account = _usable_owner(realm, row)
    account.set_unusable_password()
    account.save(update_fields=["password", "updated_at"])
    token_revoke_all(owner=account)
    codes_end_all(account=account)
    mail_enqueue(account=account, mail=PASSWORD_RESET)
    _log("account_secured", realm=realm, account=account)
    return account
