"""What a notification says: the JSON body of webhooks, the text of Slack and email.

The body is made once, at the first attempt, and kept (Notification.body), so every
attempt sends the same bytes under the same Idempotency-Key.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from .models import Notification

TEST_EVENT = "test"

# Event -> the words after the job's name.
_SAID = {
    "failure": "failed",
    "recovery": "recovered",
    "success": "succeeded",
    "missed": "missed a fire",
    "skipped": "skipped a fire",
    "paused": "was paused after failing",
    TEST_EVENT: "test message",
}


def link(path: str) -> str:
    return settings.PUBLIC_URL.rstrip("/") + path


def body_of(notification: Notification) -> dict:
    """The webhook body: event, job, run, sent_at (docs/api.md, "Notifications")."""
    job, run = notification.job, notification.run
    return {
        "id": str(notification.id),
        "event": notification.event,
        "job": None
        if job is None
        else {
            "id": str(job.id),
            "name": job.name,
            "product": job.product,
            "group": job.group,
            "status": job.status,
            "health": job.health,
            "consecutive_failures": job.consecutive_failures,
            "link": link(f"/api/v1/jobs/{job.id}"),
        },
        "run": None
        if run is None
        else {
            "id": str(run.id),
            "status": run.status,
            "attempt": run.attempt,
            "due_at": _iso(run.due_at),
            "finished_at": _iso(run.finished_at),
            "error": run.error[:1000],
            "link": link(f"/api/v1/runs/{run.id}"),
        },
        "sent_at": _iso(timezone.now()),
    }


def summary(body: dict) -> tuple[str, str]:
    """(title, text) for people: Slack's text, an email's subject and body."""
    event = body["event"]
    if event == TEST_EVENT:
        title = "sched: test message"
        return title, f"{title}. This channel works."
    job, run = body["job"], body["run"]
    name = job["name"] or job["id"]
    title = f"sched: job {name} {_SAID.get(event, event)}"
    lines = [title + "."]
    if run is not None:
        lines.append(f"Run {run['id']} ({run['status']}, attempt {run['attempt']}): {run['link']}")
        if run["error"] and event in ("failure", "paused", "missed", "skipped"):
            lines.append(f"Error: {run['error']}")
    if event in ("failure", "paused"):
        lines.append(f"Failed fires in a row: {job['consecutive_failures']}.")
    lines.append(f"Job: {job['link']}")
    return title, "\n".join(lines)


def _iso(moment) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")
