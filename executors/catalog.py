"""Catalog tasks: registered Python classes with a validated payload and an optional veto."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from rest_framework import serializers

from catalog.base import TaskContext, TaskFailed
from catalog.registry import catalog, get_task
from jobs.fields import CachedFieldsMixin, StrictSerializer
from jobs.states import RunStatus

from .base import Executor, Outcome, RunContext

log = logging.getLogger(__name__)


class CatalogTaskSerializer(CachedFieldsMixin, StrictSerializer):
    type = serializers.ChoiceField(choices=["catalog"], default="catalog")
    name = serializers.CharField(max_length=200)

    def validate_name(self, value: str) -> str:
        if get_task(value) is None:
            known = ", ".join(catalog()) or "none"
            raise serializers.ValidationError(
                f"No catalog task named {value!r}. Registered: {known}."
            )
        return value


class EmptyPayload(StrictSerializer):
    """A task without a payload schema takes an empty payload."""


class CatalogExecutor(Executor):
    type = "catalog"
    queue = "catalog"
    serializer_class = CatalogTaskSerializer

    def permission_denied(self, task: dict[str, Any], user) -> str | None:
        """The task's own permission, if it names one (maintenance tasks do)."""
        found = get_task(task["name"])
        needed = found.permission if found is not None else None
        if needed and not user.has_perm(needed):
            return f"The catalog task {task['name']!r} needs the permission '{needed}'."
        return None

    def validate_payload(self, task: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        schema = get_task(task["name"]).payload_serializer or EmptyPayload
        serializer = schema(data=payload)
        if not serializer.is_valid():
            raise serializers.ValidationError(serializer.errors)
        # Stored as JSON: normalize what the serializer produced (dates, decimals).
        return json.loads(json.dumps(serializer.validated_data, cls=DjangoJSONEncoder))

    def namespace_error(self, task: dict[str, Any], product: str, group: str) -> str | None:
        found = get_task(task["name"])
        if found is not None and (found.product, found.group) == (product, group):
            return None
        return f"No catalog task named {task['name']!r} in {product}/{group}."

    def run(self, context: RunContext) -> Outcome:
        task_class = get_task(context.task["name"])
        if task_class is None:
            return Outcome(
                RunStatus.FAILED,
                {},
                f"Catalog task {context.task['name']!r} is not installed on this worker.",
            )
        task = task_class()
        task_context = TaskContext(
            job_id=context.job_id,
            run_id=context.run_id,
            attempt=context.attempt,
            idempotency_key=context.idempotency_key,
            payload=context.payload,
            timeout=context.timeout,
            stop=context.stop,
        )
        reason = task.veto(task_context)
        if reason:
            return Outcome(RunStatus.VETOED, {}, str(reason))
        return self._run_with_timeout(task, task_context)

    @staticmethod
    def _run_with_timeout(task, context: TaskContext) -> Outcome:
        """Run in a thread and wait at most the timeout.

        Python code cannot be killed from outside: at the timeout the run is recorded
        `timed_out` and `context.stop` is set, which well-behaved tasks check.
        """
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["result"] = task.run(context) or {}
            except TaskFailed as exc:
                box["failed"] = exc
            except Exception as exc:
                log.exception("catalog task %s failed", task.name)
                box["error"] = exc
            finally:
                connection.close()  # this thread's own database connection, if it used one

        thread = threading.Thread(target=target, name=f"catalog-{context.run_id}", daemon=True)
        thread.start()
        thread.join(context.timeout)
        if thread.is_alive():
            context.stop.set()
            return Outcome(
                RunStatus.TIMED_OUT,
                {},
                f"Task {task.name} did not finish within {context.timeout:g}s.",
            )
        if "failed" in box:
            return Outcome(RunStatus.FAILED, box["failed"].result, str(box["failed"]))
        if "error" in box:
            return Outcome(RunStatus.FAILED, {}, f"{type(box['error']).__name__}: {box['error']}")
        return Outcome(RunStatus.SUCCEEDED, box["result"])
