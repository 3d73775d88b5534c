"""
The security log on the admin site: every event, read-only and filterable, and
`AccountEventsMixin` for the account pages: their latest events on the change page, and an
edit saved there recorded as `account_updated` (actor = the admin).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from config.api.net import client_of
from tokens.events import event_record
from tokens.models import AuthEvent, EventName
from tokens.realms import realm_of

EVENT_FIELDS = (
    "event",
    "realm",
    "account_id",
    "actor_realm",
    "actor_id",
    "ip",
    "user_agent",
    "created_at",
    "details",
)
RECENT_EVENTS = 20


@admin.register(AuthEvent)
class AuthEventAdmin(admin.ModelAdmin):
    """Security events, read-only: they are written by the services alone."""

    list_display = ("created_at", "event", "realm", "account_id", "actor_id", "ip")
    list_filter = ("event", "realm", "created_at")
    search_fields = ("ip",)
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    list_per_page = 50
    # The list is ordered and filtered by indexed columns; counting every row for the
    # paginator of a large table would cost more than the page.
    show_full_result_count = False
    fields = EVENT_FIELDS
    readonly_fields = EVENT_FIELDS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Events go by retention only (`prune_events`): staff cannot erase their tracks.
        return False


class AccountEventsMixin(admin.ModelAdmin):
    """For an account's admin page: `recent_events`, its latest events newest first, as a
    read-only field (one query), shown to those who may view events (an event shows the
    client's address, as a session row does); and the page's edits recorded."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # The admin site saves the form, its many-to-many fields (an admin's groups and
        # permissions) and this event in the one transaction of its change view.
        super().save_model(request, obj, form, change)
        if change and form.changed_data:
            event_record(
                event=EventName.ACCOUNT_UPDATED,
                realm=realm_of(obj),
                account=obj,
                actor=request.user,
                client=client_of(request),
                details={"fields": sorted(form.changed_data), "via": "admin_site"},
            )

    @admin.display(description="Recent security events")
    def recent_events(self, account: Any) -> SafeString | str:
        if account is None or account.pk is None:
            return "-"
        events = AuthEvent.objects.for_account(account).newest_first()[:RECENT_EVENTS]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    event.created_at.isoformat(timespec="seconds"),
                    event.event,
                    event.ip or "",
                    f"{event.actor_realm} {event.actor_id}" if event.actor_id else "",
                )
                for event in events
            ),
        )
        if not rows:
            return "No events."
        return format_html(
            "<table><thead><tr><th>time</th><th>event</th><th>IP</th><th>by</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            rows,
        )

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = super().get_fields(request, obj)
        if request.user.has_perm("tokens.view_authevent"):
            return fields
        return [field for field in fields if field != "recent_events"]
