"""Test data for admins: admins made through the real manager."""

from __future__ import annotations

import itertools
from typing import Any

from admins.models import Admin

PASSWORD = "staff horse battery staple"
_numbers = itertools.count(1)


def make_admin(**fields: Any) -> Admin:
    n = next(_numbers)
    fields.setdefault("username", f"admin{n}")
    fields.setdefault("email", f"admin{n}@example.com")
    fields.setdefault("name", f"Admin {n}")
    password = fields.pop("password", PASSWORD)
    admin: Admin = Admin.objects.create_user(password=password, **fields)
    return admin
