"""What a catalog task is and what it gets to run."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar


class TaskFailed(Exception):
    """Raise from run() to fail the run with this message (and an optional result)."""

    def __init__(self, message: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.result = result or {}


@dataclass(frozen=True)
class TaskContext:
    """What a catalog task gets: its job, run, attempt, validated payload and time limit."""

    job_id: str
    run_id: str
    attempt: int
    idempotency_key: str
    payload: dict[str, Any]
    timeout: float | None  # seconds; None = no limit
    started: float = field(default_factory=time.monotonic)
    stop: threading.Event = field(default_factory=threading.Event, compare=False)

    def remaining(self) -> float | None:
        """Seconds left before the timeout, or None without one."""
        if self.timeout is None:
            return None
        return max(self.timeout - (time.monotonic() - self.started), 0.0)

    def should_stop(self) -> bool:
        """True once the run timed out or was stopped: long tasks check it and return."""
        return self.stop.is_set() or self.remaining() == 0.0


class CatalogTask:
    """Subclass, set the class attributes, implement run(); optionally veto().

    - `name`: unique, e.g. "vps4.backup_vm".
    - `product`, `group`: the namespace it belongs to (/products/{product}/groups/{group}).
    - `payload_serializer`: a DRF serializer class validating the job's `payload` at
      creation (errors come back under "payload"); None accepts an empty object only.
    - `run(context)` returns a JSON-able dict, recorded as the run's result; raising
      TaskFailed (or any exception) fails the run.
    - `veto(context)` returns a reason to skip this run (recorded `vetoed`) or None.
    - `permission`: the Django permission ("app_label.codename") a user needs to create a
      job of this task; None lets every user. Superusers hold every permission. A task
      that reaches beyond its owner's own jobs (maintenance, anything shared) names one.
    """

    name: ClassVar[str]
    product: ClassVar[str] = ""
    group: ClassVar[str] = ""
    description: ClassVar[str] = ""
    payload_serializer: ClassVar[type | None] = None
    permission: ClassVar[str | None] = None

    def veto(self, context: TaskContext) -> str | None:
        return None

    def run(self, context: TaskContext) -> dict[str, Any] | None:
        raise NotImplementedError
