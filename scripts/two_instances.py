#!/usr/bin/env python
"""
Two app instances behave as one (ARCHITECTURE.md, "Scaling out"; API.md, login throttling).

It starts two gunicorn instances, A and B, with production settings (DEBUG off, one shared
random SECRET_KEY, PUBLIC_URL of A) on two free loopback ports, sharing one fresh
PostgreSQL database (`instances`, on the server of DATABASE_URL), one Redis (REDIS_URL,
under a cache key prefix of this run) and one UPLOAD_DIR (a temporary folder). It
migrates once and seeds the accounts in a child process, then proves over HTTP:

- login attempts spread over A and B are rate-limited as one: with RATE_LIMIT_ATTEMPTS=5,
  attempts alternating A, B, ... get exactly five answers (401) and the sixth, on either
  instance, is 429 RATE_LIMITED with Retry-After;
- lockout counts across both: five wrong passwords alternating A/B lock the account (the
  fifth is 423 ACCOUNT_LOCKED), and then the right password is 423 on either instance;
- a token issued by A works on B, and logout on A is 401 TOKEN_INVALID on B at once;
- an avatar uploaded through A is served by B, same bytes, Content-Type image/png.

Each check gets its own client IP: the instances trust 127.0.0.1 as a proxy
(TRUSTED_PROXIES) and each check sends its own X-Forwarded-For address.

Run from the project folder (PostgreSQL and Redis must be up; finishes in ~15 s):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python scripts/two_instances.py     # or ./scripts/two_instances.py

It prints one PASS/FAIL line per check and `N passed, M failed`, and exits non-zero if
anything failed. Both instances are stopped, the database dropped and the run's cache keys
deleted whatever happens; the temporary folder (server logs) is kept only on failure.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

from _live import (
    PASSWORD,
    WRONG_PASSWORD,
    Checks,
    Cleanup,
    Gunicorn,
    Reply,
    app_env,
    bearer,
    database_server_url,
    delete_cache_keys,
    free_port,
    fresh_database,
    multipart,
    png_size,
    redis_url,
    request,
    run_checks,
    seed_users,
    small_png,
    use_project_python,
)

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/users/me"
# One client address per check (TEST-NET-3, never routed), sent as X-Forwarded-For.
IP_RATE_LIMIT = "203.0.113.10"
IP_LOCKOUT = "203.0.113.20"
IP_LOCKED_RETRY = "203.0.113.21"
IP_SESSION = "203.0.113.30"


def login(server: Gunicorn, ip: str, username: str, password: str) -> Reply:
    return request(
        "POST",
        server.base + LOGIN,
        json_body={"username": username, "password": password},
        headers={"X-Forwarded-For": ip},
    )


def check_rate_limit(checks: Checks, a: Gunicorn, b: Gunicorn) -> None:
    """Five attempts alternating A/B are answered; the sixth and seventh are 429.

    Wrong passwords alternate between two accounts, so that neither reaches the lockout
    threshold and every answered attempt is a plain 401."""
    servers = [a, b, a, b, a]
    accounts = ["rl1", "rl2", "rl1", "rl2", "rl1"]
    replies = [
        login(server, IP_RATE_LIMIT, username, WRONG_PASSWORD)
        for server, username in zip(servers, accounts, strict=True)
    ]
    answered = [f"{s.name}:{r.status}" for s, r in zip(servers, replies, strict=True)]
    checks.check(
        "rate limit: attempts 1-5 alternating A,B,A,B,A are each answered 401 INVALID_CREDENTIALS",
        all(r.status == 401 and r.code == "INVALID_CREDENTIALS" for r in replies),
        " ".join(answered),
    )
    for n, server in ((6, b), (7, a)):
        reply = login(server, IP_RATE_LIMIT, "rl2", WRONG_PASSWORD)
        retry_after = reply.headers.get("retry-after", "")
        checks.check(
            f"rate limit: attempt {n} (on {server.name}) is 429 RATE_LIMITED with Retry-After",
            reply.status == 429
            and reply.code == "RATE_LIMITED"
            and retry_after.isdigit()
            and 0 < int(retry_after) <= 15 * 60
            and reply.details.get("retry_after") == int(retry_after),
            f"{reply.describe()}, Retry-After={retry_after or 'missing'}",
        )


def check_lockout(checks: Checks, a: Gunicorn, b: Gunicorn) -> None:
    """Five wrong passwords alternating A/B lock the account; then the right one is 423."""
    servers = [a, b, a, b, a]
    replies = [login(server, IP_LOCKOUT, "locky", WRONG_PASSWORD) for server in servers]
    answered = " ".join(f"{s.name}:{r.status}" for s, r in zip(servers, replies, strict=True))
    checks.check(
        "lockout: wrong passwords 1-4 alternating A,B,A,B are 401 INVALID_CREDENTIALS",
        all(r.status == 401 and r.code == "INVALID_CREDENTIALS" for r in replies[:4]),
        answered,
    )
    fifth = replies[4]
    retry_after = fifth.details.get("retry_after")
    checks.check(
        "lockout: the 5th wrong password (on A) is 423 ACCOUNT_LOCKED, locked for 30 minutes",
        fifth.status == 423
        and fifth.code == "ACCOUNT_LOCKED"
        and isinstance(fifth.details.get("locked_until"), str)
        and isinstance(retry_after, int)
        and 1790 <= retry_after <= 1800,
        f"{fifth.describe()}, retry_after={retry_after}",
    )
    for server in (b, a):
        reply = login(server, IP_LOCKED_RETRY, "locky", PASSWORD)
        checks.check(
            f"lockout: the right password on {server.name} is 423 ACCOUNT_LOCKED",
            reply.status == 423 and reply.code == "ACCOUNT_LOCKED",
            reply.describe(),
        )


def check_session_and_avatar(
    checks: Checks, a: Gunicorn, b: Gunicorn, upload_dir: Path, public_url: str
) -> None:
    """A's token on B; an avatar uploaded through A served by B; logout on A seen by B."""
    reply = login(a, IP_SESSION, "ada", PASSWORD)
    token = (reply.payload or {}).get("access_token")
    if not checks.check(
        "session: login on A is 200 with an access token",
        reply.status == 200 and isinstance(token, str),
        reply.describe(),
    ):
        return
    assert isinstance(token, str)  # noqa: S101 - narrowing for mypy, checked just above
    me = request("GET", b.base + ME, headers=bearer(token))
    checks.check(
        "session: A's access token works on B (GET /users/me is 200, the same user)",
        me.status == 200 and (me.payload or {}).get("username") == "ada",
        me.describe(),
    )

    png = small_png()
    body, content_type = multipart("avatar", "face.png", "image/png", png)
    put = request(
        "PUT", a.base + ME + "/avatar", body=body, content_type=content_type, headers=bearer(token)
    )
    avatar_url = (put.payload or {}).get("avatar_url")
    if checks.check(
        "avatar: PUT /users/me/avatar on A is 200 with an avatar_url under A's PUBLIC_URL",
        put.status == 200
        and isinstance(avatar_url, str)
        and avatar_url.startswith(public_url + "/uploads/"),
        f"{put.describe()}, avatar_url={avatar_url}",
    ):
        assert isinstance(avatar_url, str)  # noqa: S101 - narrowing for mypy
        path = urlsplit(avatar_url).path
        from_a = request("GET", a.base + path)
        from_b = request("GET", b.base + path)
        stored = upload_dir / Path(path).name
        on_disk = stored.read_bytes() if stored.is_file() else b""
        checks.check(
            "avatar: B serves it: 200, Content-Type image/png, a PNG of the uploaded size",
            from_b.status == 200
            and from_b.headers.get("content-type") == "image/png"
            and png_size(from_b.body) == png_size(png),
            f"{from_b.status} {from_b.headers.get('content-type')} "
            f"{len(from_b.body)} bytes, size {png_size(from_b.body)}",
        )
        checks.check(
            "avatar: B's bytes are A's bytes and the stored file's (shared UPLOAD_DIR)",
            from_b.body == from_a.body == on_disk and len(on_disk) > 0,
            f"A {len(from_a.body)} bytes, B {len(from_b.body)} bytes, file {len(on_disk)} bytes",
        )

    logout = request("POST", a.base + "/api/v1/auth/logout", headers=bearer(token))
    checks.check("session: logout on A is 200", logout.status == 200, logout.describe())
    after = request("GET", b.base + ME, headers=bearer(token))
    checks.check(
        "session: right after logout on A, the token is 401 TOKEN_INVALID on B",
        after.status == 401
        and after.code == "TOKEN_INVALID"
        and after.headers.get("www-authenticate") == "Bearer",
        after.describe(),
    )


