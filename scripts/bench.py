#!/usr/bin/env python
"""
`make bench`: throughput, latency and memory of the API under gunicorn, driven by wrk.

It seeds a realistic data set (10,000 users, 50,000 token rows, some accounts locked,
blocked and deleted) into a database of its own, starts the app under gunicorn with
production settings (PostgreSQL and Redis when `DATABASE_URL` / `REDIS_URL` are set, else
the embedded defaults), and drives each endpoint from a second process with wrk over
loopback, for a bounded time. Each figure is the median of interleaved rounds, and each
endpoint's ratio to `/health` is taken within the same round, so a busy machine moves
both sides alike. Peak RSS per worker is read from /proc at rest, under read load and
under login load.

Rate limits are raised for the run (every login would otherwise be throttled), and the
bench database (`bench`, or `--database-name`) and the run's cache keys are dropped
afterwards. wrk must be installed: `apt-get install wrk`.

    python scripts/bench.py [--duration 5] [--rounds 3] [--connections 8] [--out FILE]
        [--database-name bench]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import runpy
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _live import (
    ROOT,
    Cleanup,
    Gunicorn,
    app_env,
    bearer,
    delete_cache_keys,
    free_port,
    fresh_database,
    request,
    run_python,
)

USERS = 10_000
TOKENS = 50_000
BENCH_PASSWORD = "bench passphrase 2026"  # noqa: S105 - a throwaway account in a throwaway database


# --- Seeding (runs in a child process with Django set up) ----------------------------


def seed() -> dict[str, str]:
    import django

    django.setup()
    from datetime import timedelta

    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import User, UserIdentifier
    from accounts.validators import fold_identifier
    from admins.models import Admin
    from tokens.crypto import digest
    from tokens.models import Token, TokenKind
    from tokens.services import personal_token_create, session_start

    call_command("migrate", verbosity=0)
    now = timezone.now()
    password = make_password(BENCH_PASSWORD)  # one Argon2 hash, shared by every seeded user
    users = []
    for n in range(USERS):
        users.append(
            User(
                username=f"user{n:05d}",
                name=f"Seeded User {n}",
                email=f"user{n:05d}@example.com",
                phone=f"+1415555{n:04d}" if n % 3 == 0 else None,
                password=password,
                is_active=n % 50 != 1,
                locked_until=now + timedelta(minutes=30) if n % 40 == 2 else None,
                failed_login_attempts=5 if n % 40 == 2 else 0,
                deleted_at=now - timedelta(days=1) if n % 25 == 3 else None,
                last_login=now - timedelta(hours=n % 1000),
            )
        )
    User.objects.bulk_create(users, batch_size=1000)
    # bulk_create skips save(), which keeps the login identifier rows: seed them too, so
    # that conflict checks search a table of a live database's size.
    UserIdentifier.objects.bulk_create(
        (
            UserIdentifier(account_id=pk, value=fold_identifier(value))
            for pk, username, email in User.objects.values_list("pk", "username", "email")
            for value in (username, email)
        ),
        batch_size=2000,
    )
    user_ids = list(User.objects.values_list("pk", flat=True))
    tokens = []
    for n in range(TOKENS):
        personal = n % 4 == 0
        tokens.append(
            Token(
                user_id=user_ids[n % len(user_ids)],
                kind=TokenKind.PERSONAL if personal else TokenKind.SESSION,
                name=f"seeded {n}" if personal else "",
                prefix="pat_seed" if personal else "",
                token_hash=digest(f"seeded-token-{n}"),
                scopes=["read"] if personal else ["read", "write"],
                expires_at=now + timedelta(days=(n % 30) - 5),
                revoked_at=now - timedelta(hours=1) if n % 7 == 0 else None,
                ip="127.0.0.1" if not personal else None,
            )
        )
    Token.objects.bulk_create(tokens, batch_size=2000)

    from django.db import connection

    if connection.vendor == "postgresql":
        # Statistics as a live database has them (autovacuum would gather them later).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    bench = User.objects.create_user(
        username="bench", email="bench@example.com", password=BENCH_PASSWORD, name="Bench"
    )
    admin = Admin.objects.create_superuser(
        username="benchadmin", email="benchadmin@example.com", password=BENCH_PASSWORD
    )
    _, pat = personal_token_create(owner=bench, name="bench", scopes=["read"], expires_in_days=1)
    return {
        "user_jwt": session_start(owner=bench, ip="127.0.0.1", user_agent="bench")["access_token"],
        "user_pat": pat,
        "admin_jwt": session_start(owner=admin, ip="127.0.0.1", user_agent="bench")["access_token"],
    }


# --- The run -------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else 0


def workers_of(master: int) -> list[int]:
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return []
    return [int(pid) for pid in children]


class RssSampler:
    """The highest RSS any worker reaches while it runs (workers may be replaced)."""

    def __init__(self, master: int) -> None:
        self.master, self.peak, self._stop = master, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in workers_of(self.master):
                self.peak = max(self.peak, rss_kib(pid))
            self._stop.wait(0.1)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


LUA_LOGIN = """
wrk.method = "POST"
wrk.body = '{"username": "bench", "password": "%s"}'
wrk.headers["Content-Type"] = "application/json"
"""


def wrk(
    url: str, *, duration: int, connections: int, headers: dict[str, str], lua: str | None
) -> dict[str, Any]:
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "--latency",
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if lua:
        command += ["-s", lua]
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=duration + 30
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]

    def percentile(p: str) -> float:
        match = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": rps,
        "p50_ms": percentile("50"),
        "p99_ms": percentile("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def settle(base: str) -> None:
    """Wait until the workers are idle: a sync worker keeps serving the connections wrk
    left in its backlog (logins take a while) after wrk itself has stopped."""
    quick = 0
    deadline = time.monotonic() + 60
    while quick < 3 and time.monotonic() < deadline:
        reply = request("GET", f"{base}/health", timeout=30)
        quick = quick + 1 if reply.seconds < 0.02 else 0
        time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per endpoint")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--out", default=str(ROOT / "bench-results.json"))
    parser.add_argument(
        "--database-name",
        default="bench",
        help="PostgreSQL only: created afresh, dropped at the end",
    )
    parser.add_argument("--seed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed:
        print(json.dumps(seed()))
        return 0
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk (Debian/Ubuntu), brew install wrk")
        return 2

    workdir = Path(tempfile.mkdtemp(prefix="authapi-bench-"))
    port = free_port()
    settings = {"RATE_LIMIT_ATTEMPTS": "1000000000", "UPLOAD_DIR": str(workdir / "media")}
    cleanup = Cleanup()
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        settings["DATABASE_URL"], drop_database = fresh_database(
            os.environ["DATABASE_URL"], args.database_name
        )
        cleanup.push(f"drop database {args.database_name}", drop_database)
        backend = "PostgreSQL"
    else:
        settings["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
        settings["CACHE_PATH"] = str(workdir / "cache.sqlite3")
        backend = "SQLite"
    cache_url = os.environ.get("REDIS_URL")
    cache = "Redis" if cache_url else "embedded SQLite cache"
    if cache_url:
        prefix = settings["CACHE_KEY_PREFIX"] = f"bench-{secrets.token_hex(4)}"
        cleanup.push(f"delete cache keys {prefix}:*", lambda: delete_cache_keys(cache_url, prefix))
    env = app_env(**settings)

    results: dict[str, list[dict[str, Any]]] = {}
    memory: dict[str, int] = {}
    try:
        print(f"seeding {USERS} users and {TOKENS} tokens ({backend}, {cache})...", flush=True)
        started = time.monotonic()
        seeded = run_python(env, __file__, "--seed", timeout=1800)
        credentials = json.loads(seeded.strip().splitlines()[-1])
        print(f"seeded in {time.monotonic() - started:.0f} s", flush=True)

        server = Gunicorn("bench", port, env, workdir / "gunicorn.log")
        base = server.base
        login_lua = workdir / "login.lua"
        login_lua.write_text(LUA_LOGIN % BENCH_PASSWORD)
        endpoints: list[tuple[str, str, dict[str, str], str | None]] = [
            ("/health", "/health", {}, None),
            ("GET /users/me (JWT)", "/api/v1/users/me", bearer(credentials["user_jwt"]), None),
            ("GET /users/me (PAT)", "/api/v1/users/me", bearer(credentials["user_pat"]), None),
            (
                "GET /admin/users?page_size=20",
                "/api/v1/admin/users?page_size=20",
                bearer(credentials["admin_jwt"]),
                None,
            ),
            (
                "GET /admin/users?search=",
                "/api/v1/admin/users?page_size=20&search=user012",
                bearer(credentials["admin_jwt"]),
                None,
            ),
            ("POST /auth/login", "/api/v1/auth/login", {}, str(login_lua)),
        ]
        results = {name: [] for name, *_ in endpoints}
        cleanup.push("stop gunicorn", server.stop)
        server.start(timeout=60)
        for _name, path, headers, lua in endpoints:  # warm every worker and code path
            if lua is None:
                wrk(base + path, duration=1, connections=args.connections, headers=headers, lua=lua)
        settle(base)
        memory["at_rest"] = max(rss_kib(pid) for pid in workers_of(server.pid))
        read_peak = login_peak = 0
        for round_number in range(1, args.rounds + 1):
            print(f"round {round_number}/{args.rounds}", flush=True)
            for name, path, headers, lua in endpoints:
                with RssSampler(server.pid) as sampler:
                    result = wrk(
                        base + path,
                        duration=args.duration,
                        connections=args.connections,
                        headers=headers,
                        lua=lua,
                    )
                if lua:
                    settle(base)
                    login_peak = max(login_peak, sampler.peak)
                elif name != "/health":
                    read_peak = max(read_peak, sampler.peak)
                results[name].append(result)
        memory["read_load"], memory["login_load"] = read_peak, login_peak
    finally:
        cleanup_failures = cleanup.run()
        for failure in cleanup_failures:
            print(f"cleanup failed: {failure}", flush=True)

    report = _report(results, memory, args, backend, cache)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    _print_table(report)
    print(f"\nJSON: {args.out}; server log: {workdir / 'gunicorn.log'}")
    failed = [name for name, runs in results.items() if any(run["non_2xx"] for run in runs)]
    if failed:
        print(f"non-2xx responses from: {', '.join(failed)}")
        return 1
    return 1 if cleanup_failures else 0


def _report(
    results: dict[str, list[dict[str, Any]]],
    memory: dict[str, int],
    args: argparse.Namespace,
    backend: str,
    cache: str,
) -> dict[str, Any]:
    health = results["/health"]
    endpoints = {}
    for name, runs in results.items():
        ratios = [run["rps"] / floor["rps"] for run, floor in zip(runs, health, strict=True)]
        endpoints[name] = {
            "rps": statistics.median(run["rps"] for run in runs),
            "p50_ms": statistics.median(run["p50_ms"] for run in runs),
            "p99_ms": statistics.median(run["p99_ms"] for run in runs),
            "ratio_to_health": statistics.median(ratios),
            "non_2xx": sum(run["non_2xx"] for run in runs),
            "rounds": runs,
        }
    return {
        "backend": backend,
        "cache": cache,
        "users": USERS,
        "tokens": TOKENS,
        "rounds": args.rounds,
        "duration_s": args.duration,
        "connections": args.connections,
        "gunicorn": _gunicorn_settings(),
        "endpoints": endpoints,
        "peak_rss_per_worker_mib": {key: round(kib / 1024, 1) for key, kib in memory.items()},
    }


def _gunicorn_settings() -> dict[str, Any]:
    namespace = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    return {key: namespace.get(key) for key in ("workers", "worker_class", "threads")}


def _print_table(report: dict[str, Any]) -> None:
    print(
        f"\n{report['backend']} + {report['cache']}, gunicorn {report['gunicorn']}, "
        f"median of {report['rounds']} rounds x {report['duration_s']} s, "
        f"{report['connections']} connections"
    )
    print(f"{'endpoint':34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'x /health':>10}")
    for name, row in report["endpoints"].items():
        print(
            f"{name:34} {row['rps']:9.0f} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f} "
            f"{row['ratio_to_health']:10.2f}"
        )
    memory = report["peak_rss_per_worker_mib"]
    print(
        "peak RSS per worker (MiB): "
        + ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in memory.items())
    )


if __name__ == "__main__":
    sys.exit(main())
