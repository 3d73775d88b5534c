"""
Realms: the kinds of account that log in separately, users and admins.

A `Realm` names everything that differs between them: the account model, the `Token`
foreign key that holds its sessions, how an account shows itself, the name its logs,
throttles and responses use, its URL prefix, and where its mails' links point. Code that
serves every realm (login, refresh, password changes, tokens, mails) takes a realm and is
written once; the realms' URL
modules wire the same views, each with its own realm. A third realm would be one more
instance here, its model, its `Token` foreign key and its URLs.

This module lives in `tokens`, the lowest app that needs it, and names the account models
and their serializers by dotted string only, so it imports nothing above `tokens`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.apps import apps
from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class Realm:
    # The realm's name: the key of the account in a token pair (`"user": {...}`), the
    # `realm` field of log lines and events, and the suffix of its throttle groups.
    name: str
    # The account model, as an app label (`accounts.User`).
    model_label: str
    # The `Token` foreign key that holds this realm's sessions and personal tokens.
    owner_field: str
    # Where its endpoints live under /api/v1/ (`""` or `"admin/"`).
    url_prefix: str
    # Dotted paths of the serializers that show an account to itself and to staff.
    representation: str
    staff_representation: str
    # The setting naming where this realm's links in mails point (`FRONTEND_URL`): the
    # client application, never this API's host and never the request's `Host`.
    frontend_url_setting: str
    # The setting that, when true, makes a second factor mandatory in this realm (None:
    # never mandatory): until one is enrolled, the account may only reach its own profile,
    # its enrolment and logout.
    second_factor_policy: str | None = None

    @cached_property
    def model(self) -> Any:
        return apps.get_model(self.model_label)

    @cached_property
    def serializer(self) -> Any:
        return import_string(self.representation)

    @cached_property
    def staff_serializer(self) -> Any:
        return import_string(self.staff_representation)

    @property
    def title(self) -> str:
        """The realm in words, for messages (`users`, `admins`)."""
        return str(self.model._meta.verbose_name_plural)

    def second_factor_required(self) -> bool:
        """Whether this realm's accounts must have a second factor (read at each call, so
        that a changed setting applies at once)."""
        return bool(self.second_factor_policy and getattr(settings, self.second_factor_policy))

    def group(self, action: str) -> str:
        """This realm's throttle group for `action` (`login:user`): realms count apart."""
        return f"{action}:{self.name}"

    def __str__(self) -> str:
        return self.name


USER = Realm(
    name="user",
    model_label="accounts.User",
    owner_field="user",
    url_prefix="",
    representation="accounts.serializers.UserSerializer",
    staff_representation="admins.serializers.StaffUserSerializer",
    frontend_url_setting="FRONTEND_URL",
)
ADMIN = Realm(
    name="admin",
    model_label="admins.Admin",
    owner_field="admin",
    url_prefix="admin/",
    representation="admins.serializers.AdminSerializer",
    staff_representation="admins.serializers.StaffAdminSerializer",
    frontend_url_setting="ADMIN_FRONTEND_URL",
    second_factor_policy="ADMIN_2FA_REQUIRED",
)
REALMS = (USER, ADMIN)

_BY_LABEL = {realm.model_label.lower(): realm for realm in REALMS}
_BY_NAME = {realm.name: realm for realm in REALMS}


def realm_named(name: str) -> Realm:
    """The realm of this name: how a task's arguments (plain JSON) name a realm."""
    return _BY_NAME[name]


def realm_of(account: Any) -> Realm:
    """The realm an account (a `User` or an `Admin`, or the admin site's lazy user) is of."""
    return _BY_LABEL[account._meta.label_lower]


def account_key(account: Any) -> str:
    """An account's name across realms (`user:42`), for per-account throttles and logs."""
    return f"{realm_of(account).name}:{account.pk}"