def run(checks: Checks, cleanup: Cleanup, workdir: Path) -> None:
    """Start A and B on one database, Redis and upload folder, then run the checks."""
    cache_url = redis_url()
    database_url, drop = fresh_database(database_server_url(), "instances")
    cleanup.push("drop database instances", drop)
    prefix = f"two-instances-{secrets.token_hex(6)}"
    cleanup.push(f"delete cache keys {prefix}:*", lambda: delete_cache_keys(cache_url, prefix))
    upload_dir = workdir / "uploads"
    upload_dir.mkdir()
    port_a, port_b = free_port(), free_port()
    public_url = f"http://127.0.0.1:{port_a}"
    env = app_env(
        DATABASE_URL=database_url,
        REDIS_URL=cache_url,
        CACHE_KEY_PREFIX=prefix,
        UPLOAD_DIR=str(upload_dir),
        PUBLIC_URL=public_url,
        TRUSTED_PROXIES="127.0.0.1",
    )
    seed_users(env, ["rl1", "rl2", "locky", "ada"])
    a = Gunicorn("A", port_a, env, workdir / "gunicorn-a.log")
    b = Gunicorn("B", port_b, env, workdir / "gunicorn-b.log")
    for server in (a, b):
        cleanup.push(f"stop gunicorn {server.name}", server.stop)
        server.start()
    print(
        f"instances A {a.base} and B {b.base}, database instances, "
        f"cache prefix {prefix}, uploads {upload_dir}",
        flush=True,
    )
    check_rate_limit(checks, a, b)
    check_lockout(checks, a, b)
    check_session_and_avatar(checks, a, b, upload_dir, public_url)


if __name__ == "__main__":
    use_project_python()
    sys.exit(run_checks("two-instances-", run))
