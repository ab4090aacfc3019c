"""What waits in a Celery queue on Redis, decoded: for the tests and the benchmarks."""

from __future__ import annotations

import base64
import json


def messages(broker, queue: str) -> list[dict]:
    """The Celery messages waiting in a queue, oldest first, body decoded."""
    found = []
    for raw in reversed(broker.lrange(queue, 0, -1)):
        message = json.loads(raw)
        message["body"] = json.loads(base64.b64decode(message["body"]))
        found.append(message)
    return found


def run_ids(message: dict) -> list[str]:
    """The runs of a message: one for jobs.execute_run, several for a bundle
    (jobs.execute_runs: run ids, due times)."""
    args = message["body"][0]
    return args[0] if message["headers"]["task"] == "jobs.execute_runs" else args


def queued(broker, queue: str = "http") -> int:
    """Runs waiting in a Celery queue on Redis (of every priority)."""
    keys = (key for key in broker.scan_iter(f"{queue}*") if broker.type(key) == b"list")
    return sum(len(run_ids(message)) for key in keys for message in messages(broker, key))
