"""Task type -> executor, imported lazily so a worker loads only what it runs.

The task types are jobs.states.TaskType (the job's `type` choices); this says where each
one's executor lives, and an executor's own `type` must be the type it is registered for
(tests/unit/test_registry.py).
"""

from __future__ import annotations

from functools import cache
from importlib import import_module

from jobs.states import TaskType

from .base import Executor

EXECUTORS = {
    TaskType.HTTP: "executors.http.HttpExecutor",
    TaskType.DOCKER: "executors.docker.DockerExecutor",
    TaskType.COMMAND: "executors.command.CommandExecutor",
    TaskType.SCRIPT: "executors.script.ScriptExecutor",
    TaskType.CATALOG: "executors.catalog.CatalogExecutor",
}


def known_types() -> list[str]:
    return sorted(TaskType.values)


@cache
def get_executor(task_type: str) -> Executor:
    """Return the executor for a task type; KeyError if there is none."""
    module_name, _, class_name = EXECUTORS[task_type].rpartition(".")
    return getattr(import_module(module_name), class_name)()


def queue_for(task_type: str) -> str:
    return get_executor(task_type).queue
