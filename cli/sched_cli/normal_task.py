"""The normal form of a task: each type's defaults filled in, values as the API stores them.

The server's serializers (executors/*.py) fill defaults and normalize a few values; these
are the same rules, so a file's minimal task and the API's full one compare equal. An
integration test (tests/integration/test_cli_normal_forms.py) creates a task of each type
and checks the server's answer has this normal form: a new default on the server fails it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
from typing import Any

from .durations import parse_ms

# What the server fills in when a task leaves a key out; None means "absent".
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "http": {"method": "GET", "headers": {}, "body": None, "expected_range": "200-299"},
    "command": {"shell": False, "env": {}},
    "script": {"filename": "script", "args": [], "env": {}},
    "docker": {"env": {}, "pull": "missing", "network": "none"},
    "catalog": {},
}
# Keys the server writes that a file never gives (a stored script's location).
SERVER_ONLY = {"script": ("content_path",)}
_RANGE_PART = re.compile(r"([0-9]+)(?:\s*-\s*([0-9]+))?")
_MEMORY = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?\s*", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def task_type(task: dict[str, Any]) -> str | None:
    """The task's type; a task with a `uri` and no type is an HTTP task (as the API says)."""
    kind = task.get("type")
    if kind is None and "uri" in task:
        return "http"
    return kind


def normal_task(task: Any) -> Any:
    """`task` with its type's defaults and normalized values; what cannot be read stays."""
    if not isinstance(task, dict):
        return task
    kind = task_type(task)
    out = {**TASK_DEFAULTS.get(kind, {}), **task, "type": kind}
    for key in SERVER_ONLY.get(kind, ()):
        out.pop(key, None)
    _try(out, "timeout", parse_ms)
    if kind == "http":
        _try(out, "method", lambda method: method.upper())
        _try(out, "expected_range", normal_range)
    elif kind == "docker":
        _try(out, "memory", parse_memory)
        _try(out, "cpus", float)
    elif kind == "script" and "content" in out:
        _try(out, "content", _content_digest)
        if isinstance(out["content"], dict):
            out.update(out.pop("content"))
    # An absent key and a null one are the same to the API (a null default is absent).
    return {key: value for key, value in out.items() if value is not None}


def _try(task: dict[str, Any], key: str, convert) -> None:
    if task.get(key) is None:
        return
    try:
        task[key] = convert(task[key])
    except (ValueError, TypeError, AttributeError):
        pass  # left as given: it differs, and the server's 400 will name it


def _content_digest(content: str) -> dict[str, Any]:
    """What the server keeps of a script's content: its size and SHA-256."""
    try:
        data = base64.b64decode(content, validate=True)
    except (binascii.Error, TypeError) as exc:
        raise ValueError(str(exc)) from None
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def normal_range(value: Any) -> str:
    """An HTTP task's expected_range as the server stores it: sorted, merged, "200-299"."""
    items = value if isinstance(value, list) else [value]
    ranges: list[tuple[int, int]] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise ValueError(item)
        for part in [item] if isinstance(item, int) else item.split(","):
            if isinstance(part, int):
                ranges.append((part, part))
                continue
            match = _RANGE_PART.fullmatch(part.strip())
            if not match:
                raise ValueError(part)
            low = int(match[1])
            ranges.append((low, int(match[2]) if match[2] else low))
    if not ranges:
        raise ValueError(value)
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return ",".join(str(low) if low == high else f"{low}-{high}" for low, high in merged)


def parse_memory(value: Any) -> int:
    """A docker task's memory in bytes: 268435456, "256m", "1.5g", "256MiB"."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    match = _MEMORY.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(value)
    number, unit = match.groups()
    return math.floor(float(number) * _MEMORY_UNITS[unit.lower()])
