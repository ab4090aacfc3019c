"""The states and kinds the service names: job and run statuses, triggers, task types.

A floor module: it imports only Django's TextChoices, so executors/ and catalog/ name
run statuses without importing the models; jobs.models re-exports every name here.
"""

from django.db import models


class JobStatus(models.TextChoices):
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    COMPLETED = "completed"
    CANCELED = "canceled"


# A job in one of these states may still fire.
ACTIVE_JOB_STATUSES = (JobStatus.SCHEDULED, JobStatus.RUNNING)


class Health(models.TextChoices):
    """What a job's last decided fire says: `unknown` until one ended."""

    OK = "ok"
    FAILING = "failing"
    UNKNOWN = "unknown"


class Event(models.TextChoices):
    """What a notification is about (docs/api.md, "Notifications")."""

    FAILURE = "failure"  # a fire's last attempt failed, timed out or was vetoed
    RECOVERY = "recovery"  # the first success after a failure
    SUCCESS = "success"
    MISSED = "missed"
    SKIPPED = "skipped"
    PAUSED = "paused"  # paused by pause_after_failures


class RunStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELED = "canceled"
    VETOED = "vetoed"
    SKIPPED = "skipped"
    MISSED = "missed"
    LOST = "lost"


FINISHED_RUN_STATUSES = tuple(
    s for s in RunStatus if s not in (RunStatus.PENDING, RunStatus.RUNNING)
)


class Trigger(models.TextChoices):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    RETRY = "retry"
    RECOVERY = "recovery"


class TaskType(models.TextChoices):
    HTTP = "http"
    COMMAND = "command"
    SCRIPT = "script"
    DOCKER = "docker"
    CATALOG = "catalog"


class Concurrency(models.TextChoices):
    ALLOW = "allow"
    FORBID = "forbid"
    REPLACE = "replace"
