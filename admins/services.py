"""
The admin realm's own rules: the guards on managing admins, and the record of every
staff action (the reads are `admins.selectors`). Account changes themselves are the shared
account services.

Every staff action, whether it comes from the API or the admin site, is recorded twice, by
`staff_record`: a line in the audit log (logger `admins.audit`, for operators' log
pipelines) and an entry in Django's admin history (`LogEntry`: the account's History page
and the site's "Recent actions", for staff). Recording it here rather than in the admin
site's views is what puts an API call in the History staff read. An action that changes
nothing (blocking a blocked account) records nothing, and says so to its caller.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.db import transaction
from django.db.models import QuerySet
from django.utils.text import capfirst

from accounts import recovery
from accounts import services as accounts
from accounts.models import AbstractAccount, User
from admins.models import Admin
from config.api.exceptions import Forbidden
from tokens.models import Token
from tokens.realms import realm_of
from tokens.services import token_revoke_all, token_revoke_selected

audit = logging.getLogger("admins.audit")

# A change message in Django's own structured form, which the History page words (and
# translates) itself: "Added.", "Changed Name and Email."
Message = str | list[dict[str, Any]]


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


def staff_record(
    *, actor: Admin, action: str, target: Any, message: Message, flag: int = CHANGE
) -> LogEntry:
    """Record one staff action: its audit line and its entry in the account's History."""
    audit_log(actor=actor, action=action, target=target)
    entry: LogEntry = LogEntry.objects.log_actions(
        user_id=actor.pk,
        queryset=[target],
        action_flag=flag,
        change_message=message,
        single_object=True,
    )
    return entry


def _changed_fields(account: Any, fields: Any) -> Message:
    names = [str(capfirst(account._meta.get_field(field).verbose_name)) for field in fields]
    return [{"changed": {"fields": names}}]


def _locked_row(account: Any) -> Any:
    """The account's row as it is now, locked until the transaction ends: two staff acting
    on one account at once see each other's outcome, so each says truly what it changed."""
    return account._meta.model._default_manager.select_for_update().get(pk=account.pk)


# --- Staff actions on any account: the shared account services, recorded ---------------


@transaction.atomic
def staff_create_user(*, actor: Admin, **fields: Any) -> User:
    """Create a user for someone (the admin site's add page): as a registration does, with
    the same conflict rules, and recorded."""
    user = accounts.account_create(model=User, **fields)
    staff_record(actor=actor, action="create", target=user, message=[{"added": {}}], flag=ADDITION)
    return user


@transaction.atomic
def staff_update(*, actor: Admin, account: Any, **changes: Any) -> Any:
    account = accounts.account_update(account=account, **changes)
    staff_record(
        actor=actor, action="update", target=account, message=_changed_fields(account, changes)
    )
    return account


@transaction.atomic
def staff_set_active(*, actor: Admin, account: Any, active: bool) -> bool:
    """Activate or block a user (admins go through `admin_set_active`, which guards);
    False if it already was so."""
    if _locked_row(account).is_active == active:
        account.is_active = active
        return False
    accounts.account_set_active(account=account, active=active)
    staff_record(
        actor=actor,
        action="activate" if active else "block",
        target=account,
        message="Activated." if active else "Blocked: every session and token revoked.",
    )
    return True


@transaction.atomic
def staff_unlock(*, actor: Admin, account: Any) -> bool:
    """Lift a lock and clear the failed-login count; False if it was not locked.

    A count below the lockout threshold is cleared too, and recorded as such.
    """
    row = _locked_row(account)
    locked = row.is_locked()
    if not locked and row.failed_login_attempts == 0:
        return False
    accounts.account_unlock(account=account)
    count = row.failed_login_attempts
    message = (
        "Unlocked."
        if locked
        else f"Cleared {count} failed login attempt{'s' if count != 1 else ''}."
    )
    staff_record(actor=actor, action="unlock", target=account, message=message)
    return locked


@transaction.atomic
def staff_delete(*, actor: Admin, account: Any) -> bool:
    """Soft-delete an account (every token revoked); False if it already was deleted."""
    row = _locked_row(account)
    if row.deleted_at is not None:
        account.deleted_at = row.deleted_at
        return False
    accounts.account_soft_delete(account=account)
    staff_record(
        actor=actor,
        action="delete",
        target=account,
        message="Deleted (soft: the row is kept): every session and token revoked.",
    )
    return True


