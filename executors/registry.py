"""Task type -> executor, imported lazily so a worker loads only what it runs."""

from __future__ import annotations

from functools import cache
from importlib import import_module

from .base import Executor

EXECUTORS = {
    "http": "executors.http.HttpExecutor",
    "docker": "executors.docker.DockerExecutor",
    "command": "executors.command.CommandExecutor",
    "script": "executors.script.ScriptExecutor",
    "catalog": "executors.catalog.CatalogExecutor",
}


def known_types() -> list[str]:
    return sorted(EXECUTORS)


@cache
def get_executor(task_type: str) -> Executor:
    """Return the executor for a task type; KeyError if there is none."""
    module_name, _, class_name = EXECUTORS[task_type].rpartition(".")
    return getattr(import_module(module_name), class_name)()


def queue_for(task_type: str) -> str:
    return get_executor(task_type).queue
