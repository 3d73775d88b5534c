#!/usr/bin/env python
"""
Clients generated from the live OpenAPI document work: a Python client made by
openapi-python-client imports and talks to the API, and TypeScript types made by
openapi-typescript type-check a script that uses them.

It creates a throwaway PostgreSQL database (`clients`) on the server of `DATABASE_URL`
(default `postgres://postgres@127.0.0.1:5432/test`; dropped before and after), uses the
Redis of `REDIS_URL` (default `redis://127.0.0.1:6379/0`) under a cache key prefix of its
own, migrates, and starts gunicorn with production settings (`_live.app_env`) on a free
loopback port. Then, in a temporary folder:

- it fetches `/api/schema?format=json` from the server;
- it makes a virtualenv and installs `OPENAPI_PYTHON_CLIENT` there (from PyPI; never into
  the project's virtualenv, whose pins its dependencies would fight), generates the
  client, and runs `clients/drive.py` with that virtualenv's interpreter: every generated
  module imports, and register -> login -> me -> create a personal access token -> logout
  work through it against the server (`drive.py` says each step);
- it runs `npm ci` in `scripts/clients/` (openapi-typescript and typescript, pinned by its
  `package-lock.json`), generates `api.d.ts` and type-checks `clients/check.ts` beside it
  with `tsc --noEmit --strict`.

One PASS/FAIL line per check, the summary, and a non-zero exit status on any failure;
gunicorn is stopped and the database dropped whatever happens.

    .venv/bin/python scripts/clients.py
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import venv
from pathlib import Path

from _live import (
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
    use_project_python,
)

DATABASE_NAME = "clients"
OPENAPI_PYTHON_CLIENT = "openapi-python-client==0.29.1"
CLIENTS = ROOT / "scripts" / "clients"
# The generated package's name; `drive.py` imports it.
GENERATOR_CONFIG = "package_name_override: account_client\npost_hooks: []\n"


def run(command: list[str], *, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a child to completion; its result (standard error folded into the output)."""
    return subprocess.run(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def tail(output: str, lines: int = 15) -> str:
    return " | ".join(output.strip().splitlines()[-lines:])


def python_client(checks: Checks, workdir: Path, schema: Path, base_url: str) -> None:
    """Generate the Python client in a virtualenv of its own and drive it."""
    env_dir = workdir / "generator-venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    installed = run(
        [str(python), "-m", "pip", "install", "--quiet", OPENAPI_PYTHON_CLIENT],
        cwd=workdir,
        timeout=300,
    )
    if not checks.check(
        f"python client: {OPENAPI_PYTHON_CLIENT} installed in a throwaway virtualenv",
        installed.returncode == 0,
        tail(installed.stdout, 5) if installed.returncode else "",
    ):
        return
    config = workdir / "generator.yaml"
    config.write_text(GENERATOR_CONFIG)
    package = workdir / "account_client"
    generated = run(
        [
            str(env_dir / "bin" / "openapi-python-client"),
            "generate",
            "--path",
            str(schema),
            "--config",
            str(config),
            "--meta",
            "none",
            "--output-path",
            str(package),
        ],
        cwd=workdir,
        timeout=120,
    )
    checks.check(
        "python client: generated without warnings",
        generated.returncode == 0 and "Warning" not in generated.stdout,
        "" if generated.returncode == 0 else tail(generated.stdout),
    )
    if generated.returncode != 0:
        return
    driven = run(
        [str(python), str(CLIENTS / "drive.py"), str(package), base_url], cwd=workdir, timeout=120
    )
    reported = 0
    for line in driven.stdout.splitlines():
        try:
            result = json.loads(line)
        except ValueError:
            continue
        if isinstance(result, dict) and {"name", "ok", "detail"} <= result.keys():
            reported += 1
            checks.check(str(result["name"]), bool(result["ok"]), str(result["detail"]))
    checks.check(
        "python client: drive.py ran to the end",
        driven.returncode == 0 and reported >= 9,
        f"exit {driven.returncode}, {reported} checks"
        + (f": {tail(driven.stdout)}" if driven.returncode else ""),
    )


def typescript_types(checks: Checks, workdir: Path, schema: Path) -> None:
    """Generate TypeScript types with openapi-typescript and type-check `check.ts`."""
    npm = shutil.which("npm")
    if not checks.check("typescript: npm is installed", npm is not None):
        return
    installed = run([str(npm), "ci", "--no-audit", "--no-fund"], cwd=CLIENTS, timeout=300)
    if not checks.check(
        "typescript: npm ci (openapi-typescript, typescript)",
        installed.returncode == 0,
        tail(installed.stdout, 5),
    ):
        return
    bin_dir = CLIENTS / "node_modules" / ".bin"
    folder = workdir / "typescript"
    folder.mkdir()
    shutil.copy(CLIENTS / "check.ts", folder / "check.ts")
    generated = run(
        [str(bin_dir / "openapi-typescript"), str(schema), "--output", str(folder / "api.d.ts")],
        cwd=folder,
        timeout=120,
    )
    if not checks.check(
        "typescript: openapi-typescript generated api.d.ts",
        generated.returncode == 0 and (folder / "api.d.ts").is_file(),
        tail(generated.stdout, 3),
    ):
        return
    typed = run(
        [
            str(bin_dir / "tsc"),
            "--noEmit",
            "--strict",
            "--target",
            "es2022",
            "--lib",
            "es2022,dom",
            "--module",
            "esnext",
            "--moduleResolution",
            "bundler",
            "check.ts",
        ],
        cwd=folder,
        timeout=120,
    )
    checks.check(
        "typescript: check.ts type-checks against the generated types (tsc --noEmit)",
        typed.returncode == 0,
        tail(typed.stdout),
    )


def body(checks: Checks, cleanup: Cleanup, workdir: Path) -> None:
    cache_url = redis_url()
    database_url, drop = fresh_database(database_server_url(), DATABASE_NAME)
    cleanup.push(f"drop database {DATABASE_NAME}", drop)
    prefix = f"clients-{secrets.token_hex(6)}"
    cleanup.push(f"delete cache keys {prefix}:*", lambda: delete_cache_keys(cache_url, prefix))
    upload_dir = workdir / "uploads"
    upload_dir.mkdir()
    env = app_env(
        DATABASE_URL=database_url,
        REDIS_URL=cache_url,
        CACHE_KEY_PREFIX=prefix,
        UPLOAD_DIR=str(upload_dir),
        GUNICORN_WORKERS="1",
    )
    run_python(env, "manage.py", "migrate", "--noinput", timeout=120)
    server = Gunicorn("app", free_port(), env, workdir / "gunicorn.log")
    cleanup.push("stop gunicorn", server.stop)
    server.start()
    print(f"server {server.base}, database {DATABASE_NAME}, cache prefix {prefix}", flush=True)

    reply = request("GET", f"{server.base}/api/schema?format=json")
    document = reply.data
    if not checks.check(
        "the live server serves its OpenAPI document as JSON",
        reply.status == 200 and isinstance(document, dict) and "paths" in document,
        f"{reply.status}, {len(reply.body)} bytes",
    ):
        return
    schema = workdir / "openapi.json"
    schema.write_bytes(reply.body)
    python_client(checks, workdir, schema, server.base)
    typescript_types(checks, workdir, schema)


if __name__ == "__main__":
    use_project_python()
    os.chdir(ROOT)
    sys.exit(run_checks("clients-", body))
