"""RunContexts built by hand, for tests that run an executor directly, without a job."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from executors.base import RunContext


def run_context(task: dict[str, Any], **fields: Any) -> RunContext:
    """A first attempt of `task`, due now, with fresh ids, no payload and no timeout;
    `fields` sets any other RunContext field (timeout=20, payload={...})."""
    run_id = str(uuid.uuid4())
    values: dict[str, Any] = {
        "job_id": str(uuid.uuid4()),
        "run_id": run_id,
        "attempt": 1,
        "idempotency_key": run_id,
        "payload": {},
        "timeout": None,
        "due_at": datetime.now(UTC),
        **fields,
    }
    return RunContext(task=task, **values)
