"""WSGI entry point (gunicorn config.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# The URLconf, and with it every view, serializer and schema hook, is imported now rather
# than by the first request: under gunicorn's preload that is once, in the master, so
# each forked worker shares those pages and answers its first request without importing.
get_resolver().url_patterns  # noqa: B018
