#!/usr/bin/env python
"""
Fuzz the live API with schemathesis, from its own OpenAPI document; fail on any finding.

It creates a fresh PostgreSQL database (`fuzz`, or `--database-name`) on the server of
`DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`; dropped before and
after) and uses the Redis of `REDIS_URL` (default `redis://127.0.0.1:6379/0`) under a cache
key prefix of its own. It migrates, seeds a user and a superuser admin with a login session
each, a personal access token for the user and a few accounts for the admin endpoints to
act on, raises the rate limits for the run, and starts gunicorn with production settings
(`DEBUG=false`, a random `SECRET_KEY`, uploads in a temporary folder; `_live.app_env`) on a
free loopback port.

An SMTP server (aiosmtpd) listens on another loopback port for the task worker.

Then it runs `schemathesis run --checks all` against `/api/schema`, with a fixed seed and a
bounded number of examples, twice: as the user for the user realm's operations (including
`/api/v1/tokens`), then as the admin for the admin realm's (`/api/v1/admin/...`). The user
realm goes first, so that nothing the admin run does to users (block, delete, revoke
tokens) can pull the user run's session from under it. What is left out is listed below,
each with its reason: operations that would destroy the fuzzer's own credentials
(`EXCLUDED_OPERATIONS` here, `PROTECTED` in `fuzz_hooks.py`), and failures that are the API
working as documented (`NOT_APPLICABLE`, `SCHEMA_INEXPRESSIBLE_RULES` in `fuzz_hooks.py`;
these are counted and listed at the end).

After the runs, the task worker (`db_worker --batch`) sends whatever the fuzzing enqueued
(password resets for the addresses schemathesis made up, and the seeded accounts'); a task
that fails is a finding.

It prints, per run and in total, the requests schemathesis generated and the failures it
found, and exits non-zero on any failure or error, or when fewer than `--min-requests`
requests were generated. gunicorn is stopped and the database dropped whatever happens.
Reports (JSON, and pytest reproductions of any failure) and the server log are kept in a
temporary folder, printed at the end.

    .venv/bin/python scripts/fuzz.py [--max-examples 100] [--seed 20261126] [--realm user]
        [--database-name fuzz]

schemathesis loads `fuzz_hooks.py` (`SCHEMATHESIS_HOOKS`) for those filters.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

import fuzz_hooks
from _live import (
    Cleanup,
    Gunicorn,
    app_env,
    database_server_url,
    delete_cache_keys,
    free_port,
    fresh_database,
    redis_url,
    run_python,
)

DATABASE_NAME = "fuzz"
# Every rate limit raised far beyond what a run sends (each would otherwise answer 429
# after a handful of requests and hide everything behind it). RATE_LIMIT_ATTEMPTS also
# sets the login's second step and the password and second-factor code checks.
RATE_LIMITS = {
    "RATE_LIMIT_ATTEMPTS": "1000000000",
    "REGISTER_RATE_LIMIT": "1000000000/h",
    "TOKEN_CREATE_RATE_LIMIT": "1000000000/h",
    "PROFILE_UPDATE_RATE_LIMIT": "1000000000/h",
    "AVATAR_UPLOAD_RATE_LIMIT": "1000000000/h",
    "PASSWORD_RESET_RATE_LIMIT": "1000000000/h",
    "PASSWORD_RESET_EMAIL_LIMIT": "1000000000/h",
    "TOKEN_CHECK_RATE_LIMIT": "1000000000/h",
    "EMAIL_VERIFY_RESEND_RATE_LIMIT": "1000000000/h",
}

# Operations the fuzzer never calls, and why. Everything else in the schema is fuzzed,
# including what could hurt the fuzzer but cannot: `DELETE /users/me` and `POST
# /users/me/password` need the account's password, which the fuzzer never has; `DELETE
# /tokens` spares the session making the request; an admin cannot block or demote themself.
# A revocation of the run's own session is dropped by the hooks (`fuzz_hooks.PROTECTED`).
EXCLUDED_OPERATIONS: dict[str, str] = {
    "POST /api/v1/auth/login": "wrong passwords would lock the fuzzer's own account; "
    "covered by the test suite (accounts/tests/test_login.py)",
    "POST /api/v1/admin/auth/login": "wrong passwords would lock the fuzzer's own account; "
    "covered by the test suite (admins/tests/test_auth.py)",
    "POST /api/v1/auth/logout": "revokes the fuzzer's own session; covered by the test suite",
    "POST /api/v1/admin/auth/logout": "revokes the fuzzer's own session; covered by the test suite",
}
# Checks switched off for the whole run, and why. None: every check runs (`--checks all`).
EXCLUDED_CHECKS: dict[str, str] = {}


class Realm(NamedTuple):
    name: str
    include_path_regex: str
    token_key: str


REALMS = (
    # Everything outside /api/v1/admin/: registration, refresh, /users/me, /tokens.
    Realm("user", r"^/api/v1/(?!admin/)", "user_session"),
    Realm("admin", r"^/api/v1/admin/", "admin_session"),
)


# --- Seeding (runs in a child process with Django set up) ----------------------------


def seed() -> dict[str, Any]:
    import django

    django.setup()
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import User
    from admins.models import Admin
    from tokens.services import personal_token_create, session_start

    call_command("migrate", verbosity=0)
    now = timezone.now()
    password = secrets.token_urlsafe(24)  # nobody, the fuzzer included, ever uses it
    user = User.objects.create_user(
        username="fuzzer", email="fuzzer@example.com", password=password, name="Fuzzer"
    )
    admin = Admin.objects.create_superuser(
        username="fuzzadmin", email="fuzzadmin@example.com", password=password, name="Fuzz"
    )
    # Accounts for the admin endpoints to find, change, block, unlock, delete, restore.
    targets: list[dict[str, Any]] = [
        {},
        {"is_active": False},
        {"failed_login_attempts": 5, "locked_until": now + timedelta(minutes=30)},
        {"deleted_at": now - timedelta(days=1)},
    ]
    for n, extra in enumerate(targets):
        User.objects.create_user(
            username=f"target{n}",
            email=f"target{n}@example.com",
            password=password,
            name=f"Target {n}",
            phone=f"+1415555{n:04d}",
            **extra,
        )
    Admin.objects.create_user(
        username="staff", email="staff@example.com", password=password, name="Staff"
    )
    user_pair = session_start(owner=user, ip="127.0.0.1", user_agent="fuzz")
    admin_pair = session_start(owner=admin, ip="127.0.0.1", user_agent="fuzz")
    # A personal access token, so that token lists hold both kinds.
    personal_token_create(owner=user, name="fuzz", scopes=["read"], expires_in_days=1)

    from tokens.models import Token

    return {
        "user_session": user_pair["access_token"],
        "admin_session": admin_pair["access_token"],
        "protected_token_ids": list(Token.objects.sessions().values_list("pk", flat=True)),
    }


def task_summary() -> dict[str, int]:
    """How many task rows end in each status, after the worker's batch run."""
    import django

    django.setup()
    from django.db.models import Count
    from django_tasks_db.models import DBTaskResult

    rows = DBTaskResult.objects.values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


