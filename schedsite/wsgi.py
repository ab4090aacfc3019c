"""WSGI entry point: `gunicorn schedsite.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "schedsite.settings")

application = get_wsgi_application()
