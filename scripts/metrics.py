#!/usr/bin/env python
"""
`/metrics` under gunicorn with two worker processes counts as one instance (API.md,
"Security log and metrics").

It starts gunicorn with production settings, GUNICORN_WORKERS=2, PROMETHEUS_MULTIPROC_DIR
(a temporary folder) and a random METRICS_TOKEN, on a fresh PostgreSQL database
(`metricscheck`, on the server of DATABASE_URL) and Redis (REDIS_URL, under a cache key
prefix of this run), and proves over HTTP:

- `/metrics` needs the token: none is 401, a wrong one 401, the right one 200 in the
  Prometheus text format;
- N failed logins, each on a connection of its own (sync workers close every connection,
  so the master spreads them over both workers), and a lockout: every scrape, whichever
  worker answers it, shows `auth_events_total{realm="user",event="login_failed"}` equal to
  the failures and `login_locked` equal to 1; both workers wrote samples (the folder holds
  files of two processes);
- `http_requests_total` has the login's URL pattern as `route`, with the right count of
  401s and 423s, and no route label is a raw path;
- a worker killed and replaced loses nothing (its counters stay in the sums);
- a restarted server starts from zero (gunicorn.conf.py empties the folder at start).

Run from the project folder (PostgreSQL and Redis must be up; finishes in ~30 s):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python scripts/metrics.py

It prints one PASS/FAIL line per check and `N passed, M failed`, and exits non-zero if
anything failed. The server is stopped, the database dropped and the run's cache keys
deleted whatever happens; the temporary folder (server log) is kept only on failure.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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
    redis_url,
    request,
    run_checks,
    seed_users,
    use_project_python,
)

LOGIN = "/api/v1/auth/login"
FAILURES = 24  # logins for an unknown account, from 8 addresses (3 each, under the limit)
SCRAPES = 8
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def login(server: Gunicorn, ip: str, username: str, password: str) -> Reply:
    return request(
        "POST",
        server.base + LOGIN,
        json_body={"username": username, "password": password},
        headers={"X-Forwarded-For": ip},
    )


def scrape(server: Gunicorn, token: str) -> Samples:
    from prometheus_client.parser import text_string_to_metric_families

    reply = request("GET", server.base + "/metrics", headers=bearer(token))
    if reply.status != 200:
        raise RuntimeError(f"/metrics answered {reply.describe()}")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(reply.body.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def events(samples: Samples, event: str) -> float:
    return value(samples, "auth_events_total", realm="user", event=event)


def workers_of(server: Gunicorn) -> list[int]:
    """The process ids of the master's workers (its children)."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    return sorted(int(pid) for pid in children)


def sample_pids(folder: Path) -> set[str]:
    """The processes that wrote samples (`counter_<pid>.db`, `histogram_<pid>.db`)."""
    return {path.stem.rsplit("_", 1)[-1] for path in folder.glob("*.db")}


def wait_for_workers(server: Gunicorn, count: int, other_than: set[int]) -> list[int]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pids = workers_of(server)
        if len(pids) == count and not set(pids) & other_than and server.healthy():
            return pids
        time.sleep(0.2)
    raise RuntimeError("the killed worker was not replaced in 20 s")


def check_token(checks: Checks, server: Gunicorn, token: str) -> None:
    none = request("GET", server.base + "/metrics")
    wrong = request("GET", server.base + "/metrics", headers=bearer(token + "x"))
    right = request("GET", server.base + "/metrics", headers=bearer(token))
    checks.check(
        "token: /metrics without a token is 401 NOT_AUTHENTICATED",
        none.status == 401 and none.code == "NOT_AUTHENTICATED",
        none.describe(),
    )
    checks.check(
        "token: /metrics with a wrong token is 401 TOKEN_INVALID",
        wrong.status == 401 and wrong.code == "TOKEN_INVALID",
        wrong.describe(),
    )
    checks.check(
        "token: /metrics with METRICS_TOKEN is 200, Prometheus text format",
        right.status == 200
        and right.headers.get("content-type", "").startswith("text/plain")
        and b"# TYPE" in right.body,
        f"{right.status} {right.headers.get('content-type')}",
    )