class MailSink:
    """An SMTP server for the worker (aiosmtpd handler): counts what it is given."""

    def __init__(self) -> None:
        self.messages = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages += 1
        return "250 OK"


def run_mail_worker(env: dict[str, str], sink: MailSink) -> dict[str, Any]:
    """Run the task worker over everything the fuzzing enqueued (reset requests with
    whatever addresses schemathesis made up), in batch mode, then count the task rows: a
    task that failed is a finding."""
    run_python(
        env,
        "manage.py",
        "db_worker",
        "--batch",
        "--no-startup-delay",
        "--no-reload",
        "--verbosity",
        "0",
        timeout=600,
    )
    statuses = json.loads(run_python(env, __file__, "--task-summary", timeout=120).splitlines()[-1])
    return {"statuses": statuses, "mails": sink.messages}


# --- The run -------------------------------------------------------------------------


def schemathesis_command(
    realm: Realm, *, base: str, args: argparse.Namespace, report: Path
) -> list[str]:
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{base}/api/schema",
        "--checks",
        "all",
        "--seed",
        str(args.seed),
        "--max-examples",
        str(args.max_examples),
        "--workers",
        str(args.workers),
        "--include-path-regex",
        realm.include_path_regex,
        "--request-timeout",
        "30",
        "--no-color",
        # Nothing replayed from an earlier run: a run is its seed.
        "--generation-database",
        "none",
        "--report",
        "json,pytest",
        "--report-json-path",
        str(report / f"{realm.name}.json"),
        "--report-pytest-path",
        str(report / f"{realm.name}_failures.py"),
    ]
    for operation in EXCLUDED_OPERATIONS:
        if re.match(realm.include_path_regex, operation.split(" ", 1)[1]):
            command += ["--exclude-name", operation]
    if EXCLUDED_CHECKS:
        command += ["--exclude-checks", ",".join(EXCLUDED_CHECKS)]
    return command


def run_realm(
    realm: Realm, *, base: str, token: str, args: argparse.Namespace, env: dict[str, str]
) -> dict[str, Any]:
    report = args.report_dir
    command = schemathesis_command(realm, base=base, args=args, report=report)
    command[3:3] = ["--header", f"Authorization: Bearer {token}"]
    print(f"\n=== schemathesis: {realm.name} realm ({realm.include_path_regex}) ===", flush=True)
    started = time.monotonic()
    result: dict[str, Any] = {"realm": realm.name, "generated": 0, "failures": 0, "errors": 1}
    try:
        # In the work folder: schemathesis keeps a cache folder in its working directory.
        completed = subprocess.run(
            command, env=env, cwd=report.parent, check=False, timeout=args.timeout
        )
    except subprocess.TimeoutExpired:
        print(f"schemathesis did not finish in {args.timeout} s: stopped, counted as an error")
        return {**result, "seconds": time.monotonic() - started}
    result["seconds"] = time.monotonic() - started
    path = report / f"{realm.name}.json"
    if not path.exists():
        return result
    document = json.loads(path.read_text())
    failures = sum(group["count"] for group in document["failures"])
    errors = sum(group["count"] for group in document["errors"])
    if not document["complete"] or (completed.returncode != 0 and not failures + errors):
        errors += 1  # stopped early, or failed in a way the report does not count
    return {
        **result,
        "generated": document["test_cases"]["generated"],
        "failures": failures,
        "errors": errors,
    }


