"""The admin realm's permission classes.

Rights are Django's model permissions, managed in one place (the admin site's groups and
permissions): reading users needs `accounts.view_user`, changing them
`accounts.change_user`, and a user's tokens (which show every session's IP and user agent)
`tokens.view_token` or `tokens.change_token` besides; superusers may do everything.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from admins.models import Admin
from tokens.models import Token


class IsAdmin(BasePermission):
    """The bearer is an admin (a user's token is 403 here, no token 401)."""

    message = "This endpoint is for admins."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, Admin)


class IsSuperAdmin(IsAdmin):
    message = "Only superuser admins may manage admins."

    def has_permission(self, request: Request, view: Any) -> bool:
        return super().has_permission(request, view) and bool(request.user.is_superuser)


class HasModelPermission(IsAdmin):
    """An admin holding the model permission the admin site would need for this method.

    The view names its model with `permission_model` (e.g. `accounts.User`).
    """

    message = "You do not have the permission this action needs."

    def model(self, view: Any) -> Any:
        return view.permission_model

    def has_permission(self, request: Request, view: Any) -> bool:
        if not super().has_permission(request, view):
            return False
        model = self.model(view)
        action = "view" if request.method in SAFE_METHODS else "change"
        return bool(
            request.user.has_perm(f"{model._meta.app_label}.{action}_{model._meta.model_name}")
        )


class HasTokenPermission(HasModelPermission):
    """The token permission for this method (`tokens.view_token` to list, `change_token` to
    revoke), as the admin site asks: a session's row shows its IP and user agent, which the
    user permission alone must not reveal."""

    def model(self, view: Any) -> Any:
        return Token
