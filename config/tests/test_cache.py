"""The embedded SQLite cache: Django's cache API, and increments that are atomic across
processes (what rate limits need from it)."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from config.cache import SQLiteCache


def _cache(path: Path) -> SQLiteCache:
    return SQLiteCache(str(path / "cache.sqlite3"), {})


def test_set_get_delete_and_objects(tmp_path):
    cache = _cache(tmp_path)

    cache.set("a", {"nested": [1, 2]})
    cache.set("n", 7)

    assert cache.get("a") == {"nested": [1, 2]}
    assert cache.get("n") == 7
    assert cache.get("missing", "default") == "default"
    assert cache.delete("a") is True
    assert cache.get("a") is None


def test_add_only_when_absent_or_expired(tmp_path):
    cache = _cache(tmp_path)

    assert cache.add("k", 1, timeout=0.2) is True
    assert cache.add("k", 2) is False
    assert cache.get("k") == 1
    time.sleep(0.3)
    assert cache.get("k") is None
    assert cache.add("k", 3) is True
    assert cache.get("k") == 3


def test_incr_counts_and_refuses_missing_or_non_integer_keys(tmp_path):
    cache = _cache(tmp_path)
    cache.set("count", 1)
    cache.set("text", "one")

    assert cache.incr("count") == 2
    assert cache.incr("count", 5) == 7
    for key in ("missing", "text"):
        try:
            cache.incr(key)
        except ValueError:
            continue
        raise AssertionError(f"incr({key!r}) should raise ValueError")


def _increment(path: str, times: int) -> None:
    cache = SQLiteCache(path, {})
    for _ in range(times):
        cache.incr("shared")


def test_increments_from_several_processes_are_all_counted(tmp_path):
    path = str(tmp_path / "cache.sqlite3")
    SQLiteCache(path, {}).set("shared", 0)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_increment, args=(path, 50)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    assert SQLiteCache(path, {}).get("shared") == 200