def check_counts(checks: Checks, server: Gunicorn, token: str, folder: Path) -> None:
    ips = [f"203.0.113.{n}" for n in range(10, 18)]
    # Eight at a time: each costs a password hash, so while one worker hashes the other
    # takes the next connection, and both workers' samples are in the sums.
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(
            pool.map(
                lambda n: login(server, ips[n % len(ips)], "nobody", WRONG_PASSWORD),
                range(FAILURES),
            )
        )
    checks.check(
        f"logins: {FAILURES} logins for an unknown account are each 401",
        all(reply.status == 401 for reply in replies),
        " ".join(str(reply.status) for reply in replies),
    )
    lock = [login(server, "198.51.100.7", "locky", WRONG_PASSWORD) for _ in range(5)]
    checks.check(
        "logins: 4 wrong passwords are 401, the 5th locks (423)",
        [reply.status for reply in lock] == [401, 401, 401, 401, 423],
        " ".join(str(reply.status) for reply in lock),
    )
    expected_failed = FAILURES + 4
    scrapes = [scrape(server, token) for _ in range(SCRAPES)]
    failed = [events(samples, "login_failed") for samples in scrapes]
    locked = [events(samples, "login_locked") for samples in scrapes]
    checks.check(
        f"events: every one of {SCRAPES} scrapes shows login_failed = {expected_failed} "
        "and login_locked = 1",
        all(count == expected_failed for count in failed) and all(count == 1 for count in locked),
        f"login_failed {failed}, login_locked {locked}",
    )
    pids = sample_pids(folder)
    workers = {str(pid) for pid in workers_of(server)}
    checks.check(
        "workers: both worker processes wrote samples",
        workers <= pids,
        f"workers {sorted(workers)}, sample files of {sorted(pids)}",
    )
    last = scrapes[-1]
    route = "/api/v1/auth/login"
    unauthorized = value(last, "http_requests_total", method="POST", route=route, status="401")
    locked_out = value(last, "http_requests_total", method="POST", route=route, status="423")
    checks.check(
        f"routes: http_requests_total{{route={route!r}}} counts {expected_failed} 401s and one 423",
        (unauthorized, locked_out) == (expected_failed, 1),
        f"401: {unauthorized}, 423: {locked_out}",
    )
    routes = {dict(labels)["route"] for _, labels in last if "route" in dict(labels)}
    checks.check(
        "routes: every route label is a pattern or `unmatched`",
        all(route == "unmatched" or route.startswith("/") for route in routes)
        and "/metrics" in routes
        and not any(char.isdigit() for route in routes for char in route.replace("v1", "")),
        ", ".join(sorted(routes)),
    )


def check_worker_replaced(checks: Checks, server: Gunicorn, token: str) -> None:
    before = events(scrape(server, token), "login_failed")
    victims = workers_of(server)
    os.kill(victims[0], signal.SIGKILL)
    wait_for_workers(server, 2, {victims[0]})
    after = [events(scrape(server, token), "login_failed") for _ in range(4)]
    checks.check(
        "workers: after a worker is killed and replaced, login_failed is unchanged",
        all(count == before for count in after),
        f"before {before}, after {after}",
    )
    login(server, "203.0.113.99", "nobody", WRONG_PASSWORD)
    moved = [events(scrape(server, token), "login_failed") for _ in range(4)]
    checks.check(
        "workers: one more failure after the replacement counts once",
        all(count == before + 1 for count in moved),
        f"{moved}",
    )


def run(checks: Checks, cleanup: Cleanup, workdir: Path) -> None:
    cache_url = redis_url()
    database_url, drop = fresh_database(database_server_url(), "metricscheck")
    cleanup.push("drop database metricscheck", drop)
    prefix = f"metrics-{secrets.token_hex(6)}"
    cleanup.push(f"delete cache keys {prefix}:*", lambda: delete_cache_keys(cache_url, prefix))
    folder = workdir / "prometheus"
    token = secrets.token_urlsafe(32)
    env = app_env(
        DATABASE_URL=database_url,
        REDIS_URL=cache_url,
        CACHE_KEY_PREFIX=prefix,
        TRUSTED_PROXIES="127.0.0.1",
        GUNICORN_WORKERS="2",
        PROMETHEUS_MULTIPROC_DIR=str(folder),
        METRICS_TOKEN=token,
    )
    seed_users(env, ["locky"])
    # A leftover of an earlier run in the folder: the start must remove it.
    folder.mkdir(exist_ok=True)  # the seeding process may have made it
    (folder / "counter_999999.db").write_bytes(b"stale")
    server = Gunicorn("metrics", free_port(), env, workdir / "gunicorn.log")
    cleanup.push("stop gunicorn", server.stop)
    server.start()
    print(f"gunicorn {server.base}, workers {workers_of(server)}, samples in {folder}", flush=True)
    checks.check(
        "start: the samples folder was emptied (no leftover of an earlier run)",
        not (folder / "counter_999999.db").exists(),
    )
    check_token(checks, server, token)
    check_counts(checks, server, token, folder)
    check_worker_replaced(checks, server, token)

    server.stop()
    server.start()
    fresh = scrape(server, token)
    checks.check(
        "restart: a restarted server counts from zero",
        events(fresh, "login_failed") == 0,
        f"login_failed {events(fresh, 'login_failed')}",
    )
    ok = login(server, "198.51.100.8", "locky", PASSWORD)
    checks.check("restart: the locked account is still locked (423)", ok.status == 423)


if __name__ == "__main__":
    use_project_python()
    sys.exit(run_checks("metrics-", run))
