#!/usr/bin/env python
"""
Slow clients cannot take the API down through its reverse proxy (API.md and README,
Deployment; ARCHITECTURE.md, "Scaling out").

It renders the repository's nginx configuration, `deploy/nginx/default.conf.template`
(the file docker-compose.yml mounts into the nginx image), substituting only its two
addresses (NGINX_LISTEN, NGINX_APP), and starts the `nginx` on PATH (Debian's package;
`.ci/run` installs it) with it, in the foreground, one worker process, its pid, temporary
files and logs in a temporary folder. In front of it: the app as `deploy/serve.sh` serves
it (`--server gunicorn`, the default, or `granian`; 2 workers of one request at a time)
with production settings on a free loopback port,
trusting only nginx's address as a proxy (TRUSTED_PROXIES=127.0.0.1, as docker-compose.yml
trusts only the nginx container's), on a fresh PostgreSQL database `slowclients` (on the
server of DATABASE_URL) and Redis (REDIS_URL, under a cache key prefix of this run). Then:

a. docker-compose.yml mounts this template into its nginx service, and the app there
   trusts exactly the nginx container's address;
b. through nginx: `/health` and `/ready` are 200; an unknown path is the app's 404
   envelope (nginx serves nothing itself); the Server header names no version; a body
   one byte over nginx's limit, which is the app's own cap (MAX_UPLOAD_MB x 1 MiB +
   256 KiB), is nginx's 413 PAYLOAD_TOO_LARGE envelope; a body under it that the app
   answers without reading (JSON over 1 MiB: 413; a 4 MiB upload with a bad token: 401)
   gets the app's answer 10 times out of 10, never nginx's 503; a malformed request is nginx's
   400 BAD_REQUEST envelope, and a third nginx from the same file, whose app is down (a
   closed port), answers a 503 SERVICE_UNAVAILABLE one;
c. a client connecting from 127.0.0.2 and sending its own X-Forwarded-For is logged by
   the app (config.request) with 127.0.0.2;
d. what nginx sends upstream, seen by a recording HTTP server of this script behind a
   second nginx started from the same file: X-Forwarded-For is the peer's address and
   X-Forwarded-Proto `http`, whatever the client sent; Host and a valid X-Request-ID are
   kept, an invalid one replaced by nginx's own; Forwarded, X-Forwarded-Host and
   X-Real-IP from the client never arrive; requests reuse one upstream connection; a
   chunked body sent slowly arrives whole, with a Content-Length, after its last byte;
   a body of exactly the app's cap passes;
e. 50 connections that each send a request line and headers one byte every 2 s, never
   finishing (reopened when nginx drops them, so 50 stay open): for 30 s, `/health`
   through nginx is asked every 0.5 s and must answer 200 within 1 s every time; nginx
   drops each slow connection after its client_header_timeout (10 s); the app server logs
   no worker timeout.

Run from the project folder (PostgreSQL and Redis up, nginx installed; ~35 s):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python scripts/slow_clients.py     # or ./scripts/slow_clients.py

It prints one PASS/FAIL line per check and `N passed, M failed`, and exits non-zero if
anything failed. Every connection and process it opened is closed, the database dropped
and the run's cache keys deleted whatever happens; the temporary folder (logs, rendered
configuration) is kept only on failure.
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import os
import re
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from _live import (
    ROOT,
    AppServer,
    Checks,
    Cleanup,
    Reply,
    Server,
    app_env,
    database_server_url,
    delete_cache_keys,
    free_port,
    fresh_database,
    redis_url,
    request,
    run_checks,
    use_project_python,
)

TEMPLATE = ROOT / "deploy" / "nginx" / "default.conf.template"
# The app server behind nginx (`--server`).
SERVER = "gunicorn"
COMPOSE_FILE = ROOT / "docker-compose.yml"
# The client address of the checks that look at it: another loopback address than the
# one nginx and gunicorn talk over, so the app can only have it from X-Forwarded-For.
CLIENT_IP = "127.0.0.2"
SPOOFED_IP = "203.0.113.66"  # TEST-NET-3, never routed
MAX_UPLOAD_MB = 10
APP_CAP_BYTES = MAX_UPLOAD_MB * 1024 * 1024 + 256 * 1024

SLOW_CONNECTIONS = 50
SLOW_BYTE_INTERVAL = 2.0
PROBE_SECONDS = 30.0
PROBE_INTERVAL = 0.5
PROBE_TIMEOUT = 1.0


# --- nginx ---------------------------------------------------------------------------


def find_nginx() -> str:
    """The nginx binary; Debian installs it in /usr/sbin, which a user's PATH may lack."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise RuntimeError(
            "nginx is not installed: `apt-get install nginx` (.ci/run installs it when missing)"
        )
    return found


