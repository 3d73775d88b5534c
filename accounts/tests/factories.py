"""Test data for accounts: users made through the real manager."""

from __future__ import annotations

import itertools
from typing import Any

from accounts.models import User

PASSWORD = "correct horse battery staple"


def full_width(text: str) -> str:
    """The full-width form of ASCII letters (`ada` -> U+FF41 U+FF44 U+FF41)."""
    return "".join(chr(ord(char) + 0xFEE0) for char in text)


_numbers = itertools.count(1)


def make_user(**fields: Any) -> User:
    n = next(_numbers)
    fields.setdefault("username", f"user{n}")
    fields.setdefault("email", f"user{n}@example.com")
    fields.setdefault("name", f"User {n}")
    password = fields.pop("password", PASSWORD)
    user: User = User.objects.create_user(password=password, **fields)
    return user
