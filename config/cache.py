"""
A cache backend kept in one SQLite file, shared by every worker process on the host.

It is the embedded default behind rate limits when `REDIS_URL` is not set. Django's
file-based and database caches implement `incr` as a read followed by a write, so two
workers can both read 4 and both write 5; here `add` and `incr` are single SQL statements,
which SQLite runs atomically across processes. Integers are stored as SQLite integers so
that `incr` can be done in SQL; anything else is pickled.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import threading
import time
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS cache ( key TEXT PRIMARY KEY, value BLOB NOT NULL, expires REAL)"
)


def _encode(value: Any) -> Any:
    if type(value) is int:
        return value
    return sqlite3.Binary(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))


def _decode(stored: Any) -> Any:
    if isinstance(stored, int):
        return stored
    # The file is written only by this backend, in a folder the application owns.
    return pickle.loads(stored)  # noqa: S301  # nosec B301


class SQLiteCache(BaseCache):
    """Django cache API over one SQLite file (LOCATION), one connection per thread."""

    cull_every = 500

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        self._path = location
        self._local = threading.local()
        self._writes = 0

    def _connection(self) -> sqlite3.Connection:
        # A connection must not cross a fork (gunicorn workers): key it by process id.
        pid = os.getpid()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != pid:
            os.makedirs(os.path.dirname(self._path) or ".", exist_ok=True)
            conn = sqlite3.connect(self._path, timeout=5, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            self._local.conn, self._local.pid = conn, pid
        return conn

    def _expiry(self, timeout: Any) -> float | None:
        seconds = self.get_backend_timeout(timeout)
        return None if seconds is None else float(seconds)

    def _after_write(self, conn: sqlite3.Connection) -> None:
        self._writes += 1
        if self._writes % self.cull_every == 0:
            conn.execute("DELETE FROM cache WHERE expires <= ?", (time.time(),))

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        key = self.make_and_validate_key(key, version=version)
        conn = self._connection()
        now = time.time()
        # One statement: insert, or take over a row that has expired; never touch a live one.
        cursor = conn.execute(
            "INSERT INTO cache (key, value, expires) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires"
            " WHERE cache.expires IS NOT NULL AND cache.expires <= ?",
            (key, _encode(value), self._expiry(timeout), now),
        )
        self._after_write(conn)
        return cursor.rowcount == 1

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        key = self.make_and_validate_key(key, version=version)
        row = (
            self._connection()
            .execute(
                "SELECT value FROM cache WHERE key = ? AND (expires IS NULL OR expires > ?)",
                (key, time.time()),
            )
            .fetchone()
        )
        return default if row is None else _decode(row[0])

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        key = self.make_and_validate_key(key, version=version)
        conn = self._connection()
        conn.execute(
            "INSERT OR REPLACE INTO cache (key, value, expires) VALUES (?, ?, ?)",
            (key, _encode(value), self._expiry(timeout)),
        )
        self._after_write(conn)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        cursor = self._connection().execute(
            "UPDATE cache SET expires = ? WHERE key = ? AND (expires IS NULL OR expires > ?)",
            (self._expiry(timeout), key, time.time()),
        )
        return cursor.rowcount == 1

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        key = self.make_and_validate_key(key, version=version)
        row = (
            self._connection()
            .execute(
                "UPDATE cache SET value = value + ? WHERE key = ? AND typeof(value) = 'integer'"
                " AND (expires IS NULL OR expires > ?) RETURNING value",
                (delta, key, time.time()),
            )
            # fetchall() steps the statement to its end, which ends its write lock.
            .fetchall()
        )
        if not row:
            raise ValueError(f"Key '{key}' not found or not an integer")
        return int(row[0][0])

    def delete(self, key: Any, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        cursor = self._connection().execute("DELETE FROM cache WHERE key = ?", (key,))
        return cursor.rowcount == 1

    def has_key(self, key: Any, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        row = (
            self._connection()
            .execute(
                "SELECT 1 FROM cache WHERE key = ? AND (expires IS NULL OR expires > ?)",
                (key, time.time()),
            )
            .fetchone()
        )
        return row is not None

    def clear(self) -> None:
        self._connection().execute("DELETE FROM cache")

    def close(self, **kwargs: Any) -> None:
        # Connections live for the life of the thread; Django calls close() after every
        # request, and reopening SQLite each time would cost more than the lookup.
        pass
