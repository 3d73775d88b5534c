#!/usr/bin/env python
"""
Fuzz the live API with schemathesis, from its own OpenAPI document; fail on any finding.

It creates a fresh PostgreSQL database `fuzz` on the server of `DATABASE_URL` (default
`postgres://postgres@127.0.0.1:5432/test`; dropped before and after) and uses the Redis of
`REDIS_URL` (default `redis://127.0.0.1:6379/0`) under a cache key prefix of its own. It
migrates, seeds a user and a superuser admin with a login session each, a personal access
token for the user and a few accounts for the admin endpoints to act on, raises the rate
limits for the run, and starts gunicorn with production settings (`DEBUG=false`, a random
`SECRET_KEY`, uploads in a temporary folder) on a free loopback port.

Then it runs `schemathesis run --checks all` against `/api/schema`, with a fixed seed and a
bounded number of examples, twice: as the user for the user realm's operations (including
`/api/v1/tokens`), then as the admin for the admin realm's (`/api/v1/admin/...`). The user
realm goes first, so that nothing the admin run does to users (block, delete, revoke
tokens) can pull the user run's session from under it. What is left out is listed below,
each with its reason: operations that would destroy the fuzzer's own credentials
(`EXCLUDED_OPERATIONS`, `PROTECTED`), and failures that are the API working as documented
(`NOT_APPLICABLE`, `SCHEMA_INEXPRESSIBLE_RULES`; these are counted and listed at the end).

It prints, per run and in total, the requests schemathesis generated and the failures it
found, and exits non-zero on any failure or error, or when fewer than `--min-requests`
requests were generated. gunicorn is stopped and the database dropped whatever happens.
Reports (JSON, and pytest reproductions of any failure) and the server log are kept in a
temporary folder, printed at the end.

    .venv/bin/python scripts/fuzz.py [--max-examples 100] [--seed 20261126] [--realm user]

schemathesis loads this same file as its hooks module (`SCHEMATHESIS_HOOKS`), for the
filters above; it then runs only `_register_hooks`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, NamedTuple

from _live import delete_cache_keys, free_port, fresh_database

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DATABASE_NAME = "fuzz"
# Token ids the fuzzer must never revoke (its own sessions), for the hooks below.
PROTECTED_ENV = "FUZZ_PROTECTED_TOKEN_IDS"
# Every rate limit raised far beyond what a run sends (each would otherwise answer 429
# after a handful of requests and hide everything behind it).
RATE_LIMITS = {
    "RATE_LIMIT_ATTEMPTS": "1000000000",
    "REGISTER_RATE_LIMIT": "1000000000/h",
    "TOKEN_CREATE_RATE_LIMIT": "1000000000/h",
}

# Operations the fuzzer never calls, and why. Everything else in the schema is fuzzed,
# including what could hurt the fuzzer but cannot: `DELETE /users/me` and `POST
# /users/me/password` need the account's password, which the fuzzer never has; `DELETE
# /tokens` spares the session making the request; an admin cannot block or demote themself.
EXCLUDED_OPERATIONS: dict[str, str] = {
    "POST /api/v1/auth/login": "wrong passwords would lock the fuzzer's own account; "
    "covered by the test suite (accounts/tests/test_login.py)",
    "POST /api/v1/admin/auth/login": "wrong passwords would lock the fuzzer's own account; "
    "covered by the test suite (admins/tests/test_auth.py)",
    "POST /api/v1/auth/logout": "revokes the fuzzer's own session; covered by the test suite",
    "POST /api/v1/admin/auth/logout": "revokes the fuzzer's own session; covered by the test suite",
}
# Generated requests that are dropped before they are sent, and why: `DELETE
# /api/v1/tokens/{id}` with the id of the session the run authenticates with would revoke
# it (every later request would be a 401). Any other id, the user's personal access token's
# included, is fuzzed.
PROTECTED = "DELETE /api/v1/tokens/{id} with the id of the fuzzer's own session"
# Checks switched off for the whole run, and why. None: every check runs (`--checks all`).
EXCLUDED_CHECKS: dict[str, str] = {}
# A check's failures on some operations that are the API working as documented, and why:
# (failure code, regex over "METHOD /path" of the operation that failed, reason). Only
# those failures are not counted (they are listed, with a count, at the end).
NOT_APPLICABLE: list[tuple[str, str, str]] = [
    (
        "ST301",  # use_after_free: a resource still answers after its DELETE
        r"^[A-Z]+ /api/v1/admin/users/\{id\}",
        "DELETE /admin/users/{id} is a soft delete: staff still read a deleted user, list "
        "its tokens and restore it (API.md); DELETE /admin/users/{id}/tokens revokes the "
        "tokens, and the list keeps showing them, with revoked_at",
    ),
]
# Field rules that a JSON Schema cannot state. `positive_data_acceptance` (ST202) expects
# every schema-valid request to succeed; a 400 VALIDATION_ERROR whose `details` name only
# these fields is the server applying such a rule, so that one failure is not counted (it is
# listed, with a count per field, at the end). A 400 naming any other field still fails.
SCHEMA_INEXPRESSIBLE_RULES: dict[str, str] = {
    "password": "Django's password validators (too common, all digits, too similar to the "
    "username); or, to confirm a deletion, the account's own password",
    "current_password": "must be the account's own password, which the fuzzer never has",
    "new_password": "Django's password validators",
    "phone": "a number that exists in its country's numbering plan (phonenumbers)",
    "email": "Django's EmailValidator, stricter than `format: email` (for one, it wants a "
    "top-level domain of two characters or more); the schema says so in words",
    "name": "no character of the Unicode categories Cc, Cf, Cs, Co or Cn",
    "avatar": "a file that Pillow decodes as a JPEG, PNG or WebP image",
    "scopes": '"write" only together with "read"',
}
ACCEPTED_LOG_ENV = "FUZZ_ACCEPTED_LOG"


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


# --- Hooks (run inside schemathesis, which loads this file as `_schemathesis_hooks`) ---


def _register_hooks() -> None:
    import schemathesis

    protected = {int(pk) for pk in os.environ.get(PROTECTED_ENV, "").split(",") if pk}
    accepted_log = os.environ.get(ACCEPTED_LOG_ENV)

    @schemathesis.hook
    def filter_case(context: Any, case: Any) -> bool:
        """Drop `PROTECTED`: a revocation of the run's own session."""
        operation = case.operation
        if operation.method.upper() != "DELETE" or operation.path != "/api/v1/tokens/{id}":
            return True
        value = str((case.path_parameters or {}).get("id", ""))
        return not (value.isdecimal() and int(value) in protected)

    def not_counted(failure: Any, case: Any, response: Any) -> str | None:
        """Why this failure is not a finding, or None when it is one."""
        label = f"{case.operation.method.upper()} {case.operation.path}"
        for code, pattern, _reason in NOT_APPLICABLE:
            if failure.code == code and re.match(pattern, label):
                return f"{code} not applicable"
        if failure.code != "ST202" or response.status_code != 400:
            return None
        try:
            error = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            return None
        fields = set((error.get("details") or {}).keys())
        if error.get("code") != "VALIDATION_ERROR" or not fields:
            return None
        if not fields <= SCHEMA_INEXPRESSIBLE_RULES.keys():
            return None
        return "ST202 refused for " + ", ".join(sorted(fields))

    @schemathesis.hook
    def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
        """Keep every failure but `NOT_APPLICABLE` ones and ST202s due to
        `SCHEMA_INEXPRESSIBLE_RULES` alone."""
        reason = not_counted(failure, case, response)
        if reason is None:
            return True
        if accepted_log:
            with open(accepted_log, "a") as log:
                label = f"{case.operation.method.upper()} {case.operation.path}"
                log.write(json.dumps({"operation": label, "reason": reason}) + "\n")
        return False


