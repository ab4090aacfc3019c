"""The executor interface: one small class per task type."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar


class Stop(threading.Event):
    """A run's stop signal, set when the run must stop (replaced, or no longer ours).

    Executors that block in a call they cannot poll (an HTTP request) register a callback
    with `calling`, which the thread that sets the signal runs: it unblocks the call.
    """

    def __init__(self) -> None:
        super().__init__()
        self._callbacks: list[Callable[[], None]] = []
        self._callbacks_lock = threading.Lock()

    def set(self) -> None:
        super().set()
        with self._callbacks_lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()

    @contextmanager
    def calling(self, callback: Callable[[], None]) -> Iterator[None]:
        """Within the block, `callback()` runs when the signal is set (at once if it is)."""
        with self._callbacks_lock:
            self._callbacks.append(callback)
        try:
            if self.is_set():
                callback()
            yield
        finally:
            with self._callbacks_lock:
                self._callbacks.remove(callback)


@dataclass(frozen=True)
class RunContext:
    """What an executor gets to run one attempt."""

    job_id: str
    run_id: str
    attempt: int
    idempotency_key: str
    task: dict[str, Any]
    payload: dict[str, Any]
    timeout: float | None  # seconds, None = no limit
    due_at: datetime
    # The job's owner may connect anywhere (superuser or `jobs.unrestricted_egress`); else
    # HTTP requests obey the egress policy (executors/egress.py).
    egress_unrestricted: bool = False
    stop: Stop = field(default_factory=Stop, compare=False)


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended: a run status, the captured result, an error message."""

    status: str
    result: dict[str, Any] = dataclasses.field(default_factory=dict)
    error: str = ""


class Executor:
    """Runs one task type.

    Subclasses set `type`, `queue` and `serializer_class` and implement run(). The
    other hooks have working defaults.
    """

    type: ClassVar[str]
    # A DRF serializer that validates and normalizes the `task` object of this type.
    serializer_class: ClassVar[type]
    # Celery queue consuming runs of this type: deployers choose which workers take it.
    queue: ClassVar[str]
    # Runs code on a worker: creating such a job needs the `jobs.run_code` permission.
    runs_code: ClassVar[bool] = False

    def permission_denied(self, task: dict[str, Any], user) -> str | None:
        """Why `user` may not create a job with this task, or None if they may."""
        if self.runs_code and not user.has_perm("jobs.run_code"):
            return (
                f"Creating {self.type} jobs needs the permission "
                "'jobs.run_code' (Can create jobs that run code)."
            )
        return None

    def validate_payload(self, task: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        """Validate the job's payload for this task; raise a DRF ValidationError if bad."""
        return payload

    def namespace_error(self, task: dict[str, Any], product: str, group: str) -> str | None:
        """Why this task may not be created in the namespace product/group, or None."""
        return None

    def prepare(self, task: dict[str, Any]) -> dict[str, Any]:
        """Turn a validated task into what is stored on the job (e.g. store uploads)."""
        return task

    def run(self, context: RunContext) -> Outcome:
        raise NotImplementedError
