#!/usr/bin/env python
"""
`make bench`: throughput, latency and memory of the API under gunicorn, driven by wrk;
`make bench PEERS=1` (`--peers`) measures it side by side with the stacks a user would
pick instead.

It seeds a realistic data set (10,000 users, 50,000 token rows, some accounts locked,
blocked and deleted) into a database of its own, starts the app under gunicorn with
production settings (PostgreSQL and Redis when `DATABASE_URL` / `REDIS_URL` are set, else
the embedded defaults), and drives each endpoint from a second process with wrk over
loopback (keep-alive where the server offers it), for a bounded time. Each figure is the
median of interleaved rounds, and every ratio is taken within one round (the median of
the per-round ratios), so a busy machine moves both sides alike. Peak RSS per worker is
read from /proc at rest, under read load and under login load.

`--peers` (PostgreSQL only; 5 rounds at 8 and 32 connections unless told otherwise) also
builds the reference apps of `scripts/peers/` in a virtualenv of their own (cached under
`~/.cache/authapi-bench/`, keyed by the hash of the requirements; never the project's),
seeds their database (`<database-name>_peers`) with as many users, and measures in the
same rounds: a stock DRF + simplejwt `GET /me` and a bare Django view under gunicorn
with the project's `gunicorn.conf.py`, and a FastAPI + asyncpg + PyJWT `GET /me` under
uvicorn (2 workers, uvloop, httptools). `--servers gunicorn,granian` also serves the
project with granian (deploy/serve.sh with SERVER=granian: WSGI, 2 workers of one
blocking thread each). It prints each
endpoint's req/s per round and the ratios the performance goals use, per round and their
median, and writes everything to `bench-results.json`.

Rate limits are raised for the run (every login would otherwise be throttled), and the
bench databases (`bench`, or `--database-name`) and the run's cache keys are dropped
afterwards. wrk must be installed: `apt-get install wrk`.

    python scripts/bench.py [--peers] [--servers gunicorn,granian] [--duration 5]
        [--rounds 3] [--connections 8[,32]] [--out FILE] [--database-name bench]
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _live import (
    ROOT,
    AppServer,
    Cleanup,
    Gunicorn,
    Server,
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
PEERS_DIR = ROOT / "scripts" / "peers"
SERVERS = ("gunicorn", "granian")


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


# --- The peers' virtualenv -----------------------------------------------------------


def peers_python() -> str:
    """The python of the peers' virtualenv (`scripts/peers/requirements.txt`, which takes
    in the project's `requirements.txt`), built on first use under the user's cache folder
    in a folder named by the hash of both files and of this Python, so that a later run
    starts at once and a changed pin builds afresh. A lock keeps two runs from building
    it at the same time."""
    digest = hashlib.sha256(sys.version.encode())
    for path in (PEERS_DIR / "requirements.txt", ROOT / "requirements.txt"):
        digest.update(path.read_bytes())
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "authapi-bench"
    venv = cache / f"peers-{digest.hexdigest()[:16]}"
    python = venv / "bin" / "python"
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / f"{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (venv / ".complete").is_file():
            return str(python)
        shutil.rmtree(venv, ignore_errors=True)
        print(
            f"building the peers' virtualenv in {venv} "
            "(pip install -r scripts/peers/requirements.txt, once per set of pins)...",
            flush=True,
        )
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        install = subprocess.run(
            [
                str(python),
                *("-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
                *("-r", str(PEERS_DIR / "requirements.txt")),
            ],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if install.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            raise RuntimeError(f"pip install failed: {install.stderr.strip()[-2000:]}")
        (venv / ".complete").write_text("installed\n")
    return str(python)


# --- What is measured ----------------------------------------------------------------


@dataclass
class Target:
    """One row of the table: a path of one server, driven by wrk in every round."""

    name: str
    server: Server
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    lua: str | None = None
    # What a 200 reply must contain before the rounds start (a wrong token or a missing
    # row would otherwise be measured as a fast error).
    expect: str = ""
    kind: str = "read"  # "health", "read" or "login": which memory figure it feeds


def project_rows(
    server: Server, prefix: str, credentials: dict[str, str], login_lua: Path, *, peers: bool
) -> list[Target]:
    """The project's endpoints on one server; with `peers`, only those the goals compare."""
    me, admin = "/api/v1/users/me", bearer(credentials["admin_jwt"])
    rows = [
        Target(f"{prefix}/health", server, "/health", expect='"ok"', kind="health"),
        Target(
            f"{prefix}GET /users/me (JWT)",
            server,
            me,
            bearer(credentials["user_jwt"]),
            expect='"bench"',
        ),
        Target(
            f"{prefix}GET /users/me (PAT)",
            server,
            me,
            bearer(credentials["user_pat"]),
            expect='"bench"',
        ),
    ]
    if peers:
        return rows
    return [
        *rows,
        Target(
            f"{prefix}GET /admin/users?page_size=20",
            server,
            "/api/v1/admin/users?page_size=20",
            admin,
        ),
        Target(
            f"{prefix}GET /admin/users?search=",
            server,
            "/api/v1/admin/users?page_size=20&search=user012",
            admin,
        ),
        Target(
            f"{prefix}POST /auth/login",
            server,
            "/api/v1/auth/login",
            lua=str(login_lua),
            kind="login",
        ),
    ]


