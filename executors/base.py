"""The executor interface: one small class per task type."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar


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
    stop: threading.Event = field(default_factory=threading.Event, compare=False)


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended: a run status, the captured result, an error message."""

    status: str
    result: dict[str, Any] = dataclasses.field(default_factory=dict)
    error: str = ""


class Executor:
    """Runs one task type. Subclasses set `type` and `serializer_class` and implement run()."""

    type: ClassVar[str]
    # A DRF serializer that validates and normalizes the `task` object of this type.
    serializer_class: ClassVar[type]
    # Celery queue consuming runs of this type.
    queue: ClassVar[str]

    def run(self, context: RunContext) -> Outcome:
        raise NotImplementedError
