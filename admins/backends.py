"""Authentication backend for the Django admin site: admins only, username in any case.

The login form (`admins.forms.AdminLoginForm`) goes through the account services, so the
admin site shares the API's lockout and rate limits; this backend serves the rest of
Django's auth machinery (sessions, permissions).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import Q


class AdminBackend(ModelBackend):
    """Django's model backend over `Admin`, whose manager matches usernames
    case-insensitively (`get_by_natural_key`), as the unique index does."""

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        # Django's backend makes one query for an admin's own permissions and one for its
        # groups'; the admin API asks on every request, so both come in one query here.
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            permissions = Permission.objects.all()
            if not user_obj.is_superuser:
                permissions = permissions.filter(Q(user=user_obj) | Q(group__user=user_obj))
            rows = permissions.values_list("content_type__app_label", "codename").distinct()
            user_obj._perm_cache = {f"{app}.{codename}" for app, codename in rows}
        return set(user_obj._perm_cache)
