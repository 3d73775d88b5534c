"""
The admin realm's own rules: the guards on managing admins, and the audit of every staff
action: each is a security event (`tokens.events.event_record`, actor = the admin, which
also writes the `admins.audit` log line), recorded in the transaction of the change. The
admin site's actions and the API both come through here. The reads are
`admins.selectors`; account changes themselves are the shared account services.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts import services as accounts
from admins.models import Admin
from config.api.exceptions import Forbidden
from config.api.net import Client
from tokens.events import event_record
from tokens.models import EventName
from tokens.realms import realm_of
from tokens.services import token_revoke_all


def staff_event(
    *,
    event: EventName,
    actor: Admin,
    target: Any,
    client: Client | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Record a staff action: who (`actor`) did what to which account, from where."""
    event_record(
        event=event,
        realm=realm_of(target),
        account=target,
        actor=actor,
        client=client,
        details=details,
    )


# --- Staff actions on any account: the shared account services, audited ---------------


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
    fields = sorted(changes)
    if fields:
        staff_event(
            event=EventName.ACCOUNT_UPDATED,
            actor=actor,
            target=target,
            client=client,
            details={"fields": fields},
        )


@transaction.atomic
def staff_set_active(
    *, actor: Admin, account: Any, active: bool, client: Client | None = None
) -> None:
    """Activate or block a user (admins go through `admin_set_active`, which guards)."""
    accounts.account_set_active(account=account, active=active)
    event = EventName.ACCOUNT_ACTIVATED if active else EventName.ACCOUNT_BLOCKED
    staff_event(event=event, actor=actor, target=account, client=client)


@transaction.atomic
def staff_unlock(*, actor: Admin, account: Any, client: Client | None = None) -> None:
    accounts.account_unlock(account=account)
    staff_event(event=EventName.ACCOUNT_UNLOCKED, actor=actor, target=account, client=client)


@transaction.atomic
def staff_delete(*, actor: Admin, account: Any, client: Client | None = None) -> None:
    accounts.account_soft_delete(account=account)
    staff_event(event=EventName.ACCOUNT_DELETED, actor=actor, target=account, client=client)


@transaction.atomic
def staff_restore(*, actor: Admin, account: Any, client: Client | None = None) -> None:
    accounts.account_restore(account=account)
    staff_event(event=EventName.ACCOUNT_RESTORED, actor=actor, target=account, client=client)


@transaction.atomic
def staff_revoke_tokens(*, actor: Admin, account: Any, client: Client | None = None) -> int:
    revoked = token_revoke_all(owner=account)
    staff_event(
        event=EventName.SESSIONS_REVOKED,
        actor=actor,
        target=account,
        client=client,
        details={"revoked": revoked},
    )
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


@transaction.atomic
def admin_create(
    *, actor: Admin, is_superuser: bool = False, client: Client | None = None, **fields: Any
) -> Admin:
    admin = accounts.account_create(model=Admin, is_superuser=is_superuser, **fields)
    staff_event(
        event=EventName.ADMIN_CREATED,
        actor=actor,
        target=admin,
        client=client,
        details={"is_superuser": is_superuser},
    )
    return admin


@transaction.atomic
def admin_update(
    *, actor: Admin, target: Admin, client: Client | None = None, **changes: Any
) -> Admin:
    """Change an admin's profile and, with `is_superuser`, promote or demote them: one
    event for the profile fields sent, one for a change of rank."""
    was_superuser = target.is_superuser
    demote = changes.get("is_superuser") is False and was_superuser
    if demote:
        if target.pk == actor.pk:
            raise Forbidden("You cannot demote yourself.")
        _guard_last_superuser(target)
    admin = accounts.account_update(account=target, **changes)
    profile = {field: value for field, value in changes.items() if field != "is_superuser"}
    _record_update(actor=actor, target=admin, client=client, changes=profile)
    if admin.is_superuser != was_superuser:
        event = EventName.ADMIN_PROMOTED if admin.is_superuser else EventName.ADMIN_DEMOTED
        staff_event(event=event, actor=actor, target=admin, client=client)
    return admin


@transaction.atomic
def admin_set_active(
    *, actor: Admin, target: Admin, active: bool, client: Client | None = None
) -> None:
    if not active:
        if target.pk == actor.pk:
            raise Forbidden("You cannot block yourself.")
        if target.is_superuser:
            _guard_last_superuser(target)
    accounts.account_set_active(account=target, active=active)
    event = EventName.ACCOUNT_ACTIVATED if active else EventName.ACCOUNT_BLOCKED
    staff_event(event=event, actor=actor, target=target, client=client)
