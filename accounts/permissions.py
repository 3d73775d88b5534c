"""The user realm's permission class."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import User


class IsUser(BasePermission):
    """The bearer is an API user (an admin's token is 403 here, no token 401)."""

    message = "This endpoint is for users."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, User)