if __name__ == "_schemathesis_hooks":
    _register_hooks()


# --- The run -------------------------------------------------------------------------


def wait_until_up(base: str, server: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("gunicorn exited before answering /health; see the server log")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /health in time; see the server log")


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
    parser.add_argument("--seed-data", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed_data:
        print(json.dumps(seed()))
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="authapi-fuzz-"))
    args.report_dir = workdir / "reports"
    accepted_log = workdir / "accepted.jsonl"
    port = free_port()
    server_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if not server_url.startswith(("postgres://", "postgresql://")):
        print(f"DATABASE_URL must point to a PostgreSQL server, not {server_url.split(':')[0]}")
        return 2
    database_url, drop_database = fresh_database(server_url, DATABASE_NAME)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL,
        "CACHE_KEY_PREFIX": f"fuzz-{secrets.token_hex(4)}",
        "UPLOAD_DIR": str(workdir / "media"),
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "PYTHONPATH": str(ROOT),
        **RATE_LIMITS,
    }
    server: subprocess.Popen[bytes] | None = None
    log = (workdir / "gunicorn.log").open("w")
    results = []
    started = time.monotonic()
    try:
        seeded = subprocess.run(
            [sys.executable, __file__, "--seed-data"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        credentials = json.loads(seeded.stdout.strip().splitlines()[-1])
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--config", "gunicorn.conf.py"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, server, time.monotonic() + 60)
        fuzz_env = {
            **os.environ,
            ACCEPTED_LOG_ENV: str(accepted_log),
            "SCHEMATHESIS_HOOKS": str(Path(__file__).resolve()),
            # schemathesis imports this file as its hooks module: `_live` must be found.
            "PYTHONPATH": str(ROOT / "scripts"),
            PROTECTED_ENV: ",".join(str(pk) for pk in credentials["protected_token_ids"]),
        }
        for realm in REALMS:
            if args.realm and realm.name not in args.realm:
                continue
            token = credentials[realm.token_key]
            results.append(run_realm(realm, base=base, token=token, args=args, env=fuzz_env))
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
        log.close()
        drop_database()
        delete_cache_keys(env["REDIS_URL"], env["CACHE_KEY_PREFIX"])

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
    print(f"wall time {time.monotonic() - started:.0f} s")
    print(f"reports: {args.report_dir}; server log: {workdir / 'gunicorn.log'}")
    if failures or errors:
        print("FAILED: schemathesis found failures or errors (see above)")
        return 1
    if generated < args.min_requests:
        print(f"FAILED: fewer than {args.min_requests} requests generated")
        return 1
    print("fuzzing passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
