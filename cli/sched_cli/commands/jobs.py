"""`sched jobs list|get|create|pause|resume|run|cancel`."""

from __future__ import annotations

from typing import Any

import click

from ..arguments import json_value, pairs, schedule_value
from ..client import ApiError, Client
from ..context import json_option, with_client
from ..output import note, record, show_json, table

JOB_STATUSES = ("scheduled", "running", "paused", "succeeded", "failed", "completed", "canceled")
TASK_TYPES = ("http", "command", "script", "docker", "catalog")
HEALTHS = ("ok", "failing", "unknown")
RUN_STATUSES = (
    "pending",
    "running",
    "succeeded",
    "failed",
    "timed_out",
    "canceled",
    "vetoed",
    "skipped",
    "missed",
    "lost",
)
COLUMNS = [
    ("id", "id"),
    ("name", "name"),
    ("namespace", "product/group"),
    ("type", "type"),
    ("status", "status"),
    ("health", "health"),
    ("schedule_description", "schedule"),
    ("next_run_at", "next run"),
]
DETAIL = [
    "id",
    "name",
    "owner",
    "product",
    "group",
    "status",
    "status_reason",
    "health",
    "consecutive_failures",
    "schedule",
    "schedule_description",
    "timezone",
    "start_at",
    "end_at",
    "max_runs",
    "next_run_at",
    "task",
    "payload",
    "timeout",
    "retry",
    "concurrency",
    "misfire_grace",
    "pause_after_failures",
    "notify",
    "counts",
    "last_run",
    "created_at",
    "updated_at",
]


def choice(values):
    return click.Choice(values, case_sensitive=False)


@click.group()
def jobs() -> None:
    """List, read, create and act on jobs."""


def listing(client: Client, path: str, params: dict, *, limit: int, offset: int, every: bool):
    """One page (or every page), and how many there are in all."""
    if every:
        items = list(client.pages(path, params))
        return items, len(items)
    page = client.get(path, **params, limit=limit, offset=offset)
    if page["next"]:
        shown_to = offset + len(page["results"])
        note(f"{offset + 1}-{shown_to} of {page['count']}: --offset {shown_to} or --all for more")
    return page["results"], page["count"]


