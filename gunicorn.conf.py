"""
gunicorn configuration, read by `gunicorn config.wsgi --config gunicorn.conf.py`.

Everything an operator may change comes from environment variables (listed in
`.env.example`); the rest is fixed here on purpose. `make serve` binds to the loopback
interface; the Docker image sets `GUNICORN_BIND=0.0.0.0:8000`, for the nginx in front of
it (deploy/nginx/): sync workers must never face clients directly.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Sync workers, one per core, chosen by measurement (`make bench`, 2 cores, PostgreSQL
# and Redis on the same host): 2 sync workers served GET /users/me at ~1000 req/s; 2
# gthread workers with 4 threads each at ~730 req/s (the GIL and thread switching cost
# more than keep-alive saved), and 4 sync workers at ~870-1050 req/s with a worse p99.
# A sync worker also hashes at most one password at a time, which bounds login memory:
# Argon2 takes 100 MiB per hash, so a worker peaks near 170 MiB under a login burst and
# the whole server near workers x 170 MiB, whatever the burst. Threads multiply that.
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"

# A worker silent for longer than this is killed and replaced; a request should never
# come close.
timeout = 30
# On SIGTERM (a deploy), requests in flight get this long to finish.
graceful_timeout = 30
# Honoured only by threaded and async workers: sync workers close the connection after
# each response. If the class changes, set it above the idle timeout of the proxy's
# upstream connections, so that the proxy is the side that closes idle connections.
keepalive = 5

# Load the application once in the master and fork workers from it: workers start in
# milliseconds (a replaced worker does not re-import Django) and share the loaded code's
# memory pages. Nothing opens a connection at import time, so none is shared by a fork.
preload_app = True

# Replace each worker after a number of requests (jittered, so they do not all restart at
# once) to bound memory growth from any leak in the app or its libraries. With preloading
# a replacement costs a fork, not an import.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "10000"))
max_requests_jitter = max_requests // 10

# The error log on stderr, for the container runtime or process manager, and no access
# log: the application logs every request itself (config.request, with the request id
# and the account), so a line of gunicorn's own would repeat it.
accesslog = None
errorlog = "-"
loglevel = "info"

# The heartbeat file is touched constantly; on a disk-backed /tmp (Docker's overlay
# filesystem) that can stall a worker, so keep it in memory when the host has /dev/shm.
# gunicorn creates it with mkstemp and unlinks it at once, so a shared folder is safe.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108  # nosec B108

# Client address and scheme are decided by the application alone: the rate limiter takes
# the client IP from REMOTE_ADDR and walks X-Forwarded-For only when REMOTE_ADDR is in
# TRUSTED_PROXIES, and HTTPS detection is SECURE_PROXY_SSL_HEADER. gunicorn must not
# rewrite REMOTE_ADDR (it would with the PROXY protocol) nor apply a second, separately
# configured trust list to the scheme or to SCRIPT_NAME/PATH_INFO headers, so it trusts no
# front end at all. This also overrides gunicorn's own FORWARDED_ALLOW_IPS variable.
proxy_protocol = "off"
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}
forwarder_headers = ""

# The control socket's default path is per user, so two instances on one host would take
# it from each other; containers and process managers send signals instead.
control_socket_disable = True

# Metrics across worker processes (config/metrics.py): with PROMETHEUS_MULTIPROC_DIR set,
# each worker writes its samples to files there and /metrics sums them. The folder is
# emptied when the server starts, so the counters of an earlier run never add in; a
# worker that exits is marked dead (its counters stay in the sums, as counters must), as
# prometheus-client's documentation asks.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def on_starting(server: object) -> None:
    if not _metrics_dir:
        return
    os.makedirs(_metrics_dir, exist_ok=True)
    for name in os.listdir(_metrics_dir):
        if name.endswith(".db"):
            os.remove(os.path.join(_metrics_dir, name))


def child_exit(server: object, worker: object) -> None:
    if not _metrics_dir:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
