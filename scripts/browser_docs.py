#!/usr/bin/env python
"""
The docs pages work in a real browser with no network beyond loopback (README, "API
documentation"): Swagger UI and ReDoc come from the app's own static files, load nothing
from another origin, break no rule of their Content-Security-Policy, and Swagger UI's
"Authorize" and "Try it out" work.

It collects the static files into a temporary STATIC_ROOT (as `make serve` and the image
do), creates a fresh PostgreSQL database `browserdocs` (on the server of DATABASE_URL),
seeds one user and starts one gunicorn instance with production settings (DEBUG off,
WhiteNoise serving /static/) on a free loopback port, with Redis (REDIS_URL, under a
cache key prefix of this run). It logs the user in through the API for an access token,
then runs `scripts/browser/docs_check.mjs` (Node, playwright-core; `npm ci` there first
if `node_modules` is missing, which downloads no browser) to drive headless Chromium
(`/usr/bin/chromium`, or CHROMIUM) in a new empty profile, with every request to another
host aborted and counted:

- `/api/docs`: Authorize, paste the token as the Bearer value, authorize, close; expand
  `GET /api/v1/users/me`, "Try it out", "Execute": the response Swagger UI shows is 200
  and the success envelope of the seeded user; nothing about the token is left in the
  origin's localStorage;
- `/api/redoc`: the document renders (the API's title, its operations in the menu);
- on both: no request to another host, no CSP violation, no uncaught script error.

A screenshot of Swagger UI showing the response is saved to `artifacts/browser-docs.png`
(git-ignored; `--screenshot PATH` for another place) and its path printed.

Run from the project folder (PostgreSQL and Redis up, Node and Chromium installed;
finishes in ~20 s):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python scripts/browser_docs.py     # or ./scripts/browser_docs.py

It prints one PASS/FAIL line per check and `N passed, M failed`, and exits non-zero if
anything failed. The server is stopped, the database dropped and the run's cache keys
deleted whatever happens; the temporary folder (server log, static files) is kept only on
failure.
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

from _live import (
    PASSWORD,
    ROOT,
    Checks,
    Cleanup,
    Gunicorn,
    app_env,
    database_server_url,
    delete_cache_keys,
    free_port,
    fresh_database,
    redis_url,
    request,
    run_checks,
    run_python,
    seed_users,
    use_project_python,
)

BROWSER_DIR = ROOT / "scripts" / "browser"
DEFAULT_SCREENSHOT = ROOT / "artifacts" / "browser-docs.png"
LOGIN = "/api/v1/auth/login"
USERNAME = "docsreader"
# One client address for the login (TEST-NET-3, never routed): the instance trusts
# 127.0.0.1 as a proxy, so this run's login is counted apart from anything else.
CLIENT_IP = "203.0.113.40"
# ReDoc's bundle always draws its "API docs by Redocly" logo from this URL (no option turns
# it off). The page's img-src refuses it before any request is made, and ReDoc drops the
# image when it fails to load: the one violation the ReDoc page is expected to report.
REDOC_ATTRIBUTION_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def npm_ci() -> None:
    """Install the pinned playwright-core (package-lock.json) if it is not there yet."""
    if (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        return
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"],
        cwd=BROWSER_DIR,
        check=True,
        timeout=300,
    )


def drive_browser(base: str, token: str, screenshot: Path) -> dict[str, Any]:
    """Run docs_check.mjs; its findings (the JSON object it prints last; `error` when a
    step could not be done)."""
    result = subprocess.run(
        ["node", "docs_check.mjs", base, token, str(screenshot)],
        cwd=BROWSER_DIR,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(
            f"docs_check.mjs exited {result.returncode} with no output: {result.stderr[-2000:]}"
        )
    findings: dict[str, Any] = json.loads(lines[-1])
    if result.returncode != 0 and "error" not in findings:
        findings["error"] = f"exited {result.returncode}: {result.stderr[-2000:]}"
    return findings


def check_findings(checks: Checks, findings: dict[str, Any]) -> None:
    checks.check(
        "the browser did every step",
        "error" not in findings,
        str(findings.get("error", "")).splitlines()[0] if "error" in findings else "",
    )
    external = findings["external"]
    checks.check(
        "no request left loopback (each would have been aborted)",
        not external,
        f"{len(external)} external: {external[:5]}" if external else "0 external requests",
    )
    swagger_violations = findings["swagger"]["cspViolations"]
    checks.check(
        "no Content-Security-Policy violation on /api/docs",
        not swagger_violations,
        "; ".join(swagger_violations[:5]),
    )
    redoc_violations = findings["redoc"]["cspViolations"]
    refused_logo = [v for v in redoc_violations if REDOC_ATTRIBUTION_LOGO in v]
    others = [v for v in redoc_violations if REDOC_ATTRIBUTION_LOGO not in v]
    checks.check(
        "no Content-Security-Policy violation on /api/redoc but its attribution logo, refused",
        not others,
        "; ".join(others[:5])
        or f"the logo refused by img-src ({len(refused_logo)} reports), nothing else",
    )
    errors = findings["pageErrors"]
    checks.check("no uncaught script error", not errors, "; ".join(errors[:3]))

    swagger = findings["swagger"]
    checks.check(
        "/api/docs is 200 with a Content-Security-Policy",
        swagger.get("status") == 200 and bool(swagger.get("csp")),
        f"{swagger.get('status')}, {swagger.get('csp')}",
    )
    shown = swagger.get("responseBody") or ""
    try:
        body = json.loads(shown)
    except ValueError:
        body = None
    data = body.get("data") if isinstance(body, dict) else None
    checks.check(
        'Swagger UI "Try it out" on GET /api/v1/users/me shows 200 and the user\'s envelope',
        swagger.get("responseStatus") == "200"
        and isinstance(body, dict)
        and body.get("success") is True
        and isinstance(data, dict)
        and data.get("username") == USERNAME,
        f"status {swagger.get('responseStatus')}, body {shown[:160]!r}",
    )
    checks.check(
        "the token is not kept in the origin's localStorage (persistAuthorization off)",
        swagger.get("tokenInLocalStorage") is False,
        f"localStorage keys {swagger.get('localStorageKeys')}",
    )

    redoc = findings["redoc"]
    checks.check(
        "/api/redoc is 200 with a Content-Security-Policy and renders the document",
        redoc.get("status") == 200
        and bool(redoc.get("csp"))
        and bool(redoc.get("title"))
        and redoc.get("operations", 0) > 0,
        f"{redoc.get('status')}, title {redoc.get('title')!r}, "
        f"{redoc.get('operations')} menu items",
    )


def run(checks: Checks, cleanup: Cleanup, workdir: Path, screenshot: Path) -> None:
    cache_url = redis_url()
    database_url, drop = fresh_database(database_server_url(), "browserdocs")
    cleanup.push("drop database browserdocs", drop)
    prefix = f"browser-docs-{secrets.token_hex(6)}"
    cleanup.push(f"delete cache keys {prefix}:*", lambda: delete_cache_keys(cache_url, prefix))
    env = app_env(
        DATABASE_URL=database_url,
        REDIS_URL=cache_url,
        CACHE_KEY_PREFIX=prefix,
        STATIC_ROOT=str(workdir / "static"),
        UPLOAD_DIR=str(workdir / "uploads"),
        TRUSTED_PROXIES="127.0.0.1",
    )
    run_python(env, "manage.py", "collectstatic", "--noinput", "--verbosity", "0", timeout=300)
    seed_users(env, [USERNAME])
    server = Gunicorn("docs", free_port(), env, workdir / "gunicorn.log")
    cleanup.push("stop gunicorn", server.stop)
    server.start()
    print(f"server {server.base}, database browserdocs, cache prefix {prefix}", flush=True)

    reply = request(
        "POST",
        server.base + LOGIN,
        json_body={"username": USERNAME, "password": PASSWORD},
        headers={"X-Forwarded-For": CLIENT_IP},
    )
    token = (reply.payload or {}).get("access_token")
    if not checks.check(
        "login through the API gives an access token",
        reply.status == 200 and isinstance(token, str),
        reply.describe(),
    ):
        return
    assert isinstance(token, str)  # noqa: S101 - narrowing for mypy, checked just above

    npm_ci()
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    screenshot.unlink(missing_ok=True)
    findings = drive_browser(server.base, token, screenshot)
    check_findings(checks, findings)
    checks.check(
        "a screenshot of Swagger UI's response was saved",
        screenshot.is_file() and screenshot.read_bytes().startswith(b"\x89PNG"),
        str(screenshot),
    )
    print(f"screenshot {screenshot}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--screenshot", type=Path, default=DEFAULT_SCREENSHOT)
    args = parser.parse_args()
    screenshot = args.screenshot.resolve()
    return run_checks(
        "browser-docs-", lambda checks, cleanup, workdir: run(checks, cleanup, workdir, screenshot)
    )


if __name__ == "__main__":
    use_project_python()
    sys.exit(main())
