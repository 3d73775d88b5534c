"""
The toolbox of the scripts that run the app from outside the process, under gunicorn with
production settings, over loopback: `bench.py` (throughput under wrk), `fuzz.py`
(schemathesis), `two_instances.py` (two instances on one PostgreSQL and Redis) and
`faults.py` (Redis and PostgreSQL taken away). There is one way to start, wait for and
stop a server, and one set of production settings, so a script only says what it changes.

- `DEFAULT_DATABASE_URL` / `DEFAULT_REDIS_URL`, and `database_server_url()` /
  `redis_url()`: the PostgreSQL server and Redis a run uses, from `DATABASE_URL` /
  `REDIS_URL` or those defaults.
- `fresh_database` creates a named database on that server (and gives its dropper);
  `delete_cache_keys` removes what a run wrote to Redis under its key prefix; `free_port`
  finds a loopback port for a server.
- `app_env` is the environment of a production-mode app process: `DEBUG` off, a random
  `SECRET_KEY` and every setting the scripts rely on given explicitly.
- `run_python` runs a Python child in the project folder with a timeout; `seed_users`
  uses it to migrate and create accounts (password `PASSWORD`) with Django set up
  (`python scripts/_live.py seed NAME...`), `bench.py` and `fuzz.py` for their own seeds.
- `Server` starts any HTTP server command in its own process group, waits until a probe
  path answers and stops it (SIGTERM, then SIGKILL); `Gunicorn` is one with the
  project's `gunicorn.conf.py` (the app, or the bench's peers), ready when `/health`
  answers; `RedisServer` does the same for a private redis-server (PING). All wait with
  `wait_ready` and stop with `stop_process_group`.
- `Checks` prints one `PASS`/`FAIL` line per expectation and the summary line; `Cleanup`
  collects what was started or created, and its `run()` belongs in a `finally`;
  `run_checks` is the frame of a PASS/FAIL script (`two_instances.py`, `faults.py`): a
  temporary folder, the cleanup whatever happens, the summary and the exit status.
- `request`, `bearer` and `multipart` speak HTTP with urllib; `Reply` reads the JSON
  envelope; `small_png` and `png_size` make and read the avatars.
- `use_project_python` re-runs a script under `.venv/bin/python` when started by another
  interpreter.

Every wait polls against a deadline; every HTTP request and child process has a timeout.
The scripts run as `python scripts/NAME.py`, so this folder is on `sys.path` and
`from _live import ...` needs no PYTHONPATH.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# The password of every seeded account: throwaway accounts in a throwaway database.
PASSWORD = "live check passphrase 2026"  # noqa: S105
WRONG_PASSWORD = "not the passphrase 2026"  # noqa: S105
HTTP_TIMEOUT = 15.0


def database_server_url() -> str:
    """The PostgreSQL server a run creates its database on: `DATABASE_URL`, or the default."""
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def redis_url() -> str:
    """The Redis a run uses (under a key prefix of its own): `REDIS_URL`, or the default."""
    return os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL


def use_project_python() -> None:
    """Re-run this script with the project's virtualenv (`.venv/bin/python`) when the
    interpreter that started it (e.g. `./scripts/x.py` through `env python`) lacks the
    project's dependencies."""
    venv_python = ROOT / ".venv" / "bin" / "python"
    if importlib.util.find_spec("django") is None and venv_python.is_file():
        os.execv(venv_python, [str(venv_python), *sys.argv])  # noqa: S606


# --- Reporting -----------------------------------------------------------------------