def render_site(listen: str, app: str) -> str:
    """The shipped template with its two addresses filled in, as the image's envsubst
    does; anything else left to substitute means this script is out of date."""
    text = TEMPLATE.read_text()
    for name, value in (("NGINX_LISTEN", listen), ("NGINX_APP", app)):
        if "${" + name + "}" not in text:
            raise RuntimeError(f"{TEMPLATE.relative_to(ROOT)} no longer uses ${{{name}}}")
        text = text.replace("${" + name + "}", value)
    leftover = sorted(set(re.findall(r"\$\{?NGINX_\w+\}?", text)))
    if leftover:
        raise RuntimeError(f"{TEMPLATE.relative_to(ROOT)} has unknown variables: {leftover}")
    return text


def template_setting(directive: str, unit: str) -> int:
    """The number of a `directive 10s;` line of the template (in `unit`), so that the
    checks follow the shipped file."""
    found = re.findall(rf"^\s*{directive}\s+(\d+){unit};", TEMPLATE.read_text(), re.MULTILINE)
    if len(found) != 1:
        raise RuntimeError(f"{TEMPLATE.relative_to(ROOT)}: no single `{directive} N{unit};`")
    return int(found[0])


class Nginx:
    """One nginx, in the foreground in its own process group, serving the rendered
    template. The main configuration around it stands in for the image's nginx.conf and
    names only paths: the pid file and temporary folders inside `folder`."""

    def __init__(self, name: str, binary: str, port: int, upstream: str, folder: Path) -> None:
        self.name, self.binary, self.port, self.folder = name, binary, port, folder
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = folder / "nginx.log"
        folder.mkdir(parents=True)
        site = folder / "default.conf"
        site.write_text(render_site(f"127.0.0.1:{port}", upstream))
        temp = "\n".join(
            f"    {kind}_temp_path {folder / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        self.conf = folder / "nginx.conf"
        self.conf.write_text(
            "daemon off;\n"
            # One worker: its one event loop holds every slow connection and the probes.
            "worker_processes 1;\n"
            f"pid {folder / 'nginx.pid'};\n"
            "error_log stderr warn;\n"
            "events { worker_connections 512; }\n"
            f"http {{\n{temp}\n    include {site};\n}}\n"
        )
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def command(self, *extra: str) -> list[str]:
        # -e: the error log before the configuration is read, else the compiled-in path.
        return [self.binary, "-p", str(self.folder), "-c", str(self.conf), "-e", "stderr", *extra]

    def test(self) -> tuple[bool, str]:
        """`nginx -t` on the configuration: whether it passed, and what it said."""
        result = subprocess.run(
            self.command("-t"), capture_output=True, text=True, timeout=15, check=False
        )
        lines = (result.stderr or result.stdout).strip().splitlines() or [""]
        # On failure the reason is the [emerg] line; on success the last line says so.
        return result.returncode == 0, next((x for x in lines if "[emerg]" in x), lines[-1])

    def start(self, timeout: float = 10.0) -> None:
        """Start it and wait until its port accepts connections."""
        self._log = self.log_path.open("ab")
        # The access log goes to /dev/stdout (as in the image), i.e. into this log file.
        self._process = subprocess.Popen(
            self.command(), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"nginx {self.name} exited; see {self.log_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx {self.name} did not listen within {timeout:.0f} s")

    def stop(self) -> None:
        """SIGTERM (fast shutdown) to its process group, SIGKILL after 10 s."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None


# --- A recording upstream ------------------------------------------------------------


@dataclass
class Seen:
    """One request as it reached the upstream."""

    path: str
    headers: dict[str, str]  # lower-case names
    peer_port: int
    arrived: float  # time.monotonic() when its headers had been read
    body_length: int


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keeps the connection open for nginx's keepalive
    server: RecordingServer

    def _record(self) -> None:
        arrived = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.seen.append(
            Seen(self.path, headers, self.client_address[1], arrived, len(body))
        )
        answer = b'{"success": true, "message": "Recorded", "data": {}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = _record

    def log_message(self, format: str, *args: object) -> None:
        pass


class RecordingServer(http.server.ThreadingHTTPServer):
    """An HTTP/1.1 server on a loopback port that records each request and answers 200."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RecordingHandler)
        self.port = int(self.server_address[1])
        self.seen: list[Seen] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


# --- Slow clients --------------------------------------------------------------------


@dataclass
class _Slow:
    sock: socket.socket
    opened: float
    next_send: float
    sent: int = 0


@dataclass
class SlowHeaderClients:
    """`count` connections to 127.0.0.1:`port` that each send a request line and headers
    one byte every `interval` seconds and never finish them. A connection the server
    closes is counted (with how long it lived) and opened again, so `count` stay open
    until `stop()`, or until `max_seconds` have passed whatever happens."""

    port: int
    count: int
    interval: float
    max_seconds: float = 60.0
    opened: int = 0
    dropped_after: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _open: dict[int, _Slow] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # The headers never end: after these bytes, one more header value byte each time.
    PREFIX = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\nX-Slow: "

    @property
    def open_now(self) -> int:
        with self._lock:
            return len(self._open)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _byte(self, slow: _Slow) -> bytes:
        return self.PREFIX[slow.sent : slow.sent + 1] if slow.sent < len(self.PREFIX) else b"a"

    def _connect(self, selector: selectors.BaseSelector, now: float) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        # Spread the bytes of the connections over one interval.
        slow = _Slow(sock, now, now + self.interval * (self.opened % 10) / 10)
        sock.sendall(self._byte(slow))
        slow.sent = 1
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        with self._lock:
            self._open[sock.fileno()] = slow
        self.opened += 1

    def _drop(self, selector: selectors.BaseSelector, slow: _Slow, now: float) -> None:
        selector.unregister(slow.sock)
        with self._lock:
            del self._open[slow.sock.fileno()]
        slow.sock.close()
        self.dropped_after.append(now - slow.opened)

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        deadline = time.monotonic() + self.max_seconds
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                now = time.monotonic()
                # Open what is missing, a few at a time, so the drops are spread out too.
                for _ in range(min(10, self.count - len(self._open))):
                    self._connect(selector, now)
                for key, _ in selector.select(timeout=0.1):
                    slow = self._open[key.fileobj.fileno()]  # type: ignore[union-attr]
                    try:
                        data = slow.sock.recv(4096)
                    except OSError:
                        data = b""
                    if not data:  # closed or reset by the server
                        self._drop(selector, slow, time.monotonic())
                now = time.monotonic()
                for slow in list(self._open.values()):
                    if slow.next_send <= now:
                        try:
                            slow.sock.send(self._byte(slow))
                            slow.sent += 1
                            slow.next_send = now + self.interval
                        except OSError:
                            self._drop(selector, slow, now)
        except Exception as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            for slow in list(self._open.values()):
                selector.unregister(slow.sock)
                slow.sock.close()
            with self._lock:
                self._open.clear()
            selector.close()


# --- HTTP from a chosen client address ------------------------------------------------


def raw_request(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str],
    *,
    source: str = "127.0.0.1",
    body: bytes | None = None,
    timeout: float = 15.0,
) -> Reply:
    """One request to 127.0.0.1:`port` from the loopback address `source`, headers as
    given (urllib would add its own)."""
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout, source_address=(source, 0)
    )
    started = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        content = response.read()
        names = {name.lower(): value for name, value in response.getheaders()}
        return Reply(response.status, names, content, time.monotonic() - started)
    finally:
        conn.close()


