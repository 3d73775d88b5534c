"""
The admin realm's own rules: the guards on managing admins, and the record of every
staff action (the reads are `admins.selectors`). Account changes themselves are the shared
account services.

Every staff action, whether it comes from the API or the admin site, is recorded twice, by
`staff_record`, in the transaction of the change: a security event (`tokens.events.
event_record`, actor = the admin: the security log, its `admins.audit` log line and its
metric) and an entry in Django's admin history (`LogEntry`: the account's History page
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
from config.api.net import Client
from tokens.events import event_record
from tokens.models import EventName, Token
from tokens.realms import REALMS, realm_of
from tokens.services import token_revoke_all, token_revoke_selected

audit = logging.getLogger("admins.audit")

# A change message in Django's own structured form, which the History page words (and
# translates) itself: "Added.", "Changed Name and Email."
Message = str | list[dict[str, Any]]


def audit_log(*, actor: Admin, action: str, target: Any) -> None:
    """The audit line of a staff action the security log has no event for (a user created
    by staff): who did what to which account (ids, never secrets)."""
    target_kind = realm_of(target).name
    audit.info(
        "admin=%s action=%s %s=%s",
        actor.pk,
        action,
        target_kind,
        target.pk,
        # The same fields as the security events' lines (tokens.events).
        extra={
            "event": action,
            "realm": target_kind,
            "account_id": target.pk,
            "actor_id": actor.pk,
        },
    )


def staff_record(
    *,
    actor: Admin,
    action: EventName | str,
    target: Any,
    message: Message,
    client: Client | None = None,
    details: dict[str, Any] | None = None,
    flag: int = CHANGE,
) -> LogEntry:
    """Record one staff action: its security event (or, for an action the security log
    does not name, its audit line) and its entry in the account's History."""
    if isinstance(action, EventName):
        event_record(
            event=action,
            realm=realm_of(target),
            account=target,
            actor=actor,
            client=client,
            details=details,
        )
    else:
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
def staff_create_user(*, actor: Admin, client: Client | None = None, **fields: Any) -> User:
    """Create a user for someone (the admin site's add page): as a registration does, with
    the same conflict rules, and recorded."""
    user = accounts.account_create(model=User, **fields)
    staff_record(
        actor=actor,
        action="user_created",
        target=user,
        message=[{"added": {}}],
        client=client,
        flag=ADDITION,
    )
    return user


@transaction.atomic
def staff_update(
    *, actor: Admin, account: Any, client: Client | None = None, **changes: Any
) -> Any:
    account = accounts.account_update(account=account, **changes)
    _record_update(actor=actor, target=account, client=client, changes=changes)
    return account


def _record_update(
    *, actor: Admin, target: Any, client: Client | None, changes: dict[str, Any]
) -> None:
    # The names of the fields sent, never their values (an email is personal data).
    if changes:
        staff_record(
            actor=actor,
            action=EventName.ACCOUNT_UPDATED,
            target=target,
            message=_changed_fields(target, changes),
            client=client,
            details={"fields": sorted(changes)},
        )


@transaction.atomic
def staff_set_active(
    *, actor: Admin, account: Any, active: bool, client: Client | None = None
) -> bool:
    """Activate or block a user (admins go through `admin_set_active`, which guards);
    False if it already was so."""
    if _locked_row(account).is_active == active:
        account.is_active = active
        return False
    accounts.account_set_active(account=account, active=active)
    staff_record(
        actor=actor,
        action=EventName.ACCOUNT_ACTIVATED if active else EventName.ACCOUNT_BLOCKED,
        target=account,
        message="Activated." if active else "Blocked: every session and token revoked.",
        client=client,
    )
    return True


@transaction.atomic
def staff_unlock(*, actor: Admin, account: Any, client: Client | None = None) -> bool:
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
    staff_record(
        actor=actor,
        action=EventName.ACCOUNT_UNLOCKED,
        target=account,
        message=message,
        client=client,
        details={} if locked else {"failed_login_attempts": count},
    )
    return locked


@transaction.atomic
def staff_delete(*, actor: Admin, account: Any, client: Client | None = None) -> bool:
    """Soft-delete an account (every token revoked); False if it already was deleted."""
    row = _locked_row(account)
    if row.deleted_at is not None:
        account.deleted_at = row.deleted_at
        return False
    accounts.account_soft_delete(account=account)
    staff_record(
        actor=actor,
        action=EventName.ACCOUNT_DELETED,
        target=account,
        message="Deleted (soft: the row is kept): every session and token revoked.",
        client=client,
    )
    return True


@transaction.atomic
def staff_restore(*, actor: Admin, account: Any, client: Client | None = None) -> bool:
    """Undo a soft delete; False if the account was not deleted."""
    if _locked_row(account).deleted_at is None:
        account.deleted_at = None
        return False
    accounts.account_restore(account=account)
    staff_record(
        actor=actor,
        action=EventName.ACCOUNT_RESTORED,
        target=account,
        message="Restored.",
        client=client,
    )
    return True


