# The API served by gunicorn (gunicorn.conf.py), as a non-root user.
# Configuration comes from the environment at run time; see .env.example and the README.
# gunicorn's sync workers must not face clients directly (a slow client holds a whole
# worker): run the image behind a buffering reverse proxy, such as the nginx
# configuration in deploy/nginx/ that docker-compose.yml puts in front of it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /app

RUN groupadd --system app \
 && useradd --system --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

# Dependencies first, so a code change does not reinstall them. On x86_64 every pinned
# package ships a wheel for this base image, so no compiler is needed.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .

# collectstatic only reads settings; the throwaway key exists for this one command and is
# not kept in the image. Code stays owned by root and read-only for the app user, which
# may write only to the upload folder and the embedded cache's folder.
RUN SECRET_KEY=collectstatic-only DEBUG=false python manage.py collectstatic --noinput --verbosity 0 \
 && mkdir -p /app/media /app/var \
 && chown app:app /app/media /app/var

# All interfaces of the container, so that the proxy in front of it can reach gunicorn;
# publish the proxy's port, not this one.
ENV DEBUG=false \
    UPLOAD_DIR=/app/media \
    CACHE_PATH=/app/var/cache.sqlite3 \
    PROMETHEUS_MULTIPROC_DIR=/app/var/prometheus \
    GUNICORN_BIND=0.0.0.0:8000

# Declared after the chown above, so a new volume starts out owned by the app user.
VOLUME ["/app/media"]

USER app
EXPOSE 8000

# No curl in the slim image: ask /health with the standard library. The request names the
# first ALLOWED_HOSTS entry as its Host, because Django answers 400 to any other host.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; host = os.environ.get('ALLOWED_HOSTS', 'localhost').split(',')[0].strip().lstrip('.'); host = 'localhost' if host in ('', '*') else host; urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:8000/health', headers={'Host': host}), timeout=4)"]

# gunicorn, or granian with SERVER=granian (deploy/serve.sh); exec hands it PID 1.
CMD ["sh", "deploy/serve.sh"]
