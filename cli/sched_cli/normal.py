"""The normal form of a job's managed fields: equal forms mean `apply` has nothing to write.

The API normalizes what it stores ({"every": 600} becomes {"kind": "interval", "every":
"10m"}, a missing retry the default policy). A file's job and the server's are brought to
one form here (durations in milliseconds, instants in UTC, defaults filled in, rules
sorted) so that applying a file twice writes nothing the second time. A value that cannot
be read (a typo) stays as given: it differs, the write sends it, and the server's 400
names the field.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime
from typing import Any

from .durations import parse_ms
from .normal_task import normal_task

# The fields a job file manages, in the order a diff shows them. Status is not one of them:
# apply never pauses or resumes (a job paused for its failures stays paused).
MANAGED = (
    "name",
    "task",
    "payload",
    "schedule",
    "timezone",
    "start_at",
    "end_at",
    "max_runs",
    "timeout",
    "retry",
    "concurrency",
    "misfire_grace",
    "pause_after_failures",
    "notify",
)
# What a job is when the file leaves a field out: a write of these resets the field.
JOB_DEFAULTS: dict[str, Any] = {
    "payload": {},
    "timezone": "UTC",
    "start_at": None,
    "end_at": None,
    "max_runs": None,
    "timeout": None,
    "retry": None,
    "concurrency": "allow",
    "misfire_grace": None,
    "pause_after_failures": None,
    "notify": [],
}
RETRY_DEFAULTS = {
    "max_attempts": 1,
    "backoff": "exponential",
    "delay": "10s",
    "max_delay": "10m",
    "jitter": 0.1,
}
DEFAULT_EVENTS = ["failure", "recovery"]
# "now", "30s", "in 2m": a moment fixed when the job was written. It matches whatever
# moment the server holds (re-applying "in 1h" must not move the job every time).
RELATIVE = "(relative)"
_DATETIME_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}[tT ]\d{2}:\d{2}")


def normal_job(job: dict[str, Any], payload_defaults: dict[str, Any] | None = None) -> dict:
    """The managed fields of `job` (a file's job or the API's) in normal form.

    `payload_defaults`: the defaults a catalog task's payload schema gives (GET /catalog).
    """
    full = {**JOB_DEFAULTS, **{key: value for key, value in job.items() if key in MANAGED}}
    zone = full["timezone"] if isinstance(full["timezone"], str) else "UTC"
    payload = full["payload"]
    if isinstance(payload, dict) and payload_defaults:
        payload = {**payload_defaults, **payload}
    return {
        "name": full.get("name", ""),
        "task": normal_task(full.get("task")),
        "payload": payload,
        "schedule": normal_schedule(full.get("schedule"), zone),
        "timezone": full["timezone"],
        "start_at": normal_moment(full["start_at"], zone),
        "end_at": normal_moment(full["end_at"], zone),
        "max_runs": full["max_runs"],
        "timeout": _duration(full["timeout"]),
        "retry": normal_retry(full["retry"]),
        "concurrency": full["concurrency"],
        "misfire_grace": _duration(full["misfire_grace"]),
        "pause_after_failures": full["pause_after_failures"],
        "notify": normal_notify(full["notify"]),
    }


def changed_fields(desired: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The managed fields whose normal forms differ (RELATIVE matches any moment)."""
    return [field for field in MANAGED if not _same(desired[field], current[field])]


def _same(desired: Any, current: Any) -> bool:
    if desired == RELATIVE:
        return current is not None
    if isinstance(desired, dict) and desired.get("once") == RELATIVE:
        return isinstance(current, dict) and "once" in current
    return desired == current


def _duration(value: Any) -> Any:
    if value is None:
        return None
    try:
        return parse_ms(value)
    except ValueError:
        return value


def normal_schedule(value: Any, zone: str) -> Any:
    """{"once": instant | RELATIVE}, {"every": ms} or {"cron": expression}."""
    if isinstance(value, dict) and "kind" in value:  # the API's stored form
        kind = value["kind"]
        if kind == "once":
            return {"once": normal_moment(value.get("at"), zone)}
        if kind == "interval":
            return {"every": _duration(value.get("every"))}
        return {"cron": _cron(value.get("cron"))}
    if isinstance(value, str):
        return {"once": normal_moment(value, zone)}
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "cron":
            return {"cron": _cron(arg)}
        if key == "every":
            return {"every": _duration(arg)}
        if key == "interval" and isinstance(arg, dict):
            try:
                units = {"weeks": 604_800, "days": 86_400, "hours": 3600, "minutes": 60}
                seconds = sum(float(arg[k]) * units.get(k, 1) for k in arg)
                return {"every": round(seconds * 1000)}
            except (TypeError, ValueError):
                return value
    return value


def _cron(expression: Any) -> Any:
    """One space between fields; a macro in lower case (as the server keeps them)."""
    if not isinstance(expression, str):
        return expression
    fields = expression.split()
    if len(fields) == 1 and fields[0].startswith("@"):
        return fields[0].lower()
    return " ".join(fields)


def normal_moment(value: Any, zone: str) -> Any:
    """An ISO instant in UTC; RELATIVE for "now" or a delay; None stays None."""
    if value is None or not isinstance(value, str):
        return value
    text = value.strip()
    if not _DATETIME_SHAPE.match(text):
        return RELATIVE  # "now", "30s", "in 1h": the server turns it into a moment
    try:
        moment = datetime.fromisoformat(text)
        if moment.utcoffset() is None:
            moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(zone))
        return moment.astimezone(UTC).isoformat()
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        return value


def normal_retry(value: Any) -> Any:
    """The whole policy, defaults filled in (null is the default policy)."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        return value
    full = {**RETRY_DEFAULTS, **value}
    for key in ("delay", "max_delay"):
        full[key] = _duration(full[key])
    try:
        full["jitter"] = float(full["jitter"])
    except (TypeError, ValueError):
        pass
    return full


def normal_notify(rules: Any) -> Any:
    """A job's rules with defaults, sorted (their order means nothing to the server)."""
    if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
        return rules
    full = []
    for rule in rules:
        on = rule.get("on", DEFAULT_EVENTS)
        full.append(
            {
                "channel": str(rule.get("channel", "")).lower(),
                "on": sorted(on) if isinstance(on, list) else on,
                "every_failure": rule.get("every_failure", False),
                **{k: v for k, v in rule.items() if k not in ("channel", "on", "every_failure")},
            }
        )
    return sorted(full, key=repr)
