#!/bin/sh
# Serve the API in production, as `make serve` and the Docker image do: gunicorn with
# gunicorn.conf.py (SERVER=gunicorn, the default), or granian's WSGI server
# (SERVER=granian). Both read the same variables: GUNICORN_BIND (host:port) and
# GUNICORN_WORKERS; each worker serves one request at a time (gunicorn's sync workers,
# granian with one blocking thread), which bounds a login burst's memory to one password
# hash per worker and a worker's database connections to one. Either runs behind the
# nginx front (deploy/nginx), never facing clients itself.
set -eu

bind="${GUNICORN_BIND:-127.0.0.1:8000}"
workers="${GUNICORN_WORKERS:-2}"

case "${SERVER:-gunicorn}" in
gunicorn)
    exec gunicorn config.wsgi --config gunicorn.conf.py
    ;;
granian)
    if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
        # As gunicorn.conf.py does when gunicorn starts: an earlier run's metric samples
        # must not be summed into this one's (the workers write the folder afresh).
        rm -rf "$PROMETHEUS_MULTIPROC_DIR"
        mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    fi
    # granian's own default is a pool of threads per worker, each with its own database
    # connection: one thread per worker instead (GRANIAN_BLOCKING_THREADS to change it).
    exec granian --interface wsgi \
        --host "${bind%:*}" --port "${bind##*:}" \
        --workers "$workers" \
        --blocking-threads "${GRANIAN_BLOCKING_THREADS:-1}" \
        --respawn-failed-workers \
        --no-ws \
        --log-level "${GRANIAN_LOG_LEVEL:-warning}" \
        config.wsgi:application
    ;;
*)
    echo "SERVER must be gunicorn or granian, not ${SERVER}" >&2
    exit 2
    ;;
esac
