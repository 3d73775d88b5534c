"""
The mails the project sends to account holders, and how one is built and delivered.

Every mail carries one link with a fresh one-time code (`tokens.codes`): a reset link, a
verification link, or, on a security notice, a "this wasn't me" link. The code is issued
by the worker at the moment it sends, never by the request, so no code ever sits in a
task's arguments in the clear. Links are built from the realm's frontend URL setting
(`FRONTEND_URL`, `ADMIN_FRONTEND_URL`) and the `*_PATH` settings only, never from a
request. Each mail renders `templates/mail/<name>.txt` and `.html` (a deployment may
replace them); the strings in them are marked for translation; none ever holds a
password, a session or a personal access token.

Sending is a task (`accounts.tasks`); this module knows nothing of tasks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import models, transaction
from django.template.loader import render_to_string
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tokens.codes import code_issue, code_lifetime
from tokens.models import CodePurpose
from tokens.realms import Realm, realm_of

logger = logging.getLogger("accounts.mail")


class Notice(models.TextChoices):
    """The security notices: each mails the account's address a "this wasn't me" link."""

    PASSWORD_CHANGED = "password_changed", "Password changed"
    PASSWORD_RESET = "password_reset", "Password reset"
    EMAIL_CHANGE_REQUESTED = "email_change_requested", "Email change requested"
    TWO_FACTOR_ENABLED = "two_factor_enabled", "Second factor enabled"
    TWO_FACTOR_DISABLED = "two_factor_disabled", "Second factor disabled"
    RECOVERY_CODES_REGENERATED = "recovery_codes_regenerated", "Recovery codes regenerated"


@dataclass(frozen=True)
class MailKind:
    # The key a task names the mail by, and its templates: mail/<template>.txt and .html.
    name: str
    template: str
    subject: Promise
    # The code the link carries, and the setting naming the link's path.
    purpose: CodePurpose
    path_setting: str


PASSWORD_RESET = MailKind(
    "password_reset",
    "password_reset",
    _("Reset your %(product)s password"),
    CodePurpose.PASSWORD_RESET,
    "PASSWORD_RESET_PATH",
)
EMAIL_VERIFY = MailKind(
    "email_verify",
    "email_verify",
    _("Confirm your email address for %(product)s"),
    CodePurpose.EMAIL_VERIFY,
    "EMAIL_VERIFY_PATH",
)
_NOTICE_SUBJECTS: dict[Notice, Promise] = {
    Notice.PASSWORD_CHANGED: _("Your %(product)s password was changed"),
    Notice.PASSWORD_RESET: _("Your %(product)s password was reset"),
    Notice.EMAIL_CHANGE_REQUESTED: _("A change of your %(product)s email address"),
    Notice.TWO_FACTOR_ENABLED: _("Two-factor authentication is on for %(product)s"),
    Notice.TWO_FACTOR_DISABLED: _("Two-factor authentication is off for %(product)s"),
    Notice.RECOVERY_CODES_REGENERATED: _("New %(product)s recovery codes"),
}


def notice_mail(notice: Notice) -> MailKind:
    return MailKind(
        f"notice_{notice.value}",
        f"notice_{notice.value}",
        _NOTICE_SUBJECTS[notice],
        CodePurpose.SECURE_ACCOUNT,
        "SECURE_ACCOUNT_PATH",
    )


MAILS: dict[str, MailKind] = {
    kind.name: kind
    for kind in (PASSWORD_RESET, EMAIL_VERIFY, *(notice_mail(notice) for notice in Notice))
}


def mail_link(*, realm: Realm, kind: MailKind, code: str) -> str:
    """`<the realm's frontend URL><the kind's path>?token=<code>`: from settings alone."""
    base = str(getattr(settings, realm.frontend_url_setting)).rstrip("/")
    path = str(getattr(settings, kind.path_setting))
    if not path.startswith("/"):
        path = f"/{path}"
    return f"{base}{path}?{urlencode({'token': code})}"


def _lifetime_words(kind: MailKind) -> str:
    """How long the mail's link works, in words (`30 minutes`, `48 hours`, `7 days`)."""
    minutes = int(code_lifetime(kind.purpose).total_seconds() // 60)
    if minutes and minutes % (60 * 24) == 0:
        days = minutes // (60 * 24)
        return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
    if minutes and minutes % 60 == 0:
        hours = minutes // 60
        return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


def mail_message(*, account: Any, kind: MailKind, to: str, link: str) -> EmailMultiAlternatives:
    """The mail, plain text with an HTML alternative."""
    realm = realm_of(account)
    context = {
        "product": settings.PRODUCT_NAME,
        "name": account.name or account.username,
        "username": account.username,
        "link": link,
        "lifetime": _lifetime_words(kind),
        "realm": realm.name,
    }
    subject = str(kind.subject) % {"product": settings.PRODUCT_NAME}
    text = render_to_string(f"mail/{kind.template}.txt", context)
    html = render_to_string(f"mail/{kind.template}.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
    )
    message.attach_alternative(html, "text/html")
    return message


def mail_send(*, account: Any, kind: MailKind, to: str) -> None:
    """Issue the mail's code and send it.

    The code is issued in a transaction that commits only if the mail server took the
    message: a failed delivery leaves the account's earlier code of that purpose working
    (the earlier mail may have arrived) and no new one that nobody received.
    """
    realm = realm_of(account)
    with transaction.atomic():
        code = code_issue(account=account, purpose=kind.purpose, sent_to=to)
        link = mail_link(realm=realm, kind=kind, code=code)
        mail_message(account=account, kind=kind, to=to, link=link).send()
    logger.info(
        "mail_sent realm=%s account=%s mail=%s",
        realm.name,
        account.pk,
        kind.name,
        extra={"event": "mail_sent", "realm": realm.name, "account_id": account.pk},
    )
