"""Test data for every realm: accounts made through the realm's own manager."""

from __future__ import annotations

import itertools
from typing import Any

from config.testing import PASSWORD
from tokens.realms import Realm

_numbers = itertools.count(1)


def make_account(realm: Realm, **fields: Any) -> Any:
    """A saved account of `realm` (`user7`, `user7@example.com`, "User 7" unless given),
    with the tests' `PASSWORD` unless given."""
    n = next(_numbers)
    fields.setdefault("username", f"{realm.name}{n}")
    fields.setdefault("email", f"{realm.name}{n}@example.com")
    fields.setdefault("name", f"{realm.name.title()} {n}")
    password = fields.pop("password", PASSWORD)
    return realm.model.objects.create_user(password=password, **fields)
