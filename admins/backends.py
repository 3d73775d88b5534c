"""Authentication backend for the Django admin site: admins only, username in any case."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend


class AdminBackend(ModelBackend):
    """Django's model backend over `Admin`, whose manager matches usernames
    case-insensitively (`get_by_natural_key`), as the unique index does."""