@transaction.atomic
def staff_restore(*, actor: Admin, account: Any) -> bool:
    """Undo a soft delete; False if the account was not deleted."""
    if _locked_row(account).deleted_at is None:
        account.deleted_at = None
        return False
    accounts.account_restore(account=account)
    staff_record(actor=actor, action="restore", target=account, message="Restored.")
    return True


@transaction.atomic
def staff_revoke_tokens(*, actor: Admin, account: Any) -> int:
    """Revoke every live session and personal access token of an account; how many."""
    revoked = token_revoke_all(owner=account)
    if revoked:
        staff_record(
            actor=actor,
            action="revoke_tokens",
            target=account,
            message=f"Revoked {revoked} token{'s' if revoked != 1 else ''} (sessions and "
            "personal access tokens).",
        )
    return revoked


@transaction.atomic
def staff_revoke_selected_tokens(*, actor: Admin, tokens: QuerySet[Token]) -> int:
    """Revoke the live ones among `tokens` (the token list's selection); how many. Each
    owner's History names the tokens of theirs that were revoked."""
    # Locked, so that what is recorded is exactly what this call revoked.
    live = list(
        Token.objects.filter(pk__in=tokens.values("pk"), revoked_at__isnull=True)
        .select_related("user", "admin")
        .select_for_update(of=("self",))
        .order_by("pk")
    )
    revoked = token_revoke_selected(tokens=Token.objects.filter(pk__in=[t.pk for t in live]))
    owners: dict[Any, list[Token]] = {}
    for token in live:
        owners.setdefault(token.owner, []).append(token)
    for owner, owned in owners.items():
        staff_record(
            actor=actor,
            action="revoke_tokens",
            target=owner,
            message=f"Revoked {', '.join(str(token) for token in owned)}.",
        )
    return revoked


@transaction.atomic
def staff_set_password(*, actor: Admin, account: AbstractAccount, password: str) -> None:
    """Set another account's password (Django's validators apply); every session and
    personal access token of the account is revoked."""
    accounts.account_set_password(account=account, password=password)
    staff_record(
        actor=actor,
        action="set_password",
        target=account,
        message="Changed password: every session and token revoked.",
    )


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


@transaction.atomic
def admin_create(*, actor: Admin, is_superuser: bool = False, **fields: Any) -> Admin:
    # A superuser typed the new admin's address: it counts as verified.
    admin = accounts.account_create(
        model=Admin, is_superuser=is_superuser, email_verified=True, **fields
    )
    staff_record(actor=actor, action="create", target=admin, message=[{"added": {}}], flag=ADDITION)
    return admin


@transaction.atomic
def admin_update(*, actor: Admin, target: Admin, **changes: Any) -> Admin:
    demote = changes.get("is_superuser") is False and target.is_superuser
    if demote:
        if target.pk == actor.pk:
            raise Forbidden("You cannot demote yourself.")
        _guard_last_superuser(target)
    admin = accounts.account_update(account=target, **changes)
    staff_record(
        actor=actor, action="update", target=admin, message=_changed_fields(admin, changes)
    )
    return admin


@transaction.atomic
def admin_set_active(*, actor: Admin, target: Admin, active: bool) -> bool:
    """Activate or block an admin; False if it already was so. Nobody blocks themself,
    and the last active superuser stays active."""
    if not active:
        if target.pk == actor.pk:
            raise Forbidden("You cannot block yourself.")
        if target.is_superuser:
            _guard_last_superuser(target)
    return staff_set_active(actor=actor, account=target, active=active)


@transaction.atomic
def staff_send_password_reset(*, actor: Admin, account: Any) -> bool:
    """Mail an account a reset link: the same path as a reset request by its address (the
    worker's checks and per-address cap included); False, and no mail, for a blocked or
    deleted account. Staff never see the code."""
    if not account.is_active or account.deleted_at is not None:
        return False
    recovery.password_reset_send(account=account)
    staff_record(
        actor=actor,
        action="send_password_reset",
        target=account,
        message="Sent a password reset mail.",
    )
    return True
