"""Small builders for API bodies."""

from __future__ import annotations

from typing import Any

TARGET = "http://127.0.0.1:9/hook"  # never contacted: these tests stop before the worker


def http_job(schedule: Any = "in 1h", **extra: Any) -> dict[str, Any]:
    return {
        "task": {"method": "POST", "uri": TARGET, "body": {"a": 1}},
        "schedule": schedule,
        **extra,
    }
