"""Small builders for API bodies, and jobs run once in the test's process."""

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


def run_job(client, body: dict[str, Any]) -> Any:
    """Create the job `body` as `client`, plan it and execute its one run in this
    process (the body's schedule must make it due); the job, refreshed."""
    from jobs import dispatch, runner
    from jobs.models import Job

    response = client.post("/api/v1/jobs", body, format="json")
    assert response.status_code == 201, response.data
    job = Job.objects.get(id=response.json()["id"])
    dispatch.plan_due_fires()
    runner.execute(str(job.runs.get().id))
    job.refresh_from_db()
    return job


def run_once(client, task: dict[str, Any], **extra: Any) -> Any:
    """Create a job of `task` due in a second (`extra`: more of the body), run it here
    as run_job does; the job, refreshed."""
    return run_job(client, {"task": task, "schedule": "1s", **extra})


def run_prune_scripts(client) -> Any:
    """Create a `sched.prune_scripts` job (older_than 0s) as `client` (who needs
    jobs.run_maintenance) and run it here; its Run."""
    task = {"type": "catalog", "name": "sched.prune_scripts"}
    return run_once(client, task, payload={"older_than": "0s"}).runs.get()


def end_other_sessions() -> None:
    """End the test database's other sessions. The live server's request threads keep their
    connections open after they end (CONN_MAX_AGE), and the test database cannot be dropped
    while one is open: call it when a test used `live_server`."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