class Checks:
    """One line per check, `PASS name (detail)` or `FAIL name (detail)`, and a summary."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        suffix = f" ({detail})" if detail else ""
        print(f"{'PASS' if ok else 'FAIL'} {name}{suffix}", flush=True)
        return ok

    def summary(self) -> int:
        """Print `N passed, M failed`; the exit status (0 only when nothing failed)."""
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 0 if self.failed == 0 else 1


class Cleanup:
    """Undo actions, run in reverse order by `run()` (call it in a `finally`)."""

    def __init__(self) -> None:
        self._actions: list[tuple[str, Callable[[], object]]] = []

    def push(self, what: str, action: Callable[[], object]) -> None:
        self._actions.append((what, action))

    def run(self) -> list[str]:
        """Run every action, even after one fails; return the failures' descriptions."""
        failures = []
        while self._actions:
            what, action = self._actions.pop()
            try:
                action()
            except Exception as exc:
                failures.append(f"{what}: {type(exc).__name__}: {exc}")
        return failures


def run_checks(prefix: str, body: Callable[[Checks, Cleanup, Path], None]) -> int:
    """Run `body(checks, cleanup, workdir)` with a temporary folder named `prefix...`: an
    exception is a failed check, the cleanup runs whatever happens (a failure is a failed
    check), and the folder (server logs) is kept only on failure. Prints the wall time and
    the summary; the exit status."""
    checks = Checks()
    cleanup = Cleanup()
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        body(checks, cleanup, workdir)
    except Exception as exc:
        checks.check("the run completed", False, f"{type(exc).__name__}: {exc}")
    finally:
        for failure in cleanup.run():
            checks.check("cleanup", False, failure)
        if checks.failed:
            print(f"server logs kept in {workdir}", flush=True)
        else:
            remove_tree(workdir)
    print(f"wall time {time.monotonic() - started:.1f} s", flush=True)
    return checks.summary()


# --- Resources -----------------------------------------------------------------------


def free_port() -> int:
    """A loopback port nobody listens on at the moment."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fresh_database(server_url: str, name: str) -> tuple[str, Callable[[], None]]:
    """Create database `name` afresh on the server of `server_url`; its URL and a dropper."""
    import psycopg

    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"not a plain database name: {name!r}")
    parts = urlsplit(server_url)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(parts._replace(path=f"/{name}")), drop


def delete_cache_keys(redis_url: str, prefix: str) -> int:
    """Delete the keys Django's cache wrote under `prefix` (at most 10,000); how many."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        keys = []
        for key in client.scan_iter(match=f"{prefix}:*", count=500):
            keys.append(key)
            if len(keys) >= 10_000:
                break
        return int(client.delete(*keys)) if keys else 0
    finally:
        client.close()


