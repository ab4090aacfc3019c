"""Built-in catalog tasks."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import serializers

from jobs.fields import DurationSecondsField, StrictSerializer

from .base import CatalogTask, TaskContext

# The permission of the maintenance tasks, which act on every user's data.
MAINTENANCE = "jobs.run_maintenance"


class EchoPayload(StrictSerializer):
    message = serializers.CharField(max_length=10_000, required=False, default="")


class Echo(CatalogTask):
    """Record the payload's message: a no-op for testing schedules and wiring."""

    name = "sched.echo"
    product = "sched"
    group = "tools"
    description = "Record the payload's message as the run's result."
    payload_serializer = EchoPayload

    def run(self, context: TaskContext) -> dict:
        return {"message": context.payload.get("message", ""), "attempt": context.attempt}


class SleepPayload(StrictSerializer):
    # A sleeping run holds a worker thread: an hour is enough for a stand-in.
    seconds = serializers.FloatField(min_value=0, max_value=3600)


class Sleep(CatalogTask):
    """Wait, stopping early at the timeout: a stand-in for long work."""

    name = "sched.sleep"
    product = "sched"
    group = "tools"
    description = "Wait `seconds`, honouring the job's timeout."
    payload_serializer = SleepPayload

    def run(self, context: TaskContext) -> dict:
        waited = context.stop.wait(context.payload["seconds"])
        return {"slept": context.payload["seconds"], "interrupted": waited}


class PruneRunsPayload(StrictSerializer):
    older_than = DurationSecondsField(help_text="Delete finished runs older than this, e.g. 30d.")
    batch = serializers.IntegerField(min_value=1, max_value=100_000, default=10_000)


class PruneRuns(CatalogTask):
    """Delete old finished run records, keeping each job's latest run."""

    name = "sched.prune_runs"
    product = "sched"
    group = "maintenance"
    description = "Delete finished runs older than `older_than` (each job keeps its last run)."
    payload_serializer = PruneRunsPayload
    permission = MAINTENANCE  # deletes every user's run history

    def run(self, context: TaskContext) -> dict:
        from jobs.models import Job, Run
        from jobs.states import FINISHED_RUN_STATUSES

        cutoff = timezone.now() - timedelta(seconds=context.payload["older_than"])
        keep = Job.objects.exclude(last_run=None).values("last_run_id")
        old = (
            Run.objects.filter(status__in=FINISHED_RUN_STATUSES, finished_at__lt=cutoff)
            .exclude(id__in=keep)
            .values_list("id", flat=True)[: context.payload["batch"]]
        )
        deleted, _ = Run.objects.filter(id__in=list(old)).delete()
        return {"deleted": deleted, "cutoff": cutoff.isoformat()}


class PruneScriptsPayload(StrictSerializer):
    older_than = DurationSecondsField(
        positive=False, default=86_400.0, help_text="Only files stored longer ago than this."
    )


class PruneScripts(CatalogTask):
    """Delete stored script uploads that no job refers to any more."""

    name = "sched.prune_scripts"
    product = "sched"
    group = "maintenance"
    description = (
        "Delete stored scripts no job refers to (left by changed or failed uploads), "
        "once older than `older_than`."
    )
    payload_serializer = PruneScriptsPayload
    permission = MAINTENANCE  # deletes files of every user's jobs

    ROOT = "scripts"

    def run(self, context: TaskContext) -> dict:
        from django.core.files.storage import default_storage

        from jobs.models import Job

        cutoff = timezone.now() - timedelta(seconds=context.payload["older_than"])
        referenced = set(
            Job.objects.filter(type="script").values_list("task__content_path", flat=True)
        )
        deleted = kept = 0
        # No exists() check first: on S3 a folder is a key prefix, not an object, and
        # exists("scripts") is False there (this task never pruned a bucket).
        try:
            folders, _ = default_storage.listdir(self.ROOT)
        except FileNotFoundError:  # local storage before the first upload
            folders = []
        for folder in folders:
            _, files = default_storage.listdir(f"{self.ROOT}/{folder}")
            for name in files:
                path = f"{self.ROOT}/{folder}/{name}"
                if path in referenced or default_storage.get_modified_time(path) > cutoff:
                    kept += 1
                    continue
                default_storage.delete(path)
                deleted += 1
        return {"deleted": deleted, "kept": kept}
