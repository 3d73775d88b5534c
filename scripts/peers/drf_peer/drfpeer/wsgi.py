"""The DRF peer's WSGI application: `gunicorn drfpeer.wsgi --config ../../../gunicorn.conf.py`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drfpeer.settings")

application = get_wsgi_application()
