"""The operators' view: jobs with their state and runs, runs with their output, workers."""

from datetime import timedelta

from django.conf import settings
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from . import access, services
from .models import Job, Run, WorkerProcess


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "type",
        "status",
        "health",
        "consecutive_failures",
        "schedule_text",
        "next_run_at",
        "last_result",
        "product",
        "group",
        "owner",
        "created_at",
    ]
    list_filter = ["status", "health", "type", "schedule_kind", "product", "group"]
    search_fields = ["id", "name", "product", "group", "owner__username"]
    list_select_related = ["owner", "last_run"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "recent_runs",
        "id",
        "revision",
        "fire_count",
        "anchor_at",
        "last_run",
        "created_at",
        "updated_at",
        "schedule_text",
        "next_run_at",
        "status",
    ]
    RECENT_RUNS = 20
    actions = ["pause", "resume", "cancel", "run_now"]

    def get_readonly_fields(self, request, obj=None):
        # Scheduling goes through the services (the API or the actions here), which keep
        # next_run_at and the revision right; the admin edits labels only.
        if obj is None:
            return self.readonly_fields
        editable = {"name", "product", "group"}
        return list(self.readonly_fields) + [
            f.name
            for f in Job._meta.fields
            if f.name not in editable and f.name not in self.readonly_fields
        ]

    def has_add_permission(self, request) -> bool:
        return False  # jobs are created through the API, which validates them

    def get_queryset(self, request):
        # The API's rules: is_staff alone shows only one's own jobs (jobs.access).
        jobs = super().get_queryset(request)
        return jobs if access.sees_all_jobs(request.user) else jobs.filter(owner=request.user)

    def _each(self, request, queryset, service, verb: str, action: str) -> None:
        done = 0
        for job in queryset:
            denied = access.action_denied(request.user, job, action)
            if denied:
                self.message_user(request, f"{job}: {denied}", level="warning")
                continue
            try:
                service(job=job)
                done += 1
            except services.JobConflict as exc:
                self.message_user(request, f"{job}: {exc}", level="warning")
        self.message_user(request, f"{verb} {done} job(s).")

    @admin.action(description="Pause selected jobs")
    def pause(self, request, queryset):
        self._each(request, queryset, services.job_pause, "Paused", "pause")

    @admin.action(description="Resume selected jobs")
    def resume(self, request, queryset):
        self._each(request, queryset, services.job_resume, "Resumed", "resume")

    @admin.action(description="Cancel selected jobs")
    def cancel(self, request, queryset):
        self._each(request, queryset, services.job_cancel, "Canceled", "cancel")

    @admin.action(description="Run selected jobs now")
    def run_now(self, request, queryset):
        self._each(request, queryset, services.job_run_now, "Started", "run")

    @admin.display(description="recent runs")
    def recent_runs(self, job: Job) -> str:
        """The newest runs, with a link to all of them (an inline would load every run)."""
        runs = job.runs.order_by("-due_at", "-attempt")[: self.RECENT_RUNS]
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:jobs_run_change", args=[run.id]),
                    run.due_at,
                    run.attempt,
                    run.trigger,
                    run.status,
                    run.error[:120],
                )
                for run in runs
            ),
        )
        everything = reverse("admin:jobs_run_changelist") + f"?job__id__exact={job.id}"
        return format_html(
            "<table><tr><th>due</th><th>attempt</th><th>trigger</th><th>status</th>"
            '<th>error</th></tr>{}</table><a href="{}">all runs of this job</a>',
            rows,
            everything,
        )

    @admin.display(description="last result")
    def last_result(self, job: Job) -> str:
        run = job.last_run
        if run is None:
            return "-"
        code = run.result.get("status_code") if isinstance(run.result, dict) else None
        return f"{run.status} ({code})" if code is not None else run.status


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "job",
        "status",
        "attempt",
        "trigger",
        "due_at",
        "started_at",
        "finished_at",
        "worker",
    ]
    list_filter = ["status", "trigger", "job__type"]
    search_fields = ["id", "job__id", "job__name", "worker", "error"]
    list_select_related = ["job"]
    date_hierarchy = "due_at"

    def get_queryset(self, request):
        runs = super().get_queryset(request)
        return runs if access.sees_all_jobs(request.user) else runs.filter(job__owner=request.user)

    readonly_fields = [f.name for f in Run._meta.fields]


@admin.register(WorkerProcess)
class WorkerProcessAdmin(admin.ModelAdmin):
    """The worker processes, alive while seen within LOST_AFTER (what the metrics count),
    written by their heartbeat threads only."""

    list_display = [
        "__str__",
        "host",
        "pid",
        "queues",
        "concurrency",
        "started_at",
        "last_seen",
        "alive",
    ]
    ordering = ["-last_seen"]

    @admin.display(boolean=True)
    def alive(self, process: WorkerProcess) -> bool:
        lost_after = timedelta(seconds=settings.SCHED["LOST_AFTER"])
        return process.last_seen >= timezone.now() - lost_after

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
