"""Test data for accounts: users made through the real manager."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from tokens.realms import USER
from tokens.tests.factories import make_account


def full_width(text: str) -> str:
    """The full-width form of ASCII letters (`ada` -> U+FF41 U+FF44 U+FF41)."""
    return "".join(chr(ord(char) + 0xFEE0) for char in text)


def make_user(**fields: Any) -> User:
    user: User = make_account(USER, **fields)
    return user
