"""Find the catalog tasks: built-ins, the CATALOG_TASKS setting, installed entry points."""

from __future__ import annotations

import logging
from functools import cache
from importlib import metadata

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .base import CatalogTask

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "sched.catalog"
BUILTIN = (
    "catalog.builtin.Echo",
    "catalog.builtin.Sleep",
    "catalog.builtin.PruneRuns",
    "catalog.builtin.PruneScripts",
)


@cache
def catalog() -> dict[str, type[CatalogTask]]:
    """Every registered task by name; a name registered twice is a configuration error."""
    found: dict[str, type[CatalogTask]] = {}
    classes = [import_string(path) for path in (*BUILTIN, *settings.CATALOG_TASKS)]
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            classes.append(entry_point.load())
        except Exception:  # a broken plugin must not take the service down
            log.exception("cannot load catalog entry point %s", entry_point.value)
    for task in classes:
        if not (isinstance(task, type) and issubclass(task, CatalogTask)):
            raise ImproperlyConfigured(f"{task!r} is not a CatalogTask subclass")
        other = found.get(task.name)
        if other is not None and other is not task:
            raise ImproperlyConfigured(
                f"catalog task name {task.name!r} is registered twice: {other} and {task}"
            )
        found[task.name] = task
    return dict(sorted(found.items()))


def get_task(name: str) -> type[CatalogTask] | None:
    return catalog().get(name)


def in_namespace(product: str, group: str) -> list[type[CatalogTask]]:
    return [t for t in catalog().values() if (t.product, t.group) == (product, group)]
