"""WSGI entry point: `gunicorn reliefmatch.wsgi` (see gunicorn.conf.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reliefmatch.settings")

application = get_wsgi_application()
