"""Bench-only Celery tasks on the product's own Celery app (same settings, same worker config).

`celery -A bench.baseline_app worker ...` loads the product's app (schedsite.celery) with
these two tasks added; nothing in the product imports this module.

- `bench.noop`: does nothing (the raw Celery figure of the end-to-end comparison).
- `bench.fire`: one GET to a URL (the django-celery-beat baseline: one PeriodicTask per job).
"""

from __future__ import annotations

import threading

import requests

from schedsite.celery import app

_local = threading.local()


@app.task(name="bench.noop", ignore_result=True)
def noop() -> None:
    return None


@app.task(name="bench.fire", ignore_result=True)
def fire(url: str) -> int:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session.get(url, timeout=30).status_code


__all__ = ["app", "fire", "noop"]
