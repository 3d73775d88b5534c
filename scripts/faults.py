#!/usr/bin/env python
"""
Fault injection: the app fails closed and recovers by itself when Redis or PostgreSQL
goes away (API.md: 503 SERVICE_UNAVAILABLE, `/ready`, `/health`; README, Deployment).

It starts a private redis-server on a free loopback port (no persistence), a fresh
PostgreSQL database `faults` (on the server of DATABASE_URL), and one gunicorn instance
of the app with production settings using both. Then:

a. with Redis up, `/ready` is 200 and login works;
b. Redis stopped (SIGTERM): login and registration answer a 503 SERVICE_UNAVAILABLE
   envelope naming the cache, quickly (the cache client has 1 s timeouts); `/ready` is
   503 naming `cache`; `/health` is 200; `GET /users/me`, which needs no cache, still
   works; no body contains a traceback;
c. Redis started again on the same port: `/ready` and login recover by themselves
   within 15 s, without restarting the app;
d. a second instance whose DATABASE_URL points at a closed loopback port: `/ready` is
   503 naming `database`, `/health` is 200, and `GET /users/me` with a (valid) bearer
   token and a login answer a JSON envelope, never a traceback, and API.md's 503
   SERVICE_UNAVAILABLE (a 500 INTERNAL_ERROR there fails the check).

Run from the project folder (PostgreSQL up, `redis-server` on PATH; finishes in ~15 s):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python scripts/faults.py
    ./scripts/faults.py     # the same, with the defaults

It prints one PASS/FAIL line per check and `N passed, M failed`, and exits non-zero if
anything failed. Every process it started is stopped and the database dropped whatever
happens; the temporary folder (server logs) is kept only on failure.
"""

from __future__ import annotations

import secrets
import shutil
import sys
import time
from pathlib import Path

from _live import (
    PASSWORD,
    Checks,
    Cleanup,
    Gunicorn,
    RedisServer,
    Reply,
    app_env,
    bearer,
    database_server_url,
    free_port,
    fresh_database,
    request,
    run_checks,
    seed_users,
    use_project_python,
)

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/users/me"
# A cache that does not answer must cost at most about its 1 s timeouts, not hang.
FAIL_FAST_SECONDS = 3.0
RECOVERY_SECONDS = 15.0


def login(server: Gunicorn, username: str = "fay", password: str = PASSWORD) -> Reply:
    return request(
        "POST", server.base + LOGIN, json_body={"username": username, "password": password}
    )


def unavailable(reply: Reply, part: str) -> bool:
    """A 503 SERVICE_UNAVAILABLE error envelope whose details name `part`."""
    return (
        reply.status == 503
        and reply.headers.get("content-type", "").startswith("application/json")
        and reply.code == "SERVICE_UNAVAILABLE"
        and part in reply.details
    )


def phase_a(checks: Checks, app: Gunicorn) -> str | None:
    """Everything up: ready, and a login works. Return the access token."""
    ready = request("GET", app.base + "/ready")
    checks.check("a. Redis up: /ready is 200", ready.status == 200, ready.describe())
    reply = login(app)
    token = (reply.payload or {}).get("access_token")
    checks.check(
        "a. Redis up: login is 200 with an access token",
        reply.status == 200 and isinstance(token, str),
        reply.describe(),
    )
    return token if isinstance(token, str) else None


def phase_b(checks: Checks, app: Gunicorn, redis: RedisServer, token: str | None) -> None:
    """Redis stopped: fail closed (503) on what needs the cache, fast, no traceback."""
    redis.stop()
    checks.check("b. redis-server stopped", not redis.answers())
    # Several logins, so that each gunicorn worker meets the dead cache (and its pooled
    # connection to it) at least once in all likelihood.
    replies = [login(app) for _ in range(4)]
    checks.check(
        "b. Redis down: login is a 503 SERVICE_UNAVAILABLE envelope naming the cache",
        all(unavailable(reply, "cache") for reply in replies),
        "; ".join(reply.describe() for reply in replies),
    )
    slowest = max(reply.seconds for reply in replies)
    checks.check(
        f"b. Redis down: each refused login answers within {FAIL_FAST_SECONDS:.0f} s",
        slowest < FAIL_FAST_SECONDS,
        f"slowest {slowest:.2f} s",
    )
    register = request(
        "POST",
        app.base + "/api/v1/auth/register",
        json_body={
            "username": "newcomer",
            "name": "New Comer",
            "email": "newcomer@example.com",
            "password": PASSWORD,
        },
    )
    checks.check(
        "b. Redis down: register is a 503 SERVICE_UNAVAILABLE envelope naming the cache",
        unavailable(register, "cache"),
        register.describe(),
    )
    ready = request("GET", app.base + "/ready")
    checks.check(
        "b. Redis down: /ready is 503 SERVICE_UNAVAILABLE naming cache (not database)",
        unavailable(ready, "cache") and "database" not in ready.details,
        ready.describe(),
    )
    health = request("GET", app.base + "/health")
    checks.check("b. Redis down: /health is 200", health.status == 200, health.describe())
    bodies = [*replies, register, ready, health]
    if token is not None:
        me = request("GET", app.base + ME, headers=bearer(token))
        checks.check(
            "b. Redis down: GET /users/me (needs no cache) is still 200",
            me.status == 200,
            me.describe(),
        )
        bodies.append(me)
    checks.check(
        "b. Redis down: no response body contains a traceback",
        not any(reply.has_traceback for reply in bodies),
    )