# The peers' rows, by name (their servers are started by `start_peers`).
FASTAPI_ME = "FastAPI GET /me"
DRF_ME = "DRF GET /me"
BARE_HEALTH = "bare Django /health"


def ratio_definitions(
    targets: list[Target], servers: list[str]
) -> list[tuple[str, str, str, float | None]]:
    """The ratios the performance goals are stated in: (label, numerator row, denominator
    row, goal), for each server of the project, and granian against gunicorn; only those
    whose two rows are measured."""
    definitions: list[tuple[str, str, str, float | None]] = []
    for server in servers:
        p = server_prefix(server)
        definitions += [
            (f"{p}me JWT / FastAPI me", f"{p}GET /users/me (JWT)", FASTAPI_ME, 1.0),
            (f"{p}me JWT / DRF me", f"{p}GET /users/me (JWT)", DRF_ME, 1.5),
            (f"{p}me PAT / me JWT", f"{p}GET /users/me (PAT)", f"{p}GET /users/me (JWT)", 0.9),
            (f"{p}/health / bare Django", f"{p}/health", BARE_HEALTH, 0.9),
        ]
    for server in servers[1:]:
        p, q = server_prefix(server), server_prefix(servers[0])
        definitions += [
            (f"{server} /health / {servers[0]} /health", f"{p}/health", f"{q}/health", None),
            (
                f"{server} me JWT / {servers[0]} me JWT",
                f"{p}GET /users/me (JWT)",
                f"{q}GET /users/me (JWT)",
                None,
            ),
            (
                f"{server} me PAT / {servers[0]} me PAT",
                f"{p}GET /users/me (PAT)",
                f"{q}GET /users/me (PAT)",
                None,
            ),
        ]
    names = {target.name for target in targets}
    return [d for d in definitions if d[1] in names and d[2] in names]


def server_prefix(server: str) -> str:
    """The row prefix of the project's endpoints on `server` (none on gunicorn)."""
    return "" if server == "gunicorn" else f"{server} "


# --- Servers -------------------------------------------------------------------------


