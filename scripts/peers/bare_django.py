"""
The floor of `make bench PEERS=1`: Django itself answering `GET /health` with a
`JsonResponse`, and nothing else: no installed app, no middleware, no database. It runs
under gunicorn with the project's own `gunicorn.conf.py` (2 sync workers), so that the
project's `/health` can be read against what the framework costs on the same server:

    PEER_SECRET_KEY=... gunicorn bare_django:application --config ../../gunicorn.conf.py
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, JsonResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY=os.environ["PEER_SECRET_KEY"],
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[],
    MIDDLEWARE=[],
    USE_TZ=True,
)


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [path("health", health)]

application = get_wsgi_application()
