"""
The staff's reads: the lists the admin API serves, built from the models' named queries
(`AccountQuerySet`, `TokenQuerySet`, `AuthEventQuerySet`), which the admin site's filters
use too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from accounts.models import User
from admins.models import Admin
from tokens.models import AuthEvent, Token


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


def event_list(
    *,
    realm: str | None = None,
    account_id: int | None = None,
    event: list[str] | None = None,
    ip: str | None = None,
    actor_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuthEvent]:
    """Security events matching the staff list's filters, newest first (`since` and
    `until` inclusive)."""
    events = AuthEvent.objects.all()
    if realm is not None:
        events = events.filter(realm=realm)
    if account_id is not None:
        events = events.filter(account_id=account_id)
    if event:
        events = events.filter(event__in=event)
    if ip is not None:
        events = events.filter(ip=ip)
    if actor_id is not None:
        events = events.filter(actor_id=actor_id)
    if since is not None:
        events = events.filter(created_at__gte=since)
    if until is not None:
        events = events.filter(created_at__lte=until)
    return events.newest_first()