def phase_c(checks: Checks, app: Gunicorn, redis: RedisServer) -> None:
    """Redis back on the same port: /ready and login recover without an app restart."""
    redis.start()
    started = time.monotonic()
    deadline = started + RECOVERY_SECONDS
    ready = request("GET", app.base + "/ready")
    while ready.status != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
        ready = request("GET", app.base + "/ready")
    checks.check(
        f"c. Redis back: /ready is 200 again within {RECOVERY_SECONDS:.0f} s",
        ready.status == 200,
        f"after {time.monotonic() - started:.2f} s: {ready.describe()}",
    )
    # A 503 costs no rate-limit attempt (nothing could be counted), so polling is free;
    # two successes, so that more than one connection has recovered in all likelihood.
    successes = 0
    reply = login(app)
    while time.monotonic() < deadline:
        if reply.status == 200:
            successes += 1
            if successes == 2:
                break
        elif reply.status != 503:
            break
        else:
            time.sleep(0.2)
        reply = login(app)
    checks.check(
        f"c. Redis back: login is 200 again within {RECOVERY_SECONDS:.0f} s (no app restart)",
        successes == 2,
        f"after {time.monotonic() - started:.2f} s: {reply.describe()}",
    )


def phase_d(checks: Checks, nodb: Gunicorn, token: str | None) -> None:
    """PostgreSQL unreachable: /ready says so, /health is up, requests answer 503."""
    ready = request("GET", nodb.base + "/ready")
    checks.check(
        "d. database unreachable: /ready is 503 SERVICE_UNAVAILABLE naming database",
        unavailable(ready, "database") and "cache" not in ready.details,
        ready.describe(),
    )
    health = request("GET", nodb.base + "/health")
    checks.check("d. database unreachable: /health is 200", health.status == 200, health.describe())
    replies = [ready, health]
    probes: list[tuple[str, Reply]] = []
    if token is not None:
        probes.append(("GET /users/me", request("GET", nodb.base + ME, headers=bearer(token))))
    probes.append(("POST /auth/login", login(nodb)))
    for what, reply in probes:
        replies.append(reply)
        checks.check(
            f"d. database unreachable: {what} answers a JSON error envelope",
            reply.is_envelope and reply.status >= 500,
            reply.describe(),
        )
        checks.check(
            f"d. database unreachable: {what} is 503 SERVICE_UNAVAILABLE (API.md)",
            reply.status == 503 and reply.code == "SERVICE_UNAVAILABLE",
            reply.describe(),
        )
    checks.check(
        "d. database unreachable: no response body contains a traceback",
        not any(reply.has_traceback for reply in replies),
    )


def run(checks: Checks, cleanup: Cleanup, workdir: Path) -> None:
    """Start redis-server, the database and the app, then phases a to d."""
    if shutil.which("redis-server") is None:
        raise RuntimeError("redis-server is not on PATH")
    redis = RedisServer(free_port(), workdir / "redis.log")
    cleanup.push("stop redis-server", redis.stop)
    redis.start()
    database_url, drop = fresh_database(database_server_url(), "faults")
    cleanup.push("drop database faults", drop)
    env = app_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis.url,
        CACHE_KEY_PREFIX=f"faults-{secrets.token_hex(6)}",
        UPLOAD_DIR=str(workdir / "uploads"),
    )
    seed_users(env, ["fay"])
    app = Gunicorn("app", free_port(), env, workdir / "gunicorn.log")
    cleanup.push("stop gunicorn app", app.stop)
    app.start()
    print(f"app {app.base}, redis-server on port {redis.port}, database faults", flush=True)

    token = phase_a(checks, app)
    phase_b(checks, app, redis, token)
    phase_c(checks, app, redis)

    closed = free_port()
    nodb_env = {**env, "DATABASE_URL": f"postgres://postgres@127.0.0.1:{closed}/faults"}
    nodb = Gunicorn("no-database", free_port(), nodb_env, workdir / "gunicorn-nodb.log")
    cleanup.push("stop gunicorn no-database", nodb.stop)
    nodb.start()
    print(f"instance without database {nodb.base} (port {closed} is closed)", flush=True)
    phase_d(checks, nodb, token)


if __name__ == "__main__":
    use_project_python()
    sys.exit(run_checks("faults-", run))
