"""
Email verification and confirmed email change, for either realm.

Services, like `accounts.services` and `accounts.recovery`, holding the transactions; the
mails are only enqueued here, and go out from the worker (`accounts.tasks`), which issues
each link's code bound to the address it is mailed to (`OneTimeCode.sent_to`).

- `EMAIL_VERIFICATION` (`none`, `optional`, `mandatory`) decides whether a registration
  mails a verification link (`optional`, `mandatory`) and whether a login needs a verified
  address (`mandatory`, `email_verification_check`).
- A self-service change of `email` sets `pending_email` (`accounts.services.account_update`
  with `confirm_email`); the link mailed to the new address makes it the `email`.
- Using a link (`email_verify`) verifies the address the code was mailed to, and only if
  that is still the account's `pending_email` or unverified `email`: a link mailed to an
  earlier address verifies nothing. A pending address must still be free then; when
  another account took it meanwhile, the answer is 400 `details.token`, nothing changes
  and the code is left unused (see `email_verify`).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.mail import EMAIL_VERIFY
from accounts.models import AbstractAccount
from accounts.tasks import mail_enqueue
from accounts.throttling import throttle_email_verify_resend
from accounts.validators import fold_identifier
from config.api.exceptions import EmailNotVerified, RateLimited
from tokens.codes import code_consume, code_invalid, code_peek
from tokens.events import event_record
from tokens.models import CodePurpose, EventName
from tokens.realms import Realm, realm_of

logger = logging.getLogger("accounts.auth")

ADDRESS_TAKEN = (
    "Another account uses this address now, so it cannot become yours. "
    "Ask for a change to another address."
)
NOTHING_TO_VERIFY = "This address is verified already, and no change of it is waiting."


def _log(event: str, *, realm: Realm, account: AbstractAccount, **extra: Any) -> None:
    # The account's id; never an address, never a code.
    logger.info(
        "%s realm=%s account=%s",
        event,
        realm.name,
        account.pk,
        extra={"event": event, "realm": realm.name, "account_id": account.pk, **extra},
    )


def verification_enabled() -> bool:
    """Whether registrations mail a verification link (`optional` or `mandatory`)."""
    return bool(settings.EMAIL_VERIFICATION != "none")


def verification_mail_enqueue(*, account: AbstractAccount, to: str) -> None:
    """Enqueue a verification link to `to` (the account's `email` or `pending_email`), in
    the caller's transaction; the worker's new code ends the account's older ones."""
    mail_enqueue(account=account, mail=EMAIL_VERIFY, to=to)


def address_to_verify(account: AbstractAccount) -> str | None:
    """The address a new verification link would go to: the pending one, else an
    unverified `email`; None when there is nothing to verify."""
    if account.pending_email:
        return account.pending_email
    return None if account.email_verified else account.email


def email_verification_check(*, realm: Realm, account: AbstractAccount) -> None:
    """Under `EMAIL_VERIFICATION=mandatory`, an account whose address is not verified may
    not log in: 403 `EMAIL_NOT_VERIFIED` (called once the password is known right).

    The refusal mails a new link (at most `EMAIL_VERIFY_RESEND_RATE_LIMIT` per account,
    silently beyond), because the holder has no session to ask for one: the first link may
    have expired or been lost.
    """
    if settings.EMAIL_VERIFICATION != "mandatory" or account.email_verified:
        return
    try:
        throttle_email_verify_resend(account=account)
    except RateLimited:
        pass
    else:
        verification_mail_enqueue(account=account, to=account.email)
    raise EmailNotVerified()


@transaction.atomic
def email_verify_resend(*, account: AbstractAccount) -> str:
    """Mail a new verification link to the pending address, else to the unverified
    `email`; return that address. Throttled per account (429). An account with nothing to
    verify is 400 `details.email` and gets no mail: the caller is the account itself, so
    saying so tells nobody else anything, and a client that asks needs to know."""
    throttle_email_verify_resend(account=account)
    to = address_to_verify(account)
    if to is None:
        raise ValidationError({"email": [NOTHING_TO_VERIFY]})
    verification_mail_enqueue(account=account, to=to)
    _log("email_verification_sent", realm=realm_of(account), account=account)
    return to


def _locked_owner(realm: Realm, row: Any) -> AbstractAccount:
    """The code's account, its row locked until the transaction ends (a concurrent change
    of its email waits), if it may still use the code: a code of an account deleted or
    blocked since it was mailed is refused like an unknown one."""
    owner: AbstractAccount = getattr(row, realm.owner_field)
    account: AbstractAccount = (
        realm.model._default_manager.select_for_update().filter(pk=owner.pk).first()
    )
    if account is None or account.deleted_at is not None or not account.is_active:
        raise code_invalid()
    return account


@transaction.atomic
def email_verify(*, realm: Realm, code: str) -> AbstractAccount:
    """Use a verification code: the address it was mailed to is verified, and a pending
    address becomes the account's `email`. 400 `details.token` for a code that does not
    work (unknown, expired, used, another purpose or realm, or mailed to an address that
    is no longer the account's pending or unverified one).

    A pending address another account has taken since the request (it held no identifier
    row) is 400 `details.token` too, and the code stays unused: nothing at all changes,
    as for every other refusal, and should the address become free again within the
    code's lifetime, the same link completes the change the holder asked for. The holder
    learns that the address is taken, which only the owner of that mailbox can ask.
    """
    row = code_peek(realm=realm, purpose=CodePurpose.EMAIL_VERIFY, code=code)
    account = _locked_owner(realm, row)
    sent_to = fold_identifier(row.sent_to)
    if account.pending_email and fold_identifier(account.pending_email) == sent_to:
        new_email = account.pending_email
        if realm.model._default_manager.conflicts(exclude_pk=account.pk, email=new_email):
            raise ValidationError({"token": [ADDRESS_TAKEN]})
        code_consume(realm=realm, purpose=CodePurpose.EMAIL_VERIFY, code=code)
        account.email, account.pending_email, account.email_verified = new_email, None, True
        try:
            with transaction.atomic():
                # The save moves the identifier row from the old address to the new one.
                account.save(
                    update_fields=["email", "pending_email", "email_verified", "updated_at"]
                )
        except IntegrityError:
            # Taken in the moment since the check: the unique index decided.
            raise ValidationError({"token": [ADDRESS_TAKEN]}) from None
        event_record(event=EventName.EMAIL_CHANGED, realm=realm, account=account)
        return account
    if account.email_verified or fold_identifier(account.email) != sent_to:
        # Mailed to an address this account no longer has, or no longer waits for.
        raise code_invalid()
    code_consume(realm=realm, purpose=CodePurpose.EMAIL_VERIFY, code=code)
    account.email_verified = True
    account.save(update_fields=["email_verified", "updated_at"])
    event_record(event=EventName.EMAIL_VERIFIED, realm=realm, account=account)
    return account
