"""Jobs and their runs: the source of truth for what must run and what ran."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from jobs.display import show_time
from jobs.states import (  # noqa: F401  (re-exported: the rest of the code imports them here)
    ACTIVE_JOB_STATUSES,
    FINISHED_RUN_STATUSES,
    Concurrency,
    Event,
    Health,
    JobStatus,
    RunStatus,
    TaskType,
    Trigger,
)


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: job_owner_idx (owner, -created_at) serves it.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="jobs", db_index=False
    )
    name = models.CharField(max_length=200, blank=True, default="")
    product = models.CharField(max_length=100, blank=True, default="")
    group = models.CharField(max_length=100, blank=True, default="")

    type = models.CharField(max_length=16, choices=TaskType.choices)
    task = models.JSONField(help_text="The task, normalized (see the API docs per type).")
    payload = models.JSONField(default=dict, blank=True)

    schedule = models.JSONField(help_text="The schedule, normalized: once, interval or cron.")
    schedule_kind = models.CharField(max_length=16)
    schedule_text = models.CharField(max_length=300, blank=True, default="")
    timezone = models.CharField(max_length=64, default="UTC")
    start_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    max_runs = models.PositiveIntegerField(null=True, blank=True)
    anchor_at = models.DateTimeField(
        null=True, blank=True, help_text="First fire of the schedule; intervals count from it."
    )

    timeout = models.FloatField(null=True, blank=True, help_text="Seconds.")
    retry = models.JSONField(default=dict, blank=True)
    concurrency = models.CharField(
        max_length=8, choices=Concurrency.choices, default=Concurrency.ALLOW
    )
    misfire_grace = models.FloatField(null=True, blank=True, help_text="Seconds.")

    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.SCHEDULED)
    # Why the scheduler ended the job on its own (a fire time it cannot compute); empty else.
    status_reason = models.CharField(max_length=500, blank=True, default="")
    # NULL when the job will not fire again (paused, canceled, done).
    next_run_at = models.DateTimeField(null=True, blank=True)
    # Bumped by every change that invalidates planned fires (reschedule, pause, cancel).
    revision = models.PositiveIntegerField(default=1)
    fire_count = models.PositiveIntegerField(default=0)
    last_run = models.ForeignKey(
        "Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set by the end of each fire (jobs/health.py): its last attempt's outcome decides.
    health = models.CharField(max_length=8, choices=Health.choices, default=Health.UNKNOWN)
    consecutive_failures = models.PositiveIntegerField(
        default=0, help_text="Failed fires in a row since the last success or resume."
    )
    pause_after_failures = models.PositiveIntegerField(
        null=True, blank=True, help_text="Recurring jobs: pause after this many failed fires."
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["next_run_at"],
                name="job_due_idx",
                condition=Q(next_run_at__isnull=False),
            ),
            models.Index(fields=["owner", "-created_at"], name="job_owner_idx"),
            # Plain btree indexes for the API's and the admin's filters. `db_index=True` on a
            # CharField adds a second, varchar_pattern_ops index for LIKE 'x%', which nothing
            # here queries; every index costs each write of a job (planning a fire, a claim,
            # a finish are non-HOT updates: they add an entry to every index).
            models.Index(fields=["product"], name="job_product_idx"),
            models.Index(fields=["group"], name="job_group_idx"),
            models.Index(fields=["status"], name="job_status_idx"),
            # Failing jobs are few: a partial index serves "what is failing" without adding
            # an entry per write of a healthy job.
            models.Index(fields=["owner"], name="job_failing_idx", condition=Q(health="failing")),
        ]
        permissions = [
            ("run_code", "Can create jobs that run code (command, script, docker)"),
            (
                "unrestricted_egress",
                "HTTP jobs and webhooks may reach any address (loopback, link-local, ...)",
            ),
            ("run_maintenance", "Can create jobs of maintenance catalog tasks"),
            ("trusted_client", "Gets the higher API rate for creating jobs"),
            ("view_all_jobs", "Can see every user's jobs and runs (API and dashboard)"),
        ]

    def __str__(self) -> str:
        return self.name or str(self.id)

    @property
    def is_recurring(self) -> bool:
        return self.schedule_kind != "once"


class Run(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: run_job_idx (job, -due_at) serves it.
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="runs", db_index=False)
    job_revision = models.PositiveIntegerField()
    due_at = models.DateTimeField()
    attempt = models.PositiveIntegerField(default=1)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.SCHEDULE)
    # Shared by every attempt of one fire, sent as Idempotency-Key.
    idempotency_key = models.UUIDField()
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING)

    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True, default="")

    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-due_at", "-attempt"]
        constraints = [
            # One run per fire and attempt, whatever number of dispatchers plan it. A change
            # to the job bumps its revision, so a fire replanned after a change is a new key.
            models.UniqueConstraint(
                fields=["job", "job_revision", "due_at", "attempt"], name="run_one_per_fire"
            ),
        ]
        indexes = [
            models.Index(fields=["job", "-due_at"], name="run_job_idx"),
            # GET /runs, newest first across jobs: a page walks it and stops once full,
            # instead of sorting every run of the caller (jobs.selectors.runs_newest_first).
            models.Index(fields=["-due_at"], name="run_due_idx"),
            models.Index(
                fields=["due_at"],
                name="run_pending_idx",
                condition=Q(status="pending"),
            ),
            models.Index(
                fields=["heartbeat_at"],
                name="run_running_idx",
                condition=Q(status="running"),
            ),
        ]

    def __str__(self) -> str:
        # Names its job (a query unless the job is loaded: select it with the runs).
        return f"Run of {self.job} @ {show_time(self.due_at)} #{self.attempt}"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_RUN_STATUSES


class WorkerProcess(models.Model):
    """A worker process, kept by its heartbeat thread (jobs/heartbeat.py): alive while its
    `last_seen` is recent. Metrics count the live ones (workers alive, by queue); the admin
    lists them. A process that stops cleanly deletes its row; a dead one's row stays, with
    its last_seen, and is forgotten a day later."""

    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    name = models.CharField(max_length=255, blank=True, default="", help_text="Celery's node name.")
    queues = models.JSONField(default=list, blank=True, help_text="The queues it consumes.")
    concurrency = models.PositiveIntegerField(default=0, help_text="Runs it runs at once.")
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["host", "pid"], name="worker_process_one_per_pid"),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.host}:{self.pid}"


class IdempotencyKey(models.Model):
    """A create of a job sent with an `Idempotency-Key` header (jobs/idempotency.py).

    Unique per owner and key, and inserted in the transaction that creates the job: of two
    requests with one key, the second waits on the first's row and answers its job. Kept a
    day (jobs.idempotency.KEEP_FOR); beat purges older ones."""

    # No index of its own: the unique constraint's (owner, key) serves it.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    key = models.CharField(max_length=255)
    # SHA-256 of the request (method, path, body): another request under the key is a 422.
    fingerprint = models.CharField(max_length=64)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="idempotency_key_one_per_owner"),
        ]

    def __str__(self) -> str:
        return self.key
