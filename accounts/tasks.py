"""
Background tasks (django-tasks, database backend): the mails to account holders.

A service enqueues a task inside the transaction of the change it reports: the database
backend writes the task's row in that same transaction, so a change that rolls back
leaves no task behind, and a committed one leaves a row that waits until a worker
(`manage.py db_worker`) runs it, however long no worker runs.

A task's arguments are plain JSON naming what to send (realm, account id, mail kind),
never a code: the worker issues the code when it sends (`accounts.mail`). A delivery that
fails (the mail server refuses or does not answer) is tried again later, after each of
`RETRY_DELAYS` in turn, as a new task row with `run_after` and the next `attempt`; the
failed attempt's own row is marked failed, with the error. After the last one the mail
is logged as failed (`mail_failed`, level ERROR).
"""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from accounts.mail import MAILS, PASSWORD_RESET, MailKind, mail_send
from accounts.validators import normalize_email
from config.api.exceptions import RateLimited, ServiceUnavailable
from config.ratelimit import throttle
from tokens.realms import Realm, realm_named, realm_of

logger = logging.getLogger("accounts.mail")

# Seconds to wait before the 2nd, 3rd and 4th attempts: four attempts in all, over about
# 35 minutes, each wait longer than the last.
RETRY_DELAYS = (60, 300, 1800)
# What a delivery that may succeed later raises: the server refused for now, or could not
# be reached; the rate-limit cache (the per-address cap) did not answer.
TRANSIENT_ERRORS = (smtplib.SMTPException, OSError, ServiceUnavailable)


def _log(event: str, level: int, *, realm: str, account_id: Any, mail: str, **extra: Any) -> None:
    # The account's id and the mail's kind; never the address, never a code.
    logger.log(
        level,
        "%s realm=%s account=%s mail=%s",
        event,
        realm,
        account_id,
        mail,
        extra={"event": event, "realm": realm, "account_id": account_id, "mail": mail, **extra},
    )


def _retry_later(
    *, realm: str, account_id: int, mail: str, to: str, attempt: int, error: BaseException
) -> None:
    """Enqueue the next attempt, or log the mail as failed after the last one."""
    if attempt > len(RETRY_DELAYS):
        _log(
            "mail_failed",
            logging.ERROR,
            realm=realm,
            account_id=account_id,
            mail=mail,
            attempts=attempt,
            error=type(error).__name__,
        )
        return
    delay = RETRY_DELAYS[attempt - 1]
    account_mail_send.using(run_after=timezone.now() + timedelta(seconds=delay)).enqueue(
        realm=realm, account_id=account_id, mail=mail, to=to, attempt=attempt + 1
    )
    _log(
        "mail_retry",
        logging.WARNING,
        realm=realm,
        account_id=account_id,
        mail=mail,
        attempt=attempt,
        retry_in=delay,
        error=type(error).__name__,
    )


def _deliver(*, account: Any, kind: MailKind, to: str, attempt: int) -> None:
    realm = realm_of(account).name
    try:
        mail_send(account=account, kind=kind, to=to)
    except TRANSIENT_ERRORS as exc:
        _retry_later(
            realm=realm, account_id=account.pk, mail=kind.name, to=to, attempt=attempt, error=exc
        )
        # This attempt's row is marked failed, with the error.
        raise


def _mailable(realm_name: str) -> Any:
    """The accounts a mail may go to: not soft-deleted, not blocked."""
    return realm_named(realm_name).model.objects.active().filter(is_active=True)


@task()
def account_mail_send(
    *, realm: str, account_id: int, mail: str, to: str = "", attempt: int = 1
) -> None:
    """Send mail `mail` (a key of `accounts.mail.MAILS`) to an account: to `to`, or when
    empty to the account's address at the time of sending."""
    account = _mailable(realm).filter(pk=account_id).first()
    if account is None:
        # Deleted or blocked since: it gets no mail.
        _log("mail_skipped", logging.INFO, realm=realm, account_id=account_id, mail=mail)
        return
    _deliver(account=account, kind=MAILS[mail], to=to or account.email, attempt=attempt)


@task()
def password_reset_mail_send(*, realm: str, email: str) -> None:
    """A password reset asked for `email`: the request enqueued this whatever the address,
    so that it answers the same, in the same time, for every address.

    Here, and only here, the address is looked up: an account that is soft-deleted,
    blocked or unknown gets nothing; over `PASSWORD_RESET_EMAIL_LIMIT` mails per address,
    nothing is sent and no code is issued or ended (so nobody can flood an inbox, nor end a
    victim's link by asking again).
    """
    account = _mailable(realm).by_email(normalize_email(email)).first()
    if account is None:
        _log("password_reset_no_account", logging.INFO, realm=realm, account_id=None, mail="")
        return
    try:
        throttle(
            group=realm_named(realm).group("password-reset-mail"),
            rate=settings.PASSWORD_RESET_EMAIL_LIMIT,
            key=f"{realm}:{account.pk}",
        )
    except RateLimited:
        _log(
            "password_reset_capped",
            logging.WARNING,
            realm=realm,
            account_id=account.pk,
            mail=PASSWORD_RESET.name,
        )
        return
    except ServiceUnavailable as exc:
        _retry_later(
            realm=realm,
            account_id=account.pk,
            mail=PASSWORD_RESET.name,
            to="",
            attempt=1,
            error=exc,
        )
        raise
    _deliver(account=account, kind=PASSWORD_RESET, to=account.email, attempt=1)


def mail_enqueue(*, account: Any, mail: MailKind, to: str = "") -> None:
    """Enqueue `mail` for `account`, in the caller's transaction."""
    account_mail_send.enqueue(
        realm=realm_of(account).name, account_id=account.pk, mail=mail.name, to=to
    )


def password_reset_enqueue(*, realm: Realm, email: str) -> None:
    """Enqueue the lookup-and-send of a password reset for `email` in `realm`."""
    password_reset_mail_send.enqueue(realm=realm.name, email=email)
