"""
The Django admin site as a staff tool: users and admins, searchable and filterable,
lockout fields read-only, and never a password hash on screen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User
from admins import services as staff
from admins.models import Admin
from config.api.exceptions import APIError
from config.api.net import Client, client_of
from tokens.admin import AccountEventsMixin
from tokens.models import Token
from tokens.realms import REALMS
from tokens.services import token_revoke_selected


class LockedFilter(admin.SimpleListFilter):
    title = "locked"
    parameter_name = "locked"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Locked"), ("no", "Not locked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(locked_until__gt=timezone.now())
        if self.value() == "no":
            return queryset.exclude(locked_until__gt=timezone.now())
        return queryset


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Not deleted"), ("yes", "Deleted")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        return queryset


class AccountAdmin(AccountEventsMixin, admin.ModelAdmin):
    """What both realms' admin pages share."""

    list_display = [
        "id",
        "username",
        "name",
        "email",
        "phone",
        "is_active",
        "locked_until",
        "created_at",
        "deleted_at",
    ]
    list_display_links = ("id", "username")
    list_filter = ["is_active", LockedFilter, DeletedFilter]
    search_fields = ("username", "name", "email", "phone")
    ordering = ("-created_at",)
    date_hierarchy = "created_at"
    list_per_page = 50
    # Blocking and activation go through actions, which revoke tokens as the API does.
    # Avatars are read-only here: uploads go through the API, which checks and re-encodes
    # them (a file saved by this form would skip all of that).
    readonly_fields = [
        "avatar",
        "is_active",
        "failed_login_attempts",
        "locked_until",
        "last_login",
        "created_at",
        "updated_at",
        "deleted_at",
        # The latest security events of the account (tokens.admin.AccountEventsMixin).
        "recent_events",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Users register through the API; admins come from the API or createsuperuser,
        # where passwords are checked by the validators.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Accounts are soft-deleted (an action), never lost.
        return False


Change = Callable[[Admin, Any, Client], object]


def _account_action(name: str, description: str, change: Change) -> Any:
    """An admin-site action that runs one staff service (the same the API runs, audit line
    included) on each selected account, and says what it did."""

    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        actor, client = cast(Admin, request.user), client_of(request)
        done = 0
        for account in queryset:
            try:
                change(actor, account, client)
            except APIError as exc:
                modeladmin.message_user(
                    request, f"{account.username}: {exc.message}", level=messages.ERROR
                )
                continue
            done += 1
        modeladmin.message_user(request, f"{description}: {done} account(s).")

    action.__name__ = name  # the admin site names an action after its function
    return admin.action(permissions=["change"], description=description)(action)


unlock = _account_action(
    "unlock",
    "Unlock selected accounts",
    lambda actor, account, client: staff.staff_unlock(actor=actor, account=account, client=client),
)
revoke_tokens = _account_action(
    "revoke_tokens",
    "Revoke every token of the selected accounts",
    lambda actor, account, client: staff.staff_revoke_tokens(
        actor=actor, account=account, client=client
    ),
)
block_users = _account_action(
    "block_users",
    "Block selected users (revokes their tokens)",
    lambda actor, account, client: staff.staff_set_active(
        actor=actor, account=account, active=False, client=client
    ),
)
activate_users = _account_action(
    "activate_users",
    "Activate selected users",
    lambda actor, account, client: staff.staff_set_active(
        actor=actor, account=account, active=True, client=client
    ),
)
delete_users = _account_action(
    "delete_users",
    "Soft-delete selected users (revokes their tokens)",
    lambda actor, account, client: staff.staff_delete(actor=actor, account=account, client=client),
)
restore_users = _account_action(
    "restore_users",
    "Restore selected deleted users",
    lambda actor, account, client: staff.staff_restore(actor=actor, account=account, client=client),
)
block_admins = _account_action(
    "block_admins",
    "Block selected admins (revokes their tokens)",
    lambda actor, account, client: staff.admin_set_active(
        actor=actor, target=account, active=False, client=client
    ),
)
activate_admins = _account_action(
    "activate_admins",
    "Activate selected admins",
    lambda actor, account, client: staff.admin_set_active(
        actor=actor, target=account, active=True, client=client
    ),
)


@admin.register(User)
class UserAdmin(AccountAdmin):
    # `fields` never lists the password: its hash is never shown.
    actions = [unlock, block_users, activate_users, delete_users, restore_users, revoke_tokens]
    fields = (
        "username",
        "name",
        "email",
        "phone",
        *AccountAdmin.readonly_fields,
    )


@admin.register(Admin)
class AdminAdmin(AccountAdmin):
    list_display = [*AccountAdmin.list_display[:6], "is_superuser", *AccountAdmin.list_display[6:]]
    list_filter = ["is_active", "is_superuser", LockedFilter, DeletedFilter]
    filter_horizontal = ("groups", "user_permissions")
    actions = [unlock, block_admins, activate_admins, revoke_tokens]
    # Managing admins is for superusers, as in the API; promotion and demotion go through
    # the API, which guards the last superuser.
    readonly_fields = ["is_superuser", *AccountAdmin.readonly_fields]
    fields = (
        "username",
        "name",
        "email",
        "phone",
        "groups",
        "user_permissions",
        *readonly_fields,
    )

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)


@admin.action(permissions=["revoke"], description="Revoke selected tokens")
def revoke_selected_tokens(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any]
) -> None:
    revoked = token_revoke_selected(tokens=queryset, actor=request.user, client=client_of(request))
    modeladmin.message_user(request, f"Revoked {revoked} token(s).")


# The token's owner columns, one foreign key per realm.
OWNERS: tuple[str, ...] = tuple(realm.owner_field for realm in REALMS)
TOKEN_FIELDS: tuple[str, ...] = (
    "kind",
    *OWNERS,
    "name",
    "prefix",
    "scopes",
    "created_at",
    "last_used_at",
    "expires_at",
    "revoked_at",
    "ip",
    "user_agent",
)


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):
    """Sessions and personal access tokens, read-only; the hash is never shown."""

    list_display = (
        "id",
        "kind",
        *OWNERS,
        "name",
        "prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "ip",
    )
    list_filter = ("kind", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = (*(f"{owner}__username" for owner in OWNERS), "name", "prefix")
    list_select_related = OWNERS
    ordering = ("-created_at",)
    actions = [revoke_selected_tokens]
    fields = TOKEN_FIELDS
    readonly_fields = TOKEN_FIELDS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Tokens are never edited; staff may only look at them and revoke them.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("tokens.change_token")