@jobs.command("list")
@click.option("--status", multiple=True, type=choice(JOB_STATUSES), help="Repeat for several.")
@click.option("--type", "types", multiple=True, type=choice(TASK_TYPES), help="Task type.")
@click.option("--product")
@click.option("--group")
@click.option("--name", help="The exact name.")
@click.option("--name-contains", help="Part of the name (any case).")
@click.option("--health", multiple=True, type=choice(HEALTHS))
@click.option("--last-run-status", multiple=True, type=choice(RUN_STATUSES))
@click.option("--mine", is_flag=True, help="Only your own jobs (for who sees every job).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@click.option("--offset", default=0, type=click.IntRange(0))
@click.option("--all", "every", is_flag=True, help="Every page.")
@json_option
@with_client
def list_jobs(client: Client, limit, offset, every, as_json, **filters) -> None:
    """Your jobs, newest first (everyone's if you may see every job)."""
    filters["mine"] = "true" if filters["mine"] else None
    renamed = {"types": "type", "name_contains": "name__contains"}
    params = {
        renamed.get(key, key): list(value) if isinstance(value, tuple) else value
        for key, value in filters.items()
        if value not in (None, ())
    }
    items, _ = listing(client, "/api/v1/jobs", params, limit=limit, offset=offset, every=every)
    if as_json:
        show_json(items)
        return
    for job in items:
        job["namespace"] = f"{job['product'] or '-'}/{job['group'] or '-'}"
    table(items, COLUMNS)


@jobs.command("get")
@click.argument("job_id")
@json_option
@with_client
def get(client: Client, job_id: str, as_json: bool) -> None:
    """One job, with its status, health, next and last run."""
    job = client.get(f"/api/v1/jobs/{job_id}")
    show_json(job) if as_json else record(job, DETAIL)


@jobs.command("create")
@click.option("-f", "--file", "body_file", help="The job as JSON or YAML (a file, - for stdin).")
@click.option("--name")
@click.option("--product")
@click.option("--group")
@click.option("--schedule", help='"now", "30s", a date-time, "*/5 * * * *", "every 10m", JSON.')
@click.option(
    "--timezone", "--tz", "timezone", help="IANA zone of the schedule, e.g. Europe/Paris."
)
@click.option("--task", "task_json", help="The task as JSON, or @FILE.")
@click.option("--uri", help="An HTTP task to this URI.")
@click.option("--method", help="The HTTP task's method (GET).")
@click.option("--header", "headers", multiple=True, help="HTTP task: 'Name: value'; repeatable.")
@click.option("--body", "http_body", help="HTTP task: the body, JSON or text.")
@click.option("--command", help="A command task: the command line.")
@click.option("--shell", is_flag=True, help="Command task: run it with /bin/sh -c.")
@click.option("--env", multiple=True, help="Command task: NAME=value; repeatable.")
@click.option("--timeout", help="The job's timeout, e.g. 5m.")
@click.option("--max-runs", type=int)
@click.option("--retry", "retry_json", help='JSON, e.g. {"max_attempts": 3}.')
@json_option
@with_client
def create(
    client: Client,
    body_file,
    name,
    product,
    group,
    schedule,
    timezone,
    task_json,
    uri,
    method,
    headers,
    http_body,
    command,
    shell,
    env,
    timeout,
    max_runs,
    retry_json,
    as_json,
) -> None:
    """Create a job from a file, from options, or both (options win).

    \b
    sched jobs create --name ping --uri https://example.com/health --schedule 'every 5m'
    sched jobs create --name backup --command 'pg_dump -f /tmp/x db' --schedule '0 3 * * *'
    sched jobs create -f job.yaml
    """
    body: dict[str, Any] = {}
    if body_file:
        loaded = json_value("@" + body_file, "file")
        if not isinstance(loaded, dict):
            raise click.BadParameter("expected a job object", param_hint="--file")
        body.update(loaded)
    task = _task(task_json, uri, method, headers, http_body, command, shell, env)
    fields = {
        "name": name,
        "product": product,
        "group": group,
        "schedule": schedule_value(schedule) if schedule else None,
        "timezone": timezone,
        "task": task,
        "timeout": timeout,
        "max_runs": max_runs,
        "retry": json_value(retry_json, "retry") if retry_json else None,
    }
    body.update({key: value for key, value in fields.items() if value is not None})
    for key in ("task", "schedule"):
        if key not in body:
            raise click.UsageError(f"give the job's {key} (--{key}, or a file with -f)")
    job = client.create("/api/v1/jobs", body)
    if as_json:
        show_json(job)
    else:
        click.echo(f"created job {job['id']} ({job['name'] or 'no name'}): {job['status']}")
        click.echo(f"  {job['schedule_description']}; next run {job['next_run_at'] or '-'}")


def _task(task_json, uri, method, headers, http_body, command, shell, env) -> dict | None:
    given = [
        flag
        for flag, value in (("--task", task_json), ("--uri", uri), ("--command", command))
        if value
    ]
    if len(given) > 1:
        raise click.UsageError(f"give one task: {' or '.join(given)}")
    if task_json:
        return json_value(task_json, "task")
    if uri:
        task: dict[str, Any] = {"type": "http", "uri": uri}
        if method:
            task["method"] = method
        if headers:
            task["headers"] = pairs(headers, "--header", ":")
        if http_body is not None:
            try:
                task["body"] = json_value(http_body, "body")
            except click.BadParameter:
                task["body"] = http_body  # plain text, sent as is
        return task
    if command:
        task = {"type": "command", "command": command}
        if shell:
            task["shell"] = True
        if env:
            task["env"] = pairs(env, "--env")
        return task
    return None


def _act(client: Client, job_ids: tuple[str, ...], verb: str, as_json: bool) -> None:
    """Act on each job; one refused does not stop the others (each is named, exit 1)."""
    answers, failed = [], []
    for job_id in job_ids:
        try:
            if verb == "cancel":
                answers.append(client.delete(f"/api/v1/jobs/{job_id}"))
            else:
                answers.append(client.post(f"/api/v1/jobs/{job_id}/{verb}"))
        except ApiError as exc:
            failed.append(f"{job_id}: {exc.format_message()}")
    if as_json:
        show_json(answers if len(job_ids) > 1 else (answers[0] if answers else None))
    elif verb == "run" and answers:
        table(answers, [("job", "job"), ("id", "run"), ("status", "status"), ("due_at", "due")])
    elif answers:
        columns = [
            ("id", "id"),
            ("name", "name"),
            ("status", "status"),
            ("next_run_at", "next run"),
        ]
        table(answers, columns)
    if failed:
        raise click.ClickException("\n".join(failed))


@jobs.command("pause")
@click.argument("job_ids", nargs=-1, required=True, metavar="JOB_ID...")
@json_option
@with_client
def pause(client: Client, job_ids, as_json) -> None:
    """Pause jobs: no fires until resumed."""
    _act(client, job_ids, "pause", as_json)


@jobs.command("resume")
@click.argument("job_ids", nargs=-1, required=True, metavar="JOB_ID...")
@json_option
@with_client
def resume(client: Client, job_ids, as_json) -> None:
    """Resume paused jobs, from now."""
    _act(client, job_ids, "resume", as_json)


@jobs.command("run")
@click.argument("job_ids", nargs=-1, required=True, metavar="JOB_ID...")
@json_option
@with_client
def run(client: Client, job_ids, as_json) -> None:
    """Run jobs now, outside their schedules."""
    _act(client, job_ids, "run", as_json)


@jobs.command("cancel")
@click.argument("job_ids", nargs=-1, required=True, metavar="JOB_ID...")
@click.option("--yes", is_flag=True, help="Do not ask.")
@json_option
@with_client
def cancel(client: Client, job_ids, yes, as_json) -> None:
    """Cancel jobs: they fire no more; they and their runs are kept."""
    if not yes:
        click.confirm(f"Cancel {len(job_ids)} job(s)?", abort=True, err=True)
    _act(client, job_ids, "cancel", as_json)
