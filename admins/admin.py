"""
The Django admin site as a staff tool: users and admins, searchable and filterable,
lockout fields read-only, and never a password hash on screen.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User
from admins.models import Admin


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


class AccountAdmin(admin.ModelAdmin):
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
    readonly_fields = (
        "failed_login_attempts",
        "locked_until",
        "last_login",
        "created_at",
        "updated_at",
        "deleted_at",
    )


@admin.register(User)
class UserAdmin(AccountAdmin):
    # `fields` never lists the password: its hash is never shown.
    fields = (
        "username",
        "name",
        "email",
        "phone",
        "avatar",
        "is_active",
        *AccountAdmin.readonly_fields,
    )


@admin.register(Admin)
class AdminAdmin(AccountAdmin):
    list_display = [*AccountAdmin.list_display[:6], "is_superuser", *AccountAdmin.list_display[6:]]
    list_filter = ["is_active", "is_superuser", LockedFilter, DeletedFilter]
    filter_horizontal = ("groups", "user_permissions")
    fields = (
        "username",
        "name",
        "email",
        "phone",
        "avatar",
        "is_active",
        "is_superuser",
        "groups",
        "user_permissions",
        *AccountAdmin.readonly_fields,
    )
