"""
The security log's one writer: `event_record`.

Services call it explicitly (no signals), inside the transaction of the change they
record, so a change that rolls back leaves no event and a committed one always has its
row. The same call writes the log line (the loggers the project always had: login
outcomes to `accounts.auth`, staff actions to `admins.audit`, the rest to `tokens.events`)
and, once the transaction commits, counts `auth_events_total{realm,event}`.

A login failure answers 401 and the exception handler calls `set_rollback()`; that only
marks the request's transaction when `ATOMIC_REQUESTS` is on, which this project never
turns on (the failure counter of the lockout must survive the 401 too), and the login
services hold no transaction around a refusal: its event commits with the failure count.

Nothing secret goes in: callers put ids, names and reasons in `details`, never a password,
a code, a token, a token's prefix or a hash.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from config.api.net import Client
from config.metrics import AUTH_EVENTS
from tokens.models import AuthEvent, EventName
from tokens.realms import Realm, realm_of

LOGIN_EVENTS = frozenset(
    {
        EventName.LOGIN_SUCCEEDED,
        EventName.LOGIN_FAILED,
        EventName.LOGIN_LOCKED,
        EventName.LOGIN_REFUSED_INACTIVE,
        EventName.LOGIN_REFUSED_UNVERIFIED,
        EventName.MFA_CHALLENGE_FAILED,
        EventName.RECOVERY_CODE_USED,
    }
)
STAFF_EVENTS = frozenset(
    {
        EventName.ACCOUNT_BLOCKED,
        EventName.ACCOUNT_ACTIVATED,
        EventName.ACCOUNT_UNLOCKED,
        EventName.ACCOUNT_DELETED,
        EventName.ACCOUNT_RESTORED,
        EventName.ACCOUNT_UPDATED,
        EventName.ADMIN_CREATED,
        EventName.ADMIN_PROMOTED,
        EventName.ADMIN_DEMOTED,
    }
)
# Logged as warnings: what an operator looks at first.
WARNING_EVENTS = frozenset(
    {
        EventName.LOGIN_FAILED,
        EventName.LOGIN_LOCKED,
        EventName.LOGIN_REFUSED_INACTIVE,
        EventName.LOGIN_REFUSED_UNVERIFIED,
        EventName.MFA_CHALLENGE_FAILED,
        EventName.REFRESH_REUSE_DETECTED,
    }
)

auth_log = logging.getLogger("accounts.auth")
audit_log = logging.getLogger("admins.audit")
event_log = logging.getLogger("tokens.events")


def _logger(event: EventName, actor: Any) -> logging.Logger:
    # Whatever an admin does to an account is a staff action, revoking its tokens too.
    if event in STAFF_EVENTS or actor is not None:
        return audit_log
    if event in LOGIN_EVENTS:
        return auth_log
    return event_log


def event_record(
    *,
    event: EventName,
    realm: Realm,
    account: Any = None,
    actor: Any = None,
    client: Client | None = None,
    details: dict[str, Any] | None = None,
) -> AuthEvent:
    """Record `event` about `account` of `realm` (None: the login named no account), done
    by `actor` (the admin, for staff actions) from `client`; write its log line, and count
    it once the surrounding transaction commits."""
    event = EventName(event)
    account_id = account.pk if account is not None else None
    actor_realm = realm_of(actor).name if actor is not None else ""
    actor_id = actor.pk if actor is not None else None
    ip, user_agent = client if client is not None else (None, "")
    row = AuthEvent.objects.create(
        event=event,
        realm=realm.name,
        account_id=account_id,
        actor_realm=actor_realm,
        actor_id=actor_id,
        ip=ip or None,
        user_agent=(user_agent or "")[:255],
        details=details or {},
    )
    _logger(event, actor).log(
        logging.WARNING if event in WARNING_EVENTS else logging.INFO,
        "%s realm=%s account=%s actor=%s ip=%s",
        event.value,
        realm.name,
        account_id if account_id is not None else "unknown",
        f"{actor_realm}:{actor_id}" if actor_id is not None else "-",
        ip or "-",
        extra={
            "event": event.value,
            "realm": realm.name,
            "account_id": account_id,
            "actor_id": actor_id,
            "ip": ip,
            "details": row.details,
        },
    )
    # Robust: a metric that cannot be written is logged, never an error of a committed change.
    transaction.on_commit(lambda: AUTH_EVENTS.labels(realm.name, event.value).inc(), robust=True)
    return row