def print_accepted(path: Path) -> None:
    """What `filter_failure` did not count, per operation and field."""
    if not path.exists():
        return
    counts: dict[tuple[str, str], int] = {}
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        key = (entry["operation"], entry["reason"])
        counts[key] = counts.get(key, 0) + 1
    print("not counted (SCHEMA_INEXPRESSIBLE_RULES, NOT_APPLICABLE):")
    for (operation, reason), count in sorted(counts.items()):
        print(f"  {count:4d} x {operation}: {reason}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=100, help="per operation and phase")
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--workers", type=int, default=1, help="schemathesis workers")
    parser.add_argument("--min-requests", type=int, default=1000)
    parser.add_argument("--timeout", type=int, default=480, help="hard cap per run, seconds")
    parser.add_argument("--realm", choices=[realm.name for realm in REALMS], action="append")
    parser.add_argument(
        "--database-name", default=DATABASE_NAME, help="created afresh, dropped at the end"
    )
    parser.add_argument("--seed-data", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--task-summary", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed_data:
        print(json.dumps(seed()))
        return 0
    if args.task_summary:
        print(json.dumps(task_summary()))
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="authapi-fuzz-"))
    args.report_dir = workdir / "reports"
    accepted_log = workdir / "accepted.jsonl"
    server_url = database_server_url()
    if not server_url.startswith(("postgres://", "postgresql://")):
        print(f"DATABASE_URL must point to a PostgreSQL server, not {server_url.split(':')[0]}")
        return 2
    port = free_port()
    cache_url, cache_prefix = redis_url(), f"fuzz-{secrets.token_hex(4)}"
    cleanup = Cleanup()
    cleanup_failures: list[str] = []
    results = []
    mail: dict[str, Any] = {}
    started = time.monotonic()
    try:
        from aiosmtpd.controller import Controller

        sink = MailSink()
        smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
        smtp.start()
        cleanup.push("stop the SMTP server", smtp.stop)
        database_url, drop_database = fresh_database(server_url, args.database_name)
        cleanup.push(f"drop database {args.database_name}", drop_database)
        cleanup.push(
            f"delete cache keys {cache_prefix}:*",
            lambda: delete_cache_keys(cache_url, cache_prefix),
        )
        env = app_env(
            DATABASE_URL=database_url,
            REDIS_URL=cache_url,
            CACHE_KEY_PREFIX=cache_prefix,
            UPLOAD_DIR=str(workdir / "media"),
            PUBLIC_URL=f"http://127.0.0.1:{port}",
            EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}",
            **RATE_LIMITS,
        )
        seeded = run_python(env, __file__, "--seed-data", timeout=300)
        credentials = json.loads(seeded.strip().splitlines()[-1])
        server = Gunicorn("fuzz", port, env, workdir / "gunicorn.log")
        cleanup.push("stop gunicorn", server.stop)
        server.start(timeout=60)
        fuzz_env = {
            **os.environ,
            **fuzz_hooks.environment(
                protected_token_ids=credentials["protected_token_ids"],
                accepted_log=accepted_log,
            ),
        }
        for realm in REALMS:
            if args.realm and realm.name not in args.realm:
                continue
            token = credentials[realm.token_key]
            results.append(run_realm(realm, base=server.base, token=token, args=args, env=fuzz_env))
        mail = run_mail_worker(env, sink)
    finally:
        cleanup_failures = cleanup.run()
        for failure in cleanup_failures:
            print(f"cleanup failed: {failure}", flush=True)

    print("\n=== fuzzing summary ===")
    for result in results:
        print(
            f"{result['realm']:>6} realm: {result['generated']} requests generated, "
            f"{result['failures']} failures, {result['errors']} errors, "
            f"{result['seconds']:.0f} s"
        )
    print_accepted(accepted_log)
    generated = sum(result["generated"] for result in results)
    failures = sum(result["failures"] for result in results)
    errors = sum(result["errors"] for result in results)
    print(f" total: {generated} requests generated, {failures} failures, {errors} errors")
    failed_tasks = mail.get("statuses", {}).get("FAILED", 0)
    print(f"  mail: task rows by status {mail.get('statuses')}, {mail.get('mails', 0)} mails sent")
    print(f"wall time {time.monotonic() - started:.0f} s")
    print(f"reports: {args.report_dir}; server log: {workdir / 'gunicorn.log'}")
    if failures or errors:
        print("FAILED: schemathesis found failures or errors (see above)")
        return 1
    if not mail or failed_tasks:
        print("FAILED: the task worker did not run, or a task failed (see the server log)")
        return 1
    if cleanup_failures:
        print("FAILED: cleanup (see above)")
        return 1
    if generated < args.min_requests:
        print(f"FAILED: fewer than {args.min_requests} requests generated")
        return 1
    print("fuzzing passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