def peer_servers(
    python: str, database_url: str, workdir: Path
) -> tuple[dict[str, Server], dict[str, str]]:
    """The peers' servers (not started) and the environment their seed runs in."""
    env = {
        **os.environ,
        "PEER_DATABASE_URL": database_url,
        "PEER_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_SETTINGS_MODULE": "drfpeer.settings",
        "PYTHONPATH": str(PEERS_DIR / "drf_peer"),
    }
    fastapi_dir = PEERS_DIR / "fastapi_peer"
    fastapi_port = free_port()
    servers = {
        "drf": Gunicorn(
            "drf",
            free_port(),
            env,
            workdir / "drf.log",
            python=python,
            app="drfpeer.wsgi",
            cwd=PEERS_DIR / "drf_peer",
            probe="/me",
            ready_status=401,
        ),
        "fastapi": Server(
            "fastapi",
            [
                python,
                *("-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(fastapi_port)),
                *("--workers", "2", "--loop", "uvloop", "--http", "httptools"),
                *("--no-access-log", "--log-level", "warning"),
            ],
            port=fastapi_port,
            env={**env, "PYTHONPATH": str(fastapi_dir)},
            log_path=workdir / "fastapi.log",
            cwd=fastapi_dir,
            probe="/me",
            ready_status=401,
        ),
        "bare": Gunicorn(
            "bare",
            free_port(),
            {**env, "PYTHONPATH": str(PEERS_DIR)},
            workdir / "bare.log",
            python=python,
            app="bare_django:application",
            cwd=PEERS_DIR,
        ),
    }
    return servers, env


# --- Load and memory -----------------------------------------------------------------


def rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else 0


def workers_of(master: int) -> list[int]:
    """The worker processes of a server: the children of its main process, less the
    resource tracker that multiprocessing starts beside uvicorn's workers."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return []
    workers = []
    for pid in children:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"multiprocessing.resource_tracker" not in command:
            workers.append(int(pid))
    return workers


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


def settle(server: Server) -> None:
    """Wait until the workers are idle: a sync worker keeps serving the connections wrk
    left in its backlog (logins take a while) after wrk itself has stopped."""
    quick = 0
    deadline = time.monotonic() + 60
    while quick < 3 and time.monotonic() < deadline:
        reply = request("GET", server.base + server.probe, timeout=30)
        quick = quick + 1 if reply.seconds < 0.02 else 0
        time.sleep(0.1)


def check_targets(targets: list[Target]) -> None:
    """Every GET row answers 200 with what it should contain, before anything is timed."""
    for target in targets:
        if target.lua is not None:
            continue
        reply = request("GET", target.server.base + target.path, headers=target.headers)
        if reply.status != 200 or target.expect.encode() not in reply.body:
            raise RuntimeError(f"{target.name} answered {reply.status}: {reply.body[:300]!r}")


# --- The run -------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--peers",
        action="store_true",
        help="also measure the reference apps of scripts/peers/ (PostgreSQL only)",
    )
    parser.add_argument(
        "--servers",
        default="gunicorn",
        help="the servers that serve the project, comma-separated: gunicorn, granian",
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per endpoint")
    parser.add_argument("--rounds", type=int, help="3, or 5 with --peers")
    parser.add_argument(
        "--connections", help="wrk connections, comma-separated: 8, or 8,32 with --peers"
    )
    parser.add_argument("--out", default=str(ROOT / "bench-results.json"))
    parser.add_argument(
        "--database-name",
        default="bench",
        help="PostgreSQL only: created afresh (the peers' too, with _peers), dropped at the end",
    )
    parser.add_argument("--seed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.servers = [name.strip() for name in args.servers.split(",") if name.strip()]
    unknown = sorted(set(args.servers) - set(SERVERS)) or (not args.servers and ["(none)"])
    if unknown:
        parser.error(f"unknown servers: {', '.join(unknown)} (known: {', '.join(SERVERS)})")
    if args.rounds is None:
        args.rounds = 5 if args.peers else 3
    args.connections = [
        int(value) for value in (args.connections or ("8,32" if args.peers else "8")).split(",")
    ]
    if args.rounds < 1 or args.duration < 1 or min(args.connections) < 1:
        parser.error("--rounds, --duration and --connections must be positive")
    return args


def main() -> int:
    args = parse_args()
    if args.seed:
        print(json.dumps(seed()))
        return 0
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk (Debian/Ubuntu), brew install wrk")
        return 2
    postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    if args.peers and not postgres:
        print("--peers measures on PostgreSQL: set DATABASE_URL=postgres://USER@HOST:PORT/NAME")
        return 2
    peers_venv = ""
    if args.peers:
        try:
            peers_venv = peers_python()
        except (RuntimeError, subprocess.SubprocessError) as exc:
            print(f"could not build the peers' virtualenv: {exc}")
            return 2

    workdir = Path(tempfile.mkdtemp(prefix="authapi-bench-"))
    settings = {"RATE_LIMIT_ATTEMPTS": "1000000000", "UPLOAD_DIR": str(workdir / "media")}
    cleanup = Cleanup()
    if postgres:
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

    targets: list[Target] = []
    results: dict[int, dict[str, list[dict[str, Any]]]] = {}
    memory: dict[str, dict[str, int]] = {}
    servers: dict[str, Server] = {}
    described: dict[str, str] = {}
    try:
        print(f"seeding {USERS} users and {TOKENS} tokens ({backend}, {cache})...", flush=True)
        started = time.monotonic()
        seeded = run_python(env, __file__, "--seed", timeout=1800)
        credentials = json.loads(seeded.strip().splitlines()[-1])
        login_lua = workdir / "login.lua"
        login_lua.write_text(LUA_LOGIN % BENCH_PASSWORD)
        for name in args.servers:
            # As production serves it: deploy/serve.sh, from the project's virtualenv.
            servers[name] = AppServer(
                f"bench-{name}", free_port(), env, workdir / f"{name}.log", server=name
            )
        project = {
            name: project_rows(
                servers[name], server_prefix(name), credentials, login_lua, peers=args.peers
            )
            for name in args.servers
        }
        peers: dict[str, Target] = {}
        if args.peers:
            peers_name = f"{args.database_name}_peers"
            peers_url, drop_peers = fresh_database(os.environ["DATABASE_URL"], peers_name)
            cleanup.push(f"drop database {peers_name}", drop_peers)
            peer, peer_env = peer_servers(peers_venv, peers_url, workdir)
            seeded = run_python(
                peer_env,
                "seed.py",
                str(USERS),
                python=peers_venv,
                cwd=PEERS_DIR / "drf_peer",
                timeout=600,
            )
            tokens = json.loads(seeded.strip().splitlines()[-1])
            servers.update(peer)
            peers = {
                "bare": Target(BARE_HEALTH, peer["bare"], "/health", expect='"ok"', kind="health"),
                "fastapi": Target(
                    FASTAPI_ME,
                    peer["fastapi"],
                    "/me",
                    bearer(tokens["fastapi_jwt"]),
                    expect='"bench"',
                ),
                "drf": Target(
                    DRF_ME, peer["drf"], "/me", bearer(tokens["drf_jwt"]), expect='"bench"'
                ),
            }
        print(f"seeded in {time.monotonic() - started:.0f} s", flush=True)
        targets = interleave(project, peers)

        for server in servers.values():
            cleanup.push(f"stop {server.kind} {server.name}", server.stop)
            server.start(timeout=60)
        check_targets(targets)
        warm = max(args.connections)
        for target in targets:  # warm every worker and code path
            if target.lua is None:
                wrk(
                    target.server.base + target.path,
                    duration=1,
                    connections=warm,
                    headers=target.headers,
                    lua=None,
                )
        for name, server in servers.items():
            settle(server)
            workers = workers_of(server.pid)
            memory[name] = {"at_rest": max((rss_kib(pid) for pid in workers), default=0)}
            described[name] = _describe(name, len(workers))
        results = {c: {target.name: [] for target in targets} for c in args.connections}
        seconds = len(targets) * len(args.connections) * args.rounds * args.duration
        print(
            f"{len(targets)} endpoints x {len(args.connections)} connection counts x "
            f"{args.rounds} rounds x {args.duration} s: {seconds / 60:.1f} min of load",
            flush=True,
        )
        for round_number in range(1, args.rounds + 1):
            print(f"round {round_number}/{args.rounds}", flush=True)
            for connections in args.connections:
                for target in targets:
                    with RssSampler(target.server.pid) as sampler:
                        result = wrk(
                            target.server.base + target.path,
                            duration=args.duration,
                            connections=connections,
                            headers=target.headers,
                            lua=target.lua,
                        )
                    figures = memory[_server_name(servers, target.server)]
                    load = "login_load" if target.kind == "login" else "read_load"
                    figures[load] = max(figures.get(load, 0), sampler.peak)
                    if target.lua:
                        settle(target.server)
                    results[connections][target.name].append(result)
    finally:
        cleanup_failures = cleanup.run()
        for failure in cleanup_failures:
            print(f"cleanup failed: {failure}", flush=True)

    report = _report(targets, results, memory, servers, described, args, backend, cache)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    _print_report(report)
    print(f"\nJSON: {args.out}")
    failed = sorted(
        name
        for rows in results.values()
        for name, runs in rows.items()
        if any(run["non_2xx"] for run in runs)
    )
    if failed:
        print(f"non-2xx responses from: {', '.join(failed)}")
    if failed or cleanup_failures:
        print(f"server logs kept in {workdir}")
        return 1
    # The app logs every request: the logs of a long run take hundreds of megabytes.
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def interleave(project: dict[str, list[Target]], peers: dict[str, Target]) -> list[Target]:
    """The order of one round: each peer right after the project's row it is compared
    with, so that the two sides of a ratio run seconds apart."""
    order: list[Target] = []
    for rows in project.values():
        for target in rows:
            order.append(target)
            if target.name == "/health" and "bare" in peers:
                order.append(peers.pop("bare"))
            elif target.name == "GET /users/me (JWT)":
                order += [peers.pop(name) for name in ("fastapi", "drf") if name in peers]
    return order + list(peers.values())


def _server_name(servers: dict[str, Server], server: Server) -> str:
    return next(name for name, candidate in servers.items() if candidate is server)


def _describe(name: str, workers: int) -> str:
    what = {
        "gunicorn": "the project, gunicorn.conf.py",
        "granian": "the project, granian --interface wsgi --blocking-threads "
        + os.environ.get("GRANIAN_BLOCKING_THREADS", "1"),
        "drf": "stock DRF + simplejwt, gunicorn.conf.py",
        "fastapi": "FastAPI + asyncpg + PyJWT, uvicorn (uvloop, httptools)",
        "bare": "bare Django JsonResponse, gunicorn.conf.py",
    }[name]
    return f"{what}; {workers} workers"


def _report(
    targets: list[Target],
    results: dict[int, dict[str, list[dict[str, Any]]]],
    memory: dict[str, dict[str, int]],
    servers: dict[str, Server],
    described: dict[str, str],
    args: argparse.Namespace,
    backend: str,
    cache: str,
) -> dict[str, Any]:
    health = {target.server.name: target.name for target in targets if target.kind == "health"}
    definitions = ratio_definitions(targets, args.servers)
    by_connections: dict[str, Any] = {}
    for connections, rows in results.items():
        endpoints = {}
        for target in targets:
            runs = rows[target.name]
            if not runs:
                continue
            floor = rows.get(health.get(target.server.name, ""), [])
            ratios = [run["rps"] / base["rps"] for run, base in zip(runs, floor, strict=False)]
            endpoints[target.name] = {
                "server": _server_name(servers, target.server),
                "path": target.path,
                "rps": statistics.median(run["rps"] for run in runs),
                "p50_ms": statistics.median(run["p50_ms"] for run in runs),
                "p99_ms": statistics.median(run["p99_ms"] for run in runs),
                "ratio_to_health": statistics.median(ratios) if ratios else None,
                "non_2xx": sum(run["non_2xx"] for run in runs),
                "rounds": runs,
            }
        ratios_out = {}
        for label, numerator, denominator, goal in definitions:
            if numerator not in endpoints or denominator not in endpoints:
                continue
            per_round = [
                a["rps"] / b["rps"] for a, b in zip(rows[numerator], rows[denominator], strict=True)
            ]
            ratios_out[label] = {
                "numerator": numerator,
                "denominator": denominator,
                "per_round": [round(value, 3) for value in per_round],
                "median": round(statistics.median(per_round), 3),
                "goal": goal,
            }
        by_connections[str(connections)] = {"endpoints": endpoints, "ratios": ratios_out}
    return {
        "backend": backend,
        "cache": cache,
        "users": USERS,
        "tokens": TOKENS,
        "rounds": args.rounds,
        "duration_s": args.duration,
        "connections": args.connections,
        "cpus": os.cpu_count(),
        "gunicorn": _gunicorn_settings(),
        "servers": described,
        "results": by_connections,
        "peak_rss_per_worker_mib": {
            name: {key: round(kib / 1024, 1) for key, kib in figures.items()}
            for name, figures in memory.items()
        },
    }


def _gunicorn_settings() -> dict[str, Any]:
    namespace = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    return {key: namespace.get(key) for key in ("workers", "worker_class", "threads")}


def _print_report(report: dict[str, Any]) -> None:
    rounds = report["rounds"]
    print(
        f"\n{report['backend']} + {report['cache']}, {report['cpus']} CPUs, "
        f"{rounds} interleaved rounds x {report['duration_s']} s per endpoint, "
        "wrk (1 thread, keep-alive)"
    )
    for name, what in report["servers"].items():
        print(f"  {name:9} {what}")
    heads = "".join(f"{f'r{n}':>7}" for n in range(1, rounds + 1))
    for connections, section in report["results"].items():
        print(f"\n{connections} connections")
        print(
            f"{'endpoint':38} {'server':9} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
            f"{'x health':>8}  req/s per round:{heads}"
        )
        for name, row in section["endpoints"].items():
            ratio = row["ratio_to_health"]
            per_round = "".join(f"{run['rps']:7.0f}" for run in row["rounds"])
            print(
                f"{name:38} {row['server']:9} {row['rps']:7.0f} {row['p50_ms']:7.2f} "
                f"{row['p99_ms']:7.2f} {'-' if ratio is None else f'{ratio:.2f}':>8}"
                f"  {'':16}{per_round}"
            )
        if section["ratios"]:
            print(f"\n{'ratio (per round, then median)':42}{heads} {'median':>7}  goal")
            for label, ratio in section["ratios"].items():
                per_round = "".join(f"{value:7.2f}" for value in ratio["per_round"])
                goal = ratio["goal"]
                verdict = (
                    ""
                    if goal is None
                    else f">= {goal:.2f} {'met' if ratio['median'] >= goal else 'NOT met'}"
                )
                print(f"{label:42}{per_round} {ratio['median']:7.2f}  {verdict}")
    print(f"\n{'peak RSS per worker (MiB)':28} {'at rest':>8} {'read load':>10} {'login load':>11}")
    for name, figures in report["peak_rss_per_worker_mib"].items():
        cells = [figures.get(key) for key in ("at_rest", "read_load", "login_load")]
        text = [
            f"{'-' if cell is None else cell:>{width}}"
            for cell, width in zip(cells, (8, 10, 11), strict=True)
        ]
        print(f"{name:28} {' '.join(text)}")


if __name__ == "__main__":
    sys.exit(main())
