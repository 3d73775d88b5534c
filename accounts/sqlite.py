"""SQLite's LOWER() folds ASCII only; make it fold every script, as PostgreSQL's does.

Case-insensitive uniqueness of usernames and emails rests on unique indexes on
LOWER(...) and on lookups through the same function. On the embedded default database
the built-in LOWER would let `Ærø` and `ærø` both exist; this replaces it, on every
connection the project opens, with Python's `str.lower` (deterministic, so SQLite may use
it in indexes).
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def unicode_lower(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function("LOWER", 1, _lower, deterministic=True)
