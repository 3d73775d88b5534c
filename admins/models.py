"""
`Admin`: the staff account, a realm of its own and Django's `AUTH_USER_MODEL`.

Being the auth user model, admins use the Django admin site, its model permissions and
`createsuperuser`. They never share a credential or a token with API users.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import PermissionsMixin
from django.db import models

from accounts.models import AbstractAccount, AbstractLoginIdentifier, AccountManager


class AdminManager(AccountManager):
    def create_superuser(
        self, username: str, email: str, password: str | None = None, **extra_fields: Any
    ) -> Any:
        extra_fields["is_superuser"] = True
        # `createsuperuser`: the operator typed the address; there is nobody to ask.
        extra_fields.setdefault("email_verified", True)
        return self.create_user(username, email, password, **extra_fields)


class Admin(AbstractAccount, PermissionsMixin):
    """A staff account. Every active, non-deleted admin may enter the admin site."""

    objects: ClassVar[AdminManager] = AdminManager()

    class Meta(AbstractAccount.Meta):
        verbose_name = "admin"
        verbose_name_plural = "admins"

    @property
    def is_staff(self) -> bool:
        return self.is_active and self.deleted_at is None


class AdminIdentifier(AbstractLoginIdentifier):
    """A login identifier of an admin (see `AbstractLoginIdentifier`)."""

    account = models.ForeignKey(Admin, on_delete=models.CASCADE, related_name="identifiers")

    class Meta(AbstractLoginIdentifier.Meta):
        verbose_name = "admin login identifier"
