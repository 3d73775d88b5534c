"""
Security notices: a mail to the account's own address when something about its security
changes, with a "this wasn't me" link (`SECURE_ACCOUNT_PATH`) that secures the account.

`account_notify` is the one function every such change calls, in its own transaction:
a password changed (the API, the admin site's forms) or reset, an email change requested
(the notice goes to the old address), a second factor enabled or disabled, recovery
codes regenerated.
"""

from __future__ import annotations

from typing import Any

from accounts.mail import Notice, notice_mail
from accounts.tasks import mail_enqueue

__all__ = ["Notice", "account_notify"]


def account_notify(*, account: Any, notice: Notice, to: str = "") -> None:
    """Enqueue the notice's mail to `account` (to `to`, or the account's address when the
    worker sends it), in the caller's transaction: a change that rolls back sends none."""
    mail_enqueue(account=account, mail=notice_mail(notice), to=to)
