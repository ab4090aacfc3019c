"""`sched runs list|get`: runs across your jobs, and one run with its result."""

from __future__ import annotations

import click

from ..client import Client
from ..context import json_option, with_client
from ..output import record, show_json, table
from .jobs import RUN_STATUSES, TASK_TYPES, choice, listing

COLUMNS = [
    ("id", "id"),
    ("job_name", "job"),
    ("status", "status"),
    ("attempt", "attempt"),
    ("trigger", "trigger"),
    ("due_at", "due"),
    ("finished_at", "finished"),
    ("error", "error"),
]
DETAIL = [
    "id",
    "job",
    "status",
    "attempt",
    "trigger",
    "idempotency_key",
    "due_at",
    "queued_at",
    "started_at",
    "finished_at",
    "heartbeat_at",
    "worker",
    "error",
]


@click.group()
def runs() -> None:
    """Runs across your jobs."""


@runs.command("list")
@click.option("--status", multiple=True, type=choice(RUN_STATUSES), help="Repeat for several.")
@click.option("--job", "job_id", help="The runs of this job (its id).")
@click.option("--type", "types", multiple=True, type=choice(TASK_TYPES), help="Task type.")
@click.option("--product")
@click.option("--group")
@click.option("--since", help="Due at or after this ISO 8601 date-time (UTC without offset).")
@click.option("--until", help="Due before this ISO 8601 date-time.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@click.option("--offset", default=0, type=click.IntRange(0))
@click.option("--all", "every", is_flag=True, help="Every page.")
@json_option
@with_client
def list_runs(client: Client, job_id, types, limit, offset, every, as_json, **filters) -> None:
    """Runs, newest first (by due time)."""
    filters.update(job=job_id, type=types)
    params = {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in filters.items()
        if value not in (None, ())
    }
    items, _ = listing(client, "/api/v1/runs", params, limit=limit, offset=offset, every=every)
    show_json(items) if as_json else table(items, COLUMNS)


@runs.command("get")
@click.argument("run_id")
@json_option
@with_client
def get(client: Client, run_id: str, as_json: bool) -> None:
    """One run with what it recorded (status code, output, exit code)."""
    run = client.get(f"/api/v1/runs/{run_id}")
    if as_json:
        show_json(run)
        return
    record(run, DETAIL)
    result = run.get("result") or {}
    for key in sorted(set(result) - {"stdout", "stderr", "body"}):
        click.echo(f"result.{key}: {result[key]}")
    for stream in ("body", "stdout", "stderr"):
        if result.get(stream):
            click.echo(f"--- {stream} ---")
            click.echo(result[stream].rstrip("\n"))
