"""Test data for admins: admins made through the real manager."""

from __future__ import annotations

from typing import Any

from admins.models import Admin
from tokens.realms import ADMIN
from tokens.tests.factories import make_account


def make_admin(**fields: Any) -> Admin:
    admin: Admin = make_account(ADMIN, **fields)
    return admin
