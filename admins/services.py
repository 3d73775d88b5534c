"""
The admin realm's own rules: finding users, the guards on managing admins, and the audit
log of every staff action. Account changes themselves are the shared account services.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from accounts import recovery
from accounts import services as accounts
from accounts.models import User
from admins.models import Admin
from config.api.exceptions import Forbidden
from tokens.models import Token
from tokens.realms import realm_of
from tokens.services import token_revoke_all

audit = logging.getLogger("admins.audit")


def audit_log(*, actor: Admin, action: str, target: Any) -> None:
    """One line per staff action: who did what to which account (ids, never secrets)."""
    target_kind = realm_of(target).name
    audit.info(
        "admin=%s action=%s %s=%s",
        actor.pk,
        action,
        target_kind,
        target.pk,
        extra={
            "event": "admin_action",
            "actor_id": actor.pk,
            "action": action,
            "target": target_kind,
            "target_id": target.pk,
        },
    )


def user_list(
    *,
    search: str | None = None,
    is_active: bool | None = None,
    is_locked: bool | None = None,
    deleted: str = "exclude",
    ordering: str = "-created_at",
) -> QuerySet[User]:
    """Users matching the admin list's filters, in a stable order for pagination."""
    users = User.objects.all()
    if deleted == "exclude":
        users = users.active()
    elif deleted == "only":
        users = users.deleted()
    if search:
        users = users.search(search)
    if is_active is not None:
        users = users.filter(is_active=is_active)
    if is_locked is True:
        users = users.locked()
    elif is_locked is False:
        users = users.unlocked()
    return users.order_by(ordering, "-id" if ordering.startswith("-") else "id")


def admin_list() -> QuerySet[Admin]:
    return Admin.objects.order_by("id")


def account_tokens(*, account: Any) -> QuerySet[Token]:
    """Every token an account has or had, newest first (staff see revoked ones too)."""
    return Token.objects.for_owner(account).newest_first()


# --- Staff actions on any account: the shared account services, audited ---------------


def staff_update(*, actor: Admin, account: Any, **changes: Any) -> Any:
    account = accounts.account_update(account=account, **changes)
    audit_log(actor=actor, action="update", target=account)
    return account


def staff_set_active(*, actor: Admin, account: Any, active: bool) -> None:
    """Activate or block a user (admins go through `admin_set_active`, which guards)."""
    accounts.account_set_active(account=account, active=active)
    audit_log(actor=actor, action="activate" if active else "block", target=account)


def staff_unlock(*, actor: Admin, account: Any) -> None:
    accounts.account_unlock(account=account)
    audit_log(actor=actor, action="unlock", target=account)


def staff_delete(*, actor: Admin, account: Any) -> None:
    accounts.account_soft_delete(account=account)
    audit_log(actor=actor, action="delete", target=account)


def staff_restore(*, actor: Admin, account: Any) -> None:
    accounts.account_restore(account=account)
    audit_log(actor=actor, action="restore", target=account)


def staff_revoke_tokens(*, actor: Admin, account: Any) -> int:
    revoked = token_revoke_all(owner=account)
    audit_log(actor=actor, action="revoke_tokens", target=account)
    return revoked


def _guard_last_superuser(target: Admin) -> None:
    """Refuse to leave no active superuser.

    Every active superuser row (the target's too) is locked first, always in id order, so
    concurrent demotions wait for each other instead of deadlocking, and the one that
    waited sees the other's outcome.
    """
    superusers = list(
        Admin.objects.select_for_update()
        .active()
        .filter(is_superuser=True, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not [pk for pk in superusers if pk != target.pk]:
        raise Forbidden("The last active superuser cannot be blocked or demoted.")


def admin_create(*, actor: Admin, is_superuser: bool = False, **fields: Any) -> Admin:
    admin = accounts.account_create(model=Admin, is_superuser=is_superuser, **fields)
    audit_log(actor=actor, action="create", target=admin)
    return admin


@transaction.atomic
def admin_update(*, actor: Admin, target: Admin, **changes: Any) -> Admin:
    demote = changes.get("is_superuser") is False and target.is_superuser
    if demote:
        if target.pk == actor.pk:
            raise Forbidden("You cannot demote yourself.")
        _guard_last_superuser(target)
    admin = accounts.account_update(account=target, **changes)
    audit_log(actor=actor, action="update", target=admin)
    return admin


@transaction.atomic
def admin_set_active(*, actor: Admin, target: Admin, active: bool) -> None:
    if not active:
        if target.pk == actor.pk:
            raise Forbidden("You cannot block yourself.")
        if target.is_superuser:
            _guard_last_superuser(target)
    accounts.account_set_active(account=target, active=active)
    audit_log(actor=actor, action="activate" if active else "block", target=target)


@transaction.atomic
def staff_send_password_reset(*, actor: Admin, account: Any) -> None:
    """Mail an account a reset link: the same path as a reset request by its address (the
    worker's checks and per-address cap included). Staff never see the code."""
    recovery.password_reset_send(account=account)
    audit_log(actor=actor, action="send_password_reset", target=account)
