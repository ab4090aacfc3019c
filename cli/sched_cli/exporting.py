"""The caller's jobs as job files that `apply` takes back unchanged.

Each job is written with what differs from the defaults only (the file stays readable),
in the input forms of the API ({"every": "10m"}, not the stored {"kind": "interval"}).
A script task is written with its sha256 and size: the API never returns a script's
content, so such a job applies back unchanged but cannot be created from the file
until it names its content_file.
"""

from __future__ import annotations

from typing import Any

from .durations import format_ms, parse_ms
from .normal import JOB_DEFAULTS, RETRY_DEFAULTS, normal_notify, normal_retry
from .normal_task import SERVER_ONLY, TASK_DEFAULTS, normal_task

# A task's keys in the order a person reads them; others after, by name.
TASK_ORDER = (
    "type", "uri", "method", "command", "shell", "image", "name", "filename", "sha256", "size",
    "args", "headers", "body", "expected_range", "env", "cwd", "pull", "network", "memory",
    "cpus", "timeout", "run_as",
)  # fmt: skip


class ExportProblem(Exception):
    pass


def documents(jobs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """One document per product and group, jobs by name; and notes on jobs left out.

    Raises ExportProblem for jobs apply could not tell apart (no name, a name twice).
    """
    spaces: dict[tuple[str, str], list[dict[str, Any]]] = {}
    notes: list[str] = []
    for job in jobs:
        if not job["product"] or not job["group"] or "/" in job["product"] + job["group"]:
            notes.append(
                f"left out job {job['id']} ({job['name'] or 'no name'}): apply keeps jobs "
                "by name within a product and a group, and it has no product or no group"
            )
            continue
        spaces.setdefault((job["product"], job["group"]), []).append(job)
    problems = []
    for (product, group), members in spaces.items():
        names = [job["name"] for job in members]
        for job in members:
            if not job["name"]:
                problems.append(f"{product}/{group}: job {job['id']} has no name")
            elif names.count(job["name"]) > 1:
                problems.append(
                    f"{product}/{group}: job {job['id']}: {job['name']!r} is not unique"
                )
    if problems:
        raise ExportProblem(
            "apply finds jobs by name within a product and group, so these cannot be exported "
            "(name them apart, or cancel the extra ones):\n  " + "\n  ".join(problems)
        )
    docs = [
        {
            "product": product,
            "group": group,
            "jobs": [job_spec(job) for job in sorted(members, key=lambda j: j["name"])],
        }
        for (product, group), members in sorted(spaces.items())
    ]
    return docs, notes


def job_spec(job: dict[str, Any]) -> dict[str, Any]:
    """A job of the API as a file's job: its name, task and schedule, then what is not a
    default."""
    spec: dict[str, Any] = {"name": job["name"], "task": task_spec(job["task"])}
    if job.get("payload"):
        spec["payload"] = job["payload"]
    spec["schedule"] = schedule_spec(job["schedule"])
    for key in ("timezone", "start_at", "end_at", "max_runs", "timeout"):
        if job.get(key) != JOB_DEFAULTS[key]:
            spec[key] = job[key]
    retry = retry_spec(job.get("retry"))
    if retry:
        spec["retry"] = retry
    for key in ("concurrency", "misfire_grace", "pause_after_failures"):
        if job.get(key) != JOB_DEFAULTS[key]:
            spec[key] = job[key]
    rules = [rule_spec(rule) for rule in normal_notify(job.get("notify") or [])]
    if rules:
        spec["notify"] = rules
    return spec


def task_spec(task: dict[str, Any]) -> dict[str, Any]:
    kind = task.get("type")
    defaults = TASK_DEFAULTS.get(kind, {})
    normal = normal_task(task)
    out: dict[str, Any] = {"type": kind}
    ranked = sorted(task, key=lambda k: (TASK_ORDER.index(k) if k in TASK_ORDER else 99, k))
    for key in ranked:
        value = task[key]
        if key in ("type", *SERVER_ONLY.get(kind, ())) or value is None:
            continue
        if key in defaults and normal.get(key) == normal_task({"type": kind}).get(key):
            continue
        out[key] = format_ms(parse_ms(value)) if key == "timeout" else value
    return out


def schedule_spec(schedule: dict[str, Any]) -> Any:
    """The stored {"kind": ...} form as the API takes it."""
    kind = schedule.get("kind")
    if kind == "once":
        return schedule["at"]
    if kind == "interval":
        return {"every": schedule["every"]}
    return {"cron": schedule["cron"]}


def retry_spec(retry: Any) -> dict[str, Any]:
    """The keys of a retry policy that are not the default's."""
    if not isinstance(retry, dict):
        return {}
    normal, default = normal_retry(retry), normal_retry(RETRY_DEFAULTS)
    return {key: retry[key] for key in retry if normal.get(key) != default.get(key)}


def rule_spec(rule: dict[str, Any]) -> dict[str, Any]:
    out = {"channel": rule["channel"]}
    if rule["on"] != sorted(["failure", "recovery"]):
        out["on"] = rule["on"]
    if rule["every_failure"]:
        out["every_failure"] = True
    return out
