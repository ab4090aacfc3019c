"""The product's Celery app with prototype fixes of the worker's hot path (bench-only).

`celery -A bench.tuned_app worker ...` runs the product's worker with:

1. Database connections kept across tasks. Celery's Django fixup closes every
   connection of the thread before and after each task unless `CELERY_DB_REUSE_MAX` is
   set, so each run opened a new PostgreSQL connection (a backend fork, TLS-less auth,
   `SET` statements): here the connections are closed only when Django's own rules
   say so (CONN_MAX_AGE, errors, health checks), via `close_old_connections()`.

The product would make this change in schedsite/settings.py (`CELERY_DB_REUSE_MAX`) and
schedsite/celery.py (the two signal handlers).
"""

from __future__ import annotations

from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

from schedsite.celery import app

app.conf.CELERY_DB_REUSE_MAX = 10**9  # the fixup's close-every-task off


@task_prerun.connect
def _prerun(**kwargs) -> None:
    close_old_connections()


@task_postrun.connect
def _postrun(**kwargs) -> None:
    close_old_connections()


__all__ = ["app"]
