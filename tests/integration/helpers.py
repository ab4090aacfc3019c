"""Small builders for API bodies, and runs of built-in tasks."""

from __future__ import annotations

import os
import pwd
from typing import Any

TARGET = "http://127.0.0.1:9/hook"  # never contacted: these tests stop before the worker


def code_user() -> pwd.struct_passwd:
    """Who command and script runs run as by default here: `nobody` (RUN_CODE_AS's
    default) when the tests, which play the worker, run as root; else their own user."""
    if os.geteuid() == 0:
        return pwd.getpwnam("nobody")
    return pwd.getpwuid(os.geteuid())


def http_job(schedule: Any = "in 1h", **extra: Any) -> dict[str, Any]:
    return {
        "task": {"method": "POST", "uri": TARGET, "body": {"a": 1}},
        "schedule": schedule,
        **extra,
    }


def run_prune_scripts(client) -> Any:
    """Create a `sched.prune_scripts` job (older_than 0s) as `client` (who needs
    jobs.run_maintenance) and run it here; its Run."""
    from jobs import dispatch, runner
    from jobs.models import Job

    response = client.post(
        "/api/v1/jobs",
        {
            "task": {"type": "catalog", "name": "sched.prune_scripts"},
            "payload": {"older_than": "0s"},
            "schedule": "1s",
        },
        "json",
    )
    assert response.status_code == 201, response.data
    dispatch.plan_due_fires()
    job = Job.objects.get(id=response.json()["id"])
    runner.execute(str(job.runs.get().id))
    return job.runs.get()
