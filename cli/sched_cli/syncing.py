"""What apply needs from the server before it plans: the caller's current jobs of each
namespace (one listing each, its pages fetched at once) and catalog payload defaults."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .client import Client, ns_path
from .normal_task import task_type
from .spec import Namespace

# Every status but canceled: a canceled job is history, and its name is free again.
LIVE_STATUSES = ["scheduled", "running", "paused", "succeeded", "failed", "completed"]


def current_jobs(
    client: Client, namespaces: list[Namespace], pool: ThreadPoolExecutor
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The caller's jobs in each namespace that are not canceled."""
    params = {"mine": "true", "status": LIVE_STATUSES}
    return {ns.key: client.every(ns_path(*ns.key), params, pool) for ns in namespaces}


def payload_defaults(client: Client, namespaces: list[Namespace]) -> dict[str, dict[str, Any]]:
    """Each catalog task's payload defaults (from its JSON schema), if a file uses one."""
    uses_catalog = any(
        isinstance(job.get("task"), dict) and task_type(job["task"]) == "catalog"
        for ns in namespaces
        for job in ns.jobs.values()
    )
    if not uses_catalog:
        return {}
    listing = client.get("/api/v1/catalog")
    defaults = {}
    for task in listing["results"]:
        properties = (task.get("payload_schema") or {}).get("properties") or {}
        defaults[task["name"]] = {
            key: prop["default"] for key, prop in properties.items() if "default" in prop
        }
    return defaults
