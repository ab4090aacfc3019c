"""ASGI entry point of the web process: `gunicorn schedsite.asgi -k schedsite.server.Worker`.

Django's WSGI application behind schedsite.wsgi_bridge: a request gets one of the
process's threads (gunicorn's `--threads`, WEB_THREADS in the Procfile) only once it has
fully arrived, and a body over DATA_UPLOAD_MAX_MEMORY_SIZE is answered 413 while it
arrives, before it is stored.
"""

import os

from django.core.wsgi import get_wsgi_application

from schedsite.wsgi_bridge import BufferedWSGI

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "schedsite.settings")

_django = get_wsgi_application()


def _max_body() -> int | None:
    from django.conf import settings

    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


application = BufferedWSGI(_django, threads=4, max_body=_max_body())