@transaction.atomic
def staff_revoke_tokens(*, actor: Admin, account: Any, client: Client | None = None) -> int:
    """Revoke every live session and personal access token of an account; how many."""
    revoked = token_revoke_all(owner=account)
    if revoked:
        staff_record(
            actor=actor,
            action=EventName.SESSIONS_REVOKED,
            target=account,
            message=f"Revoked {revoked} token{'s' if revoked != 1 else ''} (sessions and "
            "personal access tokens).",
            client=client,
            details={"revoked": revoked},
        )
    return revoked


@transaction.atomic
def staff_revoke_selected_tokens(
    *, actor: Admin, tokens: QuerySet[Token], client: Client | None = None
) -> int:
    """Revoke the live ones among `tokens` (the token list's selection); how many. Each
    token is a `token_revoked` event of its owner, and each owner's History names the
    tokens of theirs that were revoked."""
    # Locked, so that what is recorded is exactly what this call revoked.
    live = list(
        Token.objects.filter(pk__in=tokens.values("pk"), revoked_at__isnull=True)
        .select_related(*(realm.owner_field for realm in REALMS))
        .select_for_update(of=("self",))
        .order_by("pk")
    )
    revoked = token_revoke_selected(
        tokens=Token.objects.filter(pk__in=[t.pk for t in live]), actor=actor, client=client
    )
    owners: dict[Any, list[Token]] = {}
    for token in live:
        owners.setdefault(token.owner, []).append(token)
    for owner, owned in owners.items():
        # The events are the revocation's own (one per token); this is the History entry.
        LogEntry.objects.log_actions(
            user_id=actor.pk,
            queryset=[owner],
            action_flag=CHANGE,
            change_message=f"Revoked {', '.join(str(token) for token in owned)}.",
            single_object=True,
        )
    return revoked


@transaction.atomic
def staff_set_password(
    *, actor: Admin, account: AbstractAccount, password: str, client: Client | None = None
) -> None:
    """Set another account's password (Django's validators apply); every session and
    personal access token of the account is revoked, and the account holder is told."""
    accounts.account_set_password(account=account, password=password)
    accounts.password_changed(account=account, client=client, via="staff", actor=actor)
    LogEntry.objects.log_actions(
        user_id=actor.pk,
        queryset=[account],
        action_flag=CHANGE,
        change_message="Changed password: every session and token revoked.",
        single_object=True,
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
def admin_create(
    *, actor: Admin, is_superuser: bool = False, client: Client | None = None, **fields: Any
) -> Admin:
    # A superuser typed the new admin's address: it counts as verified.
    admin = accounts.account_create(
        model=Admin, is_superuser=is_superuser, email_verified=True, **fields
    )
    staff_record(
        actor=actor,
        action=EventName.ADMIN_CREATED,
        target=admin,
        message=[{"added": {}}],
        client=client,
        details={"is_superuser": is_superuser},
        flag=ADDITION,
    )
    return admin


@transaction.atomic
def admin_update(
    *, actor: Admin, target: Admin, client: Client | None = None, **changes: Any
) -> Admin:
    was_superuser = target.is_superuser
    demote = changes.get("is_superuser") is False and target.is_superuser
    if demote:
        if target.pk == actor.pk:
            raise Forbidden("You cannot demote yourself.")
        _guard_last_superuser(target)
    admin = accounts.account_update(account=target, **changes)
    profile = {field: value for field, value in changes.items() if field != "is_superuser"}
    _record_update(actor=actor, target=admin, client=client, changes=profile)
    if admin.is_superuser != was_superuser:
        staff_record(
            actor=actor,
            action=EventName.ADMIN_PROMOTED if admin.is_superuser else EventName.ADMIN_DEMOTED,
            target=admin,
            message=_changed_fields(admin, ["is_superuser"]),
            client=client,
        )
    return admin


@transaction.atomic
def admin_set_active(
    *, actor: Admin, target: Admin, active: bool, client: Client | None = None
) -> bool:
    """Activate or block an admin; False if it already was so. Nobody blocks themself,
    and the last active superuser stays active."""
    if not active:
        if target.pk == actor.pk:
            raise Forbidden("You cannot block yourself.")
        if target.is_superuser:
            _guard_last_superuser(target)
    return staff_set_active(actor=actor, account=target, active=active, client=client)


@transaction.atomic
def staff_send_password_reset(*, actor: Admin, account: Any, client: Client | None = None) -> bool:
    """Mail an account a reset link: the same path as a reset request by its address (the
    worker's checks and per-address cap included); False, and no mail, for a blocked or
    deleted account. Staff never see the code."""
    if not account.is_active or account.deleted_at is not None:
        return False
    recovery.password_reset_send(account=account)
    staff_record(
        actor=actor,
        action=EventName.PASSWORD_RESET_REQUESTED,
        target=account,
        message="Sent a password reset mail.",
        client=client,
    )
    return True