def app_env(**settings: str) -> dict[str, str]:
    """The environment of a production-mode app process: DEBUG off and every setting the
    checks rely on given explicitly (a local `.env` only fills in what is unset)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONPATH": str(ROOT),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_SIGNING_KEY": "",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "TRUSTED_PROXIES": "",
        "RATE_LIMIT_ATTEMPTS": "5",
        "RATE_LIMIT_WINDOW_MINUTES": "15",
        "MAX_LOGIN_ATTEMPTS": "5",
        "LOCKOUT_DURATION_MINUTES": "30",
        "MAX_UPLOAD_MB": "10",
    }
    env.update(settings)
    return env


def run_python(
    env: dict[str, str],
    *args: str,
    timeout: float,
    python: str = sys.executable,
    cwd: Path = ROOT,
) -> str:
    """Run `python ARGS...` in the project folder (or `cwd`) with `env`; its standard
    output. A failure raises `RuntimeError` with the end of its standard error."""
    result = subprocess.run(
        [python, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        command = " ".join(["python", *args])
        raise RuntimeError(f"{command} exited {result.returncode}: {result.stderr.strip()[-2000:]}")
    return result.stdout


def seed_users(env: dict[str, str], usernames: list[str]) -> None:
    """Migrate the database of `env` and create `usernames` (password `PASSWORD`), in a
    child process with Django set up."""
    run_python(env, __file__, "seed", *usernames, timeout=120)


def _seed(usernames: list[str]) -> None:
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command

    from accounts.models import User

    call_command("migrate", verbosity=0)
    for username in usernames:
        User.objects.create_user(username=username, email=f"{username}@example.com", name=username)
    # One Argon2 hash, shared by every seeded account.
    User.objects.filter(username__in=usernames).update(password=make_password(PASSWORD))


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# --- Processes -----------------------------------------------------------------------


def wait_ready(
    process: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    *,
    what: str,
    probe: str,
    timeout: float,
    interval: float,
    log_path: Path,
) -> None:
    """Poll `ready()` until it is true; raise `RuntimeError` if `process` exits first or
    `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited; see {log_path}")
        if ready():
            return
        time.sleep(interval)
    raise RuntimeError(f"{what} did not answer {probe} in {timeout:.0f} s")


def stop_process_group(process: subprocess.Popen[bytes] | None, grace: float) -> None:
    """SIGTERM to the process group of `process`, SIGKILL if it has not exited in `grace` s."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


class Server:
    """One HTTP server of any command, on a loopback port, in its own process group: ready
    when `probe` answers `ready_status`, stopped by SIGTERM (SIGKILL after 15 s)."""

    kind = "server"

    def __init__(
        self,
        name: str,
        command: list[str],
        *,
        port: int,
        env: dict[str, str],
        log_path: Path,
        cwd: Path = ROOT,
        probe: str = "/health",
        ready_status: int = 200,
    ) -> None:
        self.name, self.command, self.port, self.env = name, command, port, env
        self.log_path, self.cwd, self.probe, self.ready_status = log_path, cwd, probe, ready_status
        self.base = f"http://127.0.0.1:{port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        """The main process's id (its workers are its children)."""
        if self._process is None:
            raise RuntimeError(f"{self.kind} {self.name} is not running")
        return self._process.pid

    def start(self, timeout: float = 30.0) -> None:
        """Start it and wait until `probe` answers `ready_status`."""
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self.command,
            env=self.env,
            cwd=self.cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_ready(
            self._process,
            self.healthy,
            what=f"{self.kind} {self.name}",
            probe=self.probe,
            timeout=timeout,
            interval=0.1,
            log_path=self.log_path,
        )

    def healthy(self) -> bool:
        """Whether `probe` answers `ready_status` within 2 s."""
        try:
            return request("GET", self.base + self.probe, timeout=2).status == self.ready_status
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM to its process group (a graceful shutdown), SIGKILL after 15 s."""
        process, self._process = self._process, None
        stop_process_group(process, grace=15)
        if self._log is not None:
            self._log.close()
            self._log = None


class Gunicorn(Server):
    """One gunicorn instance with the project's `gunicorn.conf.py`: the app by default, or
    another WSGI `app` run by another virtualenv's `python` from `cwd` (the bench's peers)."""

    kind = "gunicorn"

    def __init__(
        self,
        name: str,
        port: int,
        env: dict[str, str],
        log_path: Path,
        *,
        python: str = sys.executable,
        app: str = "config.wsgi",
        cwd: Path = ROOT,
        probe: str = "/health",
        ready_status: int = 200,
    ) -> None:
        super().__init__(
            name,
            [python, "-m", "gunicorn", app, "--config", str(ROOT / "gunicorn.conf.py")],
            port=port,
            env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
            log_path=log_path,
            cwd=cwd,
            probe=probe,
            ready_status=ready_status,
        )


class AppServer(Server):
    """The app as production serves it: `deploy/serve.sh` with `SERVER` (gunicorn or
    granian), on a loopback port."""

    def __init__(
        self, name: str, port: int, env: dict[str, str], log_path: Path, *, server: str
    ) -> None:
        self.kind = server
        bin_dir = str(Path(sys.executable).parent)
        super().__init__(
            name,
            ["sh", str(ROOT / "deploy" / "serve.sh")],
            port=port,
            env={
                **env,
                "SERVER": server,
                "GUNICORN_BIND": f"127.0.0.1:{port}",
                # The servers' commands come from the project's virtualenv.
                "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', os.environ.get('PATH', ''))}",
            },
            log_path=log_path,
        )


class RedisServer:
    """A private redis-server on a loopback port: no persistence, stopped by SIGTERM."""

    def __init__(self, port: int, log_path: Path) -> None:
        self.port, self.log_path = port, log_path
        self.url = f"redis://127.0.0.1:{port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start it and wait until it answers PING."""
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_ready(
            self._process,
            self.answers,
            what="redis-server",
            probe="PING",
            timeout=timeout,
            interval=0.05,
            log_path=self.log_path,
        )

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM, and wait for the process to exit (SIGKILL after 10 s)."""
        process, self._process = self._process, None
        stop_process_group(process, grace=10)


# --- HTTP ----------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    seconds: float
    _json: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        try:
            self._json = json.loads(self.body)
        except ValueError:
            self._json = None

    @property
    def data(self) -> Any:
        """The parsed JSON body, or None."""
        return self._json

    @property
    def is_envelope(self) -> bool:
        body = self._json
        return (
            isinstance(body, dict)
            and isinstance(body.get("success"), bool)
            and ("data" in body if body["success"] else isinstance(body.get("error"), dict))
        )

    @property
    def code(self) -> str | None:
        """`error.code` of an error envelope."""
        if not self.is_envelope or self._json["success"]:
            return None
        return str(self._json["error"].get("code"))

    @property
    def details(self) -> dict[str, Any]:
        if not self.is_envelope or self._json["success"]:
            return {}
        details = self._json["error"].get("details")
        return details if isinstance(details, dict) else {}

    @property
    def payload(self) -> Any:
        """`data` of a success envelope."""
        if not self.is_envelope or not self._json["success"]:
            return None
        return self._json["data"]

    @property
    def has_traceback(self) -> bool:
        return b"Traceback" in self.body

    def describe(self) -> str:
        parts = [str(self.status)]
        if self.code:
            parts.append(self.code)
        if self.details:
            parts.append(f"details={sorted(self.details)}")
        if not self.is_envelope:
            parts.append(f"not an envelope: {self.body[:120]!r}")
        parts.append(f"{self.seconds:.2f} s")
        return " ".join(parts)


def request(
    method: str,
    url: str,
    *,
    json_body: Any = None,
    body: bytes | None = None,
    content_type: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = HTTP_TIMEOUT,
) -> Reply:
    """One HTTP request; an error status is a `Reply` too (a refused connection raises)."""
    sent = dict(headers or {})
    if json_body is not None:
        body = json.dumps(json_body).encode()
        content_type = "application/json"
    if content_type is not None:
        sent["Content-Type"] = content_type
    req = urllib.request.Request(url, data=body, headers=sent, method=method)  # noqa: S310
    started = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310
            status, raw_headers, content = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, raw_headers, content = error.code, error.headers, error.read()
    elapsed = time.monotonic() - started
    names = {name.lower(): value for name, value in raw_headers.items()}
    return Reply(status=status, headers=names, body=content, seconds=elapsed)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def multipart(field_name: str, filename: str, file_type: str, content: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body with one file; the body and its Content-Type."""
    boundary = f"----live{secrets.token_hex(12)}"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field_name}"; filename="{filename}"\r\n'
        f"Content-Type: {file_type}\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), (
        f"multipart/form-data; boundary={boundary}"
    )


def small_png(width: int = 48, height: int = 32) -> bytes:
    """A small PNG with a gradient, built with Pillow."""
    from PIL import Image

    image = Image.new("RGB", (width, height))
    image.putdata([(x * 5 % 256, y * 7 % 256, 128) for y in range(height) for x in range(width)])
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def png_size(content: bytes) -> tuple[int, int] | None:
    """The size of a PNG, or None if Pillow does not decode it as one."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(content)) as image:
            image.load()
            return image.size if image.format == "PNG" else None
    except Exception:
        return None


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "seed":
        _seed(sys.argv[2:])
    else:
        sys.exit("usage: python scripts/_live.py seed USERNAME... (run by the live scripts)")