def send_slow_chunked_body(port: int, pause: float) -> tuple[float, int, int]:
    """POST a chunked body in two parts `pause` seconds apart; when the last part began
    to be sent, the body's length and the status of the answer."""
    first, second = b"x" * 3000, b"y" * 2000
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /slow-body HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
            + f"{len(first):x}\r\n".encode()
            + first
            + b"\r\n"
        )
        time.sleep(pause)
        last_sent = time.monotonic()
        sock.sendall(f"{len(second):x}\r\n".encode() + second + b"\r\n0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return last_sent, len(first) + len(second), status


def exchange(port: int, head: bytes, body_length: int = 0) -> Reply:
    """Send `head` as it is, then `body_length` bytes of body, and read one answer
    without waiting for the server to close the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(head)
        block = b" " * 65536
        remaining = body_length
        try:
            while remaining:
                remaining -= sock.send(block[: min(remaining, len(block))])
        except OSError:
            pass  # refused before the end: the answer is waiting
        started = time.monotonic()
        response = http.client.HTTPResponse(sock)
        response.begin()
        content = response.read()
        names = {name.lower(): value for name, value in response.getheaders()}
        return Reply(response.status, names, content, time.monotonic() - started)


def post_head(length: int) -> bytes:
    """The request line and headers of a JSON POST declaring `length` bytes of body."""
    return (
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nConnection: close\r\n"
        + f"Content-Length: {length}\r\n\r\n".encode()
    )


def migrate(env: dict[str, str]) -> None:
    """Apply the migrations to the database of `env` (no account is needed here)."""
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"migrate failed: {result.stderr.strip()[-2000:]}")


# --- The checks ----------------------------------------------------------------------


def check_compose(checks: Checks) -> None:
    """docker-compose.yml puts this template in front of the app and trusts only nginx."""
    import yaml

    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    nginx = services.get("nginx", {})
    app = services.get("app", {})
    template = f"./{TEMPLATE.relative_to(ROOT)}"
    mounts = [str(volume).split(":")[0] for volume in nginx.get("volumes", [])]
    checks.check(
        f"a. docker-compose.yml mounts {template} into its nginx service",
        template in mounts and str(nginx.get("image", "")).startswith("nginx:"),
        f"image {nginx.get('image')}, volumes {mounts}",
    )
    address = (nginx.get("networks") or {}).get("default", {}).get("ipv4_address")
    trusted = str((app.get("environment") or {}).get("TRUSTED_PROXIES", ""))
    checks.check(
        "a. docker-compose.yml: the app trusts exactly nginx's address and is not published",
        address is not None and trusted == address and "ports" not in app,
        f"nginx {address}, TRUSTED_PROXIES={trusted!r}, app ports {app.get('ports')}",
    )


def check_front(checks: Checks, front: Nginx, down_app: Nginx) -> None:
    """Through nginx to the app: probes, a 404, the Server header, both body caps; and
    nginx's own errors (`down_app` proxies to a closed port)."""
    for path in ("/health", "/ready"):
        reply = request("GET", front.base + path, timeout=5)
        checks.check(f"b. GET {path} through nginx is 200", reply.status == 200, reply.describe())
    nope = request("GET", front.base + "/nope", timeout=5)
    checks.check(
        "b. an unknown path through nginx is the app's 404 NOT_FOUND envelope",
        nope.status == 404 and nope.code == "NOT_FOUND" and "x-frame-options" in nope.headers,
        nope.describe(),
    )
    server = nope.headers.get("server", "")
    checks.check("b. the Server header names no version", server == "nginx", f"Server: {server}")
    limit = template_setting("client_max_body_size", "k") * 1024
    checks.check(
        "b. nginx's client_max_body_size is the app's cap (MAX_UPLOAD_MB MiB + 256 KiB)",
        limit == APP_CAP_BYTES,
        f"{limit} and {APP_CAP_BYTES} bytes",
    )
    too_big = exchange(front.port, post_head(limit + 1))
    checks.check(
        "b. a body one byte over it is nginx's 413 PAYLOAD_TOO_LARGE envelope",
        nginx_envelope(too_big, 413, "PAYLOAD_TOO_LARGE"),
        too_big.describe(),
    )
    # Under nginx's limit but over what the endpoint reads: the app answers without reading
    # the body, and nginx, which sends it the whole body, must still get that answer.
    json_cap = 1024 * 1024
    refusals = [exchange(front.port, post_head(2 * json_cap), 2 * json_cap) for _ in range(10)]
    checks.check(
        "b. a JSON body over the app's JSON cap (1 MiB) is the app's 413 envelope, 10 of 10",
        all(reply.status == 413 and reply.code == "PAYLOAD_TOO_LARGE" for reply in refusals),
        "; ".join(reply.describe() for reply in refusals),
    )
    upload = (
        b"PUT /api/v1/users/me/avatar HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer not-a-token\r\nConnection: close\r\n"
        b"Content-Type: multipart/form-data; boundary=x\r\n"
        + f"Content-Length: {4 * json_cap}\r\n\r\n".encode()
    )
    refusals = [exchange(front.port, upload, 4 * json_cap) for _ in range(10)]
    checks.check(
        "b. a 4 MiB upload with a bad token is the app's 401 envelope, 10 of 10",
        all(reply.status == 401 and reply.code == "TOKEN_INVALID" for reply in refusals),
        "; ".join(reply.describe() for reply in refusals),
    )
    malformed = exchange(front.port, b"NOT AN HTTP REQUEST\r\n\r\n")
    checks.check(
        "b. a malformed request is nginx's 400 BAD_REQUEST envelope",
        nginx_envelope(malformed, 400, "BAD_REQUEST"),
        malformed.describe(),
    )
    down = request("GET", down_app.base + "/health", timeout=5)
    checks.check(
        "b. with the app down, nginx answers a 503 SERVICE_UNAVAILABLE envelope",
        nginx_envelope(down, 503, "SERVICE_UNAVAILABLE"),
        down.describe(),
    )


def nginx_envelope(reply: Reply, status: int, code: str) -> bool:
    """One of nginx's own error pages: the API's error envelope, as JSON, with an id."""
    return (
        reply.status == status
        and reply.code == code
        and reply.headers.get("content-type", "").startswith("application/json")
        and bool(reply.headers.get("x-request-id"))
    )


def check_client_ip(checks: Checks, front: Nginx, app: Server) -> None:
    """The app logs the address nginx saw, not the X-Forwarded-For the client sent."""
    request_id = f"client-ip-{secrets.token_hex(6)}"
    reply = raw_request(
        front.port,
        "GET",
        "/health",
        {"Host": "127.0.0.1", "X-Request-ID": request_id, "X-Forwarded-For": SPOOFED_IP},
        source=CLIENT_IP,
    )
    logged = None
    deadline = time.monotonic() + 3
    while logged is None and time.monotonic() < deadline:
        for line in app.log_path.read_text(errors="replace").splitlines():
            if request_id in line and line.startswith("{"):
                entry = json.loads(line)
                if entry.get("logger") == "config.request":
                    logged = entry
        if logged is None:
            time.sleep(0.1)
    checks.check(
        f"c. a client at {CLIENT_IP} sending X-Forwarded-For {SPOOFED_IP} is logged by the app "
        f"as {CLIENT_IP}",
        reply.status == 200 and logged is not None and logged.get("ip") == CLIENT_IP,
        f"{reply.status}, X-Request-ID {reply.headers.get('x-request-id')}, "
        f"logged ip {None if logged is None else logged.get('ip')}",
    )


def check_upstream_headers(checks: Checks, recorder: RecordingServer, front: Nginx) -> None:
    """What nginx sends upstream, as the recording server saw it."""
    spoofing = {
        "Host": "api.example.com",
        "X-Request-ID": "trace-42.a_b",
        "X-Forwarded-For": SPOOFED_IP,
        "X-Forwarded-Proto": "https",
        "Forwarded": f"for={SPOOFED_IP};proto=https",
        "X-Forwarded-Host": "evil.example",
        "X-Real-IP": SPOOFED_IP,
    }
    raw_request(front.port, "GET", "/one", spoofing, source=CLIENT_IP)
    raw_request(front.port, "GET", "/two", {"Host": "127.0.0.1", "X-Request-ID": "bad id!"})
    raw_request(front.port, "GET", "/three", {"Host": "127.0.0.1"})
    by_path = {seen.path: seen for seen in recorder.seen}
    one, two, three = (by_path.get(path) for path in ("/one", "/two", "/three"))
    received = checks.check(
        "d. the recording upstream received all three requests",
        one is not None and two is not None and three is not None,
        f"seen {sorted(by_path)}",
    )
    if not received or one is None or two is None or three is None:
        return
    got = one.headers
    checks.check(
        f"d. X-Forwarded-For is the peer's address ({CLIENT_IP}), not the client's own",
        got.get("x-forwarded-for") == CLIENT_IP,
        f"X-Forwarded-For: {got.get('x-forwarded-for')}",
    )
    checks.check(
        "d. X-Forwarded-Proto is nginx's scheme (http), not the client's `https`",
        got.get("x-forwarded-proto") == "http",
        f"X-Forwarded-Proto: {got.get('x-forwarded-proto')}",
    )
    checks.check(
        "d. Host and a valid X-Request-ID pass unchanged",
        got.get("host") == "api.example.com" and got.get("x-request-id") == "trace-42.a_b",
        f"Host: {got.get('host')}, X-Request-ID: {got.get('x-request-id')}",
    )
    stray = [name for name in ("forwarded", "x-forwarded-host", "x-real-ip") if name in got]
    checks.check(
        "d. Forwarded, X-Forwarded-Host and X-Real-IP from the client do not arrive",
        not stray,
        f"arrived: {stray}" if stray else "",
    )
    replaced = two.headers.get("x-request-id", "")
    generated = three.headers.get("x-request-id", "")
    checks.check(
        "d. an invalid or missing X-Request-ID is replaced by nginx's own",
        bool(re.fullmatch(r"[0-9a-f]{32}", replaced))
        and bool(re.fullmatch(r"[0-9a-f]{32}", generated)),
        f"{replaced!r}, {generated!r}",
    )
    ports = {seen.peer_port for seen in (one, two, three)}
    checks.check(
        "d. three requests from three clients reuse one upstream connection (keepalive)",
        len(ports) == 1 and "close" not in got.get("connection", "").lower(),
        f"upstream peer ports {sorted(ports)}, Connection: {got.get('connection')!r}",
    )
    last_sent, length, status = send_slow_chunked_body(front.port, pause=1.0)
    body = next((seen for seen in recorder.seen if seen.path == "/slow-body"), None)
    checks.check(
        "d. a chunked body sent in two parts 1 s apart reaches the upstream whole, with "
        "Content-Length, only once its last part is sent (request buffering)",
        status == 200
        and body is not None
        and body.body_length == length
        and body.headers.get("content-length") == str(length)
        and "transfer-encoding" not in body.headers
        and body.arrived >= last_sent,
        "not received"
        if body is None
        else f"{body.body_length} bytes, Content-Length {body.headers.get('content-length')}, "
        f"arrived {body.arrived - last_sent:+.3f} s after the last part was sent",
    )
    size = template_setting("client_max_body_size", "k") * 1024
    at_cap = exchange(front.port, post_head(size), size)
    whole = next((seen for seen in recorder.seen if seen.body_length == size), None)
    checks.check(
        "d. a body of exactly client_max_body_size passes nginx whole",
        at_cap.status == 200 and whole is not None,
        f"{at_cap.status}, {size} bytes {'received' if whole else 'not received'}",
    )


def check_slow_clients(checks: Checks, front: Nginx, app: Server) -> None:
    """/health through nginx within 1 s, every 0.5 s for 30 s, beside 50 slow clients."""
    slow = SlowHeaderClients(front.port, SLOW_CONNECTIONS, SLOW_BYTE_INTERVAL)
    slow.start()
    try:
        deadline = time.monotonic() + 5
        while slow.open_now < SLOW_CONNECTIONS and time.monotonic() < deadline:
            time.sleep(0.05)
        checks.check(
            f"e. {SLOW_CONNECTIONS} slow-header connections open",
            slow.open_now == SLOW_CONNECTIONS and not slow.errors,
            f"{slow.open_now} open {slow.errors}",
        )
        latencies: list[float] = []
        failures: list[str] = []
        open_counts: list[int] = []
        started = time.monotonic()
        next_probe = started
        while time.monotonic() - started < PROBE_SECONDS:
            open_counts.append(slow.open_now)
            try:
                reply = request("GET", front.base + "/health", timeout=PROBE_TIMEOUT)
                latencies.append(reply.seconds)
                if reply.status != 200 or reply.seconds > PROBE_TIMEOUT:
                    failures.append(f"{time.monotonic() - started:.1f}s: {reply.describe()}")
            except OSError as exc:
                latencies.append(PROBE_TIMEOUT)
                failures.append(f"{time.monotonic() - started:.1f}s: {type(exc).__name__} {exc}")
            next_probe += PROBE_INTERVAL
            time.sleep(max(0.0, next_probe - time.monotonic()))
        ordered = sorted(latencies)
        checks.check(
            f"e. /health through nginx: {len(latencies)} probes in {PROBE_SECONDS:.0f} s, "
            f"every one 200 within {PROBE_TIMEOUT:.0f} s",
            not failures and len(latencies) >= PROBE_SECONDS / PROBE_INTERVAL - 2,
            f"{len(failures)} failed, median {ordered[len(ordered) // 2] * 1000:.1f} ms, "
            f"slowest {ordered[-1] * 1000:.1f} ms" + (f"; {failures[:3]}" if failures else ""),
        )
        checks.check(
            f"e. slow connections stayed open throughout (at least {SLOW_CONNECTIONS - 5} of "
            f"{SLOW_CONNECTIONS} at every probe)",
            min(open_counts) >= SLOW_CONNECTIONS - 5 and not slow.errors,
            f"fewest {min(open_counts)}, {slow.opened} opened in all {slow.errors}",
        )
    finally:
        slow.stop()
    dropped = slow.dropped_after
    timeout = template_setting("client_header_timeout", "s")
    in_time = [s for s in dropped if timeout - 1 <= s <= timeout + 3]
    checks.check(
        f"e. nginx dropped the slow connections after its {timeout} s client_header_timeout",
        len(dropped) >= SLOW_CONNECTIONS and len(in_time) == len(dropped),
        f"{len(dropped)} dropped, after {min(dropped, default=0):.1f}-"
        f"{max(dropped, default=0):.1f} s",
    )
    log = app.log_path.read_text(errors="replace")
    checks.check(
        f"e. {SERVER} logged no worker timeout", "WORKER TIMEOUT" not in log, app.log_path.name
    )


def run(checks: Checks, cleanup: Cleanup, workdir: Path) -> None:
    # When run as root, nginx's workers run as `nobody` and must reach their temporary
    # folders inside this one (traverse only; nothing here is listable).
    workdir.chmod(0o711)
    binary = find_nginx()
    check_compose(checks)
    redis = redis_url()
    prefix = f"slowclients-{secrets.token_hex(6)}"
    cleanup.push("delete the run's cache keys", lambda: delete_cache_keys(redis, prefix))
    database_url, drop = fresh_database(database_server_url(), "slowclients")
    cleanup.push("drop database slowclients", drop)
    env = app_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis,
        CACHE_KEY_PREFIX=prefix,
        UPLOAD_DIR=str(workdir / "uploads"),
        TRUSTED_PROXIES="127.0.0.1",
        LOG_FORMAT="json",
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="1",
        MAX_UPLOAD_MB=str(MAX_UPLOAD_MB),
    )
    migrate(env)
    app = AppServer("app", free_port(), env, workdir / f"{SERVER}.log", server=SERVER)
    cleanup.push(f"stop {SERVER}", app.stop)
    app.start()

    front = Nginx("front", binary, free_port(), f"127.0.0.1:{app.port}", workdir / "front")
    recorder = RecordingServer()
    cleanup.push("stop the recording upstream", recorder.stop)
    recorder.start()
    echo = Nginx("echo", binary, free_port(), f"127.0.0.1:{recorder.port}", workdir / "echo")
    closed = f"127.0.0.1:{free_port()}"
    down = Nginx("app-down", binary, free_port(), closed, workdir / "down")
    ok, said = front.test()
    if not checks.check("nginx -t accepts the rendered configuration", ok, said):
        raise RuntimeError("the rendered nginx configuration is invalid")
    for server in (front, echo, down):
        cleanup.push(f"stop nginx {server.name}", server.stop)
        server.start()
    print(
        f"nginx {front.base} -> {SERVER} {app.base} (2 workers); "
        f"nginx {echo.base} -> recording upstream on port {recorder.port}",
        flush=True,
    )

    check_front(checks, front, down)
    check_client_ip(checks, front, app)
    check_upstream_headers(checks, recorder, echo)
    check_slow_clients(checks, front, app)


def main() -> int:
    global SERVER
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--server",
        choices=("gunicorn", "granian"),
        default=os.environ.get("SERVER", "gunicorn"),
        help="the app server behind nginx, as deploy/serve.sh runs it (default: $SERVER or "
        "gunicorn)",
    )
    SERVER = parser.parse_args().server
    return run_checks(f"slowclients-{SERVER}-", run)


if __name__ == "__main__":
    use_project_python()
    sys.exit(main())
