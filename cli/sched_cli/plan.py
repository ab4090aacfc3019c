"""What `apply` must write to make the server's jobs match the files: the plan, no I/O.

A file's job is the server's job of the same name in the same product and group, among
the caller's jobs that are not canceled. Missing: create it. Differing (normal.py):
PATCH the fields that differ, a field the file leaves out going back to its default.
Equal: nothing. With prune, the caller's jobs of the file's namespaces that the file
does not name are canceled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .exporting import schedule_spec
from .normal import JOB_DEFAULTS, changed_fields, normal_job
from .normal_task import task_type
from .spec import Namespace

CREATE, UPDATE, CANCEL, UNCHANGED = "create", "update", "cancel", "unchanged"
SUB_DIFFS = ("task", "retry", "payload")  # fields a diff shows key by key
_STORED_SCRIPT = ("sha256", "size")  # what an export keeps of a script instead of its content


@dataclass
class Action:
    kind: str
    product: str
    group: str
    name: str
    job_id: str | None = None
    body: dict[str, Any] | None = None  # what the POST or PATCH sends
    spec: dict[str, Any] | None = None  # the file's job
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)  # (field, now, wanted)
    payload_defaults: dict[str, Any] | None = None  # a catalog task's, from GET /catalog

    @property
    def label(self) -> str:
        return f"{self.product}/{self.group}/{self.name or '(no name) ' + str(self.job_id)}"


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def of(self, kind: str) -> list[Action]:
        return [action for action in self.actions if action.kind == kind]

    def writes(self) -> list[Action]:
        return [action for action in self.actions if action.kind != UNCHANGED]


def make_plan(
    namespaces: list[Namespace],
    existing: dict[tuple[str, str], list[dict[str, Any]]],
    *,
    prune: bool = False,
    payload_defaults: dict[str, dict[str, Any]] | None = None,
) -> Plan:
    """The plan for `namespaces`, given each one's current jobs (the caller's, not canceled)."""
    plan = Plan()
    for namespace in namespaces:
        by_name: dict[str, list[dict[str, Any]]] = {}
        for job in existing.get(namespace.key, []):
            by_name.setdefault(job["name"], []).append(job)
        for name, spec in namespace.jobs.items():
            found = by_name.get(name, [])
            defaults = _payload_defaults(spec, payload_defaults)
            if len(found) > 1:
                ids = ", ".join(job["id"] for job in found)
                plan.problems.append(
                    f"{namespace}/{name}: {len(found)} jobs have this name ({ids}): apply finds "
                    "jobs by name, so cancel all but one (sched jobs cancel ID)"
                )
            elif not found:
                action = Action(CREATE, *namespace.key, name, body=dict(spec), spec=spec)
                action.payload_defaults = defaults
                _add(plan, action)
            else:
                _compare(plan, namespace, name, spec, found[0], defaults)
        if prune:
            for name, jobs in by_name.items():
                if name not in namespace.jobs:
                    for job in jobs:
                        plan.actions.append(Action(CANCEL, *namespace.key, name, job_id=job["id"]))
    return plan


def _payload_defaults(spec: dict[str, Any], defaults: dict[str, dict] | None) -> dict | None:
    task = spec.get("task")
    if defaults and isinstance(task, dict) and task_type(task) == "catalog":
        return defaults.get(task.get("name"))
    return None


def _compare(plan: Plan, namespace: Namespace, name: str, spec, job, defaults) -> None:
    desired, current = normal_job(spec, defaults), normal_job(job, defaults)
    fields = changed_fields(desired, current)
    if not fields:
        plan.actions.append(Action(UNCHANGED, *namespace.key, name, job_id=job["id"], spec=spec))
        return
    body = {key: spec.get(key, JOB_DEFAULTS.get(key)) for key in fields}
    changes: list[tuple[str, Any, Any]] = []
    for key in fields:
        if key in SUB_DIFFS and isinstance(desired[key], dict) and isinstance(current[key], dict):
            wanted, now = spec.get(key) or {}, job.get(key) or {}
            for sub in sorted(set(desired[key]) | set(current[key])):
                if desired[key].get(sub) != current[key].get(sub):
                    changes.append((f"{key}.{sub}", now.get(sub), wanted.get(sub)))
        elif key == "schedule" and isinstance(job.get(key), dict):
            changes.append((key, schedule_spec(job[key]), body[key]))  # as a file writes it
        else:
            changes.append((key, job.get(key), body[key]))
    action = Action(UPDATE, *namespace.key, name, job_id=job["id"], body=body, spec=spec)
    action.changes = changes
    action.payload_defaults = defaults
    _add(plan, action)


def _add(plan: Plan, action: Action) -> None:
    """Add a create or update, unless its script task has no content to send."""
    task = (action.body or {}).get("task")
    if isinstance(task, dict) and task_type(task) == "script":
        if "content" not in task:
            plan.problems.append(
                f"{action.label}: task: the file holds the script's sha256 only (as `sched "
                "export` writes it); give content_file to create or change this script task"
            )
            return
        action.body["task"] = {k: v for k, v in task.items() if k not in _STORED_SCRIPT}
    plan.actions.append(action)


def shown(value: Any) -> str:
    """A value in a diff: compact JSON, cut at 200 characters."""
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    return text if len(text) <= 200 else text[:199] + "…"


def diff_lines(plan: Plan, *, verbose: bool) -> list[str]:
    """`+ created`, `~ changed` (with each field when verbose), `- canceled` lines."""
    lines = []
    for action in plan.writes():
        if action.kind == CREATE:
            lines.append(f"+ {action.label}")
            if verbose:
                lines.extend(f"    {key}: {shown(value)}" for key, value in action.body.items())
        elif action.kind == UPDATE:
            lines.append(f"~ {action.label}")
            if verbose:
                for key, now, wanted in action.changes:
                    lines.append(f"    {key}: {shown(now)} -> {shown(wanted)}")
        else:
            lines.append(f"- {action.label} (id {action.job_id}, canceled: not in the files)")
    return lines
