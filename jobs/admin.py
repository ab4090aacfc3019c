"""The operators' view: jobs with their state and runs, runs with their output, workers.

What it shows is what happened: states as coloured badges, times to the second with their
zone, durations (jobs/display.py). Jobs are created through the API; runs are records,
never added, changed or deleted here. Deleting a job cancels it, as the API's DELETE does:
the job and its runs stay.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from executors.registry import queue_for

from . import access, services
from .display import ADMIN_CSS, badge, cut, elapsed, name, short, show_time, time_cell, words
from .models import Job, JobStatus, Run, WorkerProcess

# What the admin says when its delete cancels a job.
CANCELED_NOTE = "jobs are kept with their runs; the API's DELETE does the same"


def run_result(run: Run) -> str:
    """A run's status as a badge, with the HTTP status code when there is one."""
    code = run.result.get("status_code") if isinstance(run.result, dict) else None
    text = f"{run.status} {code}" if code is not None else run.status
    return badge(run.status, text, title=run.error[:300])


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    # Chosen to fit a 1,400 px window with the filters beside it: long values are cut, the
    # whole value in their tooltip. Type, product, group and creation time are filters
    # instead (and on the job's page).
    list_display = [
        "job",
        "status_badge",
        "health_badge",
        "schedule_description",
        "next_run",
        "last_run_time",
        "last_result",
        "duration",
        "owner_name",
    ]
    list_filter = ["status", "health", "type", "schedule_kind", "product", "group"]
    search_fields = ["id", "name", "product", "group", "owner__username"]
    list_select_related = ["owner", "last_run"]
    date_hierarchy = "created_at"
    # The job's page: where it stands first, then what it runs and when; the labels are
    # all an operator may edit (get_readonly_fields).
    fieldsets = [
        (None, {"fields": ["name", "product", "group", "owner", "id"]}),
        (
            "State",
            {
                "fields": [
                    "status_badge",
                    "status_reason",
                    "health_badge",
                    "schedule_text",
                    "next_run_at",
                    "last_run",
                    "fire_count",
                    "recent_runs",
                ]
            },
        ),
        ("What it runs", {"fields": ["type", "task", "payload", "timeout", "retry"]}),
        (
            "When",
            {
                "fields": [
                    "schedule",
                    "timezone",
                    "start_at",
                    "end_at",
                    "max_runs",
                    "anchor_at",
                    "misfire_grace",
                    "concurrency",
                    "pause_after_failures",
                ]
            },
        ),
        (
            "Bookkeeping",
            {
                "classes": ["collapse"],
                "fields": [
                    "schedule_kind",
                    "revision",
                    "consecutive_failures",
                    "created_at",
                    "updated_at",
                ],
            },
        ),
    ]
    readonly_fields = ["status_badge", "health_badge", "recent_runs"]
    RECENT_RUNS = 20
    actions = ["pause", "resume", "cancel", "run_now"]
    delete_confirmation_template = "admin/jobs/job/cancel_confirmation.html"

    class Media:
        css = {"all": [ADMIN_CSS]}

    def get_readonly_fields(self, request, obj=None):
        # Scheduling goes through the services (the API or the actions here), which keep
        # next_run_at and the revision right; the admin edits labels only.
        editable = {"name", "product", "group"}
        return list(self.readonly_fields) + [
            f.name for f in Job._meta.fields if f.name not in editable
        ]

    def has_add_permission(self, request) -> bool:
        return False  # jobs are created through the API, which validates them

    def get_queryset(self, request):
        # The API's rules: is_staff alone shows only one's own jobs (jobs.access).
        jobs = super().get_queryset(request)
        return jobs if access.sees_all_jobs(request.user) else jobs.filter(owner=request.user)

    # -- deleting is canceling

    def has_delete_permission(self, request, obj=None) -> bool:
        # Only where canceling is allowed (jobs.access), and never twice.
        if not super().has_delete_permission(request, obj):
            return False
        if obj is None:
            return True
        return obj.status != JobStatus.CANCELED and not access.action_denied(
            request.user, obj, "cancel"
        )

    def get_actions(self, request):
        # "Cancel selected jobs" is the bulk delete: Django's would list runs to delete.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_deleted_objects(self, objs, request):
        # Nothing is deleted, so nothing needs a delete permission or is in the way.
        return [str(job) for job in objs], {}, set(), []

    def delete_view(self, request, object_id, extra_context=None):
        context = {"title": "Cancel job", **(extra_context or {})}
        return super().delete_view(request, object_id, context)

    def log_deletions(self, request, queryset):
        for job in queryset:
            self.log_change(request, job, f"Canceled by the admin's delete ({CANCELED_NOTE}).")

    def delete_model(self, request, obj: Job) -> None:
        services.job_cancel(job=obj)

    def delete_queryset(self, request, queryset) -> None:
        for job in queryset:
            if not access.action_denied(request.user, job, "cancel"):
                services.job_cancel(job=job)

    def response_delete(self, request, obj_display, obj_id):
        self.message_user(request, f"Canceled “{obj_display}” ({CANCELED_NOTE}).", messages.SUCCESS)
        # Back to the job, which now says canceled.
        return HttpResponseRedirect(reverse("admin:jobs_job_change", args=[obj_id]))

    # -- actions

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

    # -- columns

    @admin.display(description="job", ordering="name")
    def job(self, job: Job) -> str:
        # The tooltip: the whole name and the id (what the API and the search take).
        return name(job, tip=f"{job.name}\n{job.id}" if job.name else str(job.id))

    @admin.display(description="status", ordering="status")
    def status_badge(self, job: Job) -> str:
        return badge(job.status, title=job.status_reason)

    @admin.display(description="health", ordering="health")
    def health_badge(self, job: Job) -> str:
        failures = job.consecutive_failures
        text = f"{job.health} ({failures})" if failures else job.health
        return badge(job.health, text, title=f"{failures} consecutive failed fire(s)")

    # Not `schedule`: a model field of that name would be shown instead (its JSON).
    @admin.display(description="schedule", ordering="schedule_text")
    def schedule_description(self, job: Job) -> str:
        text = job.schedule_text
        if len(text) <= 40:
            return words(text)
        return format_html('<span title="{}">{}</span>', text, words(cut(text, 40)))

    @admin.display(description="next run", ordering="next_run_at")
    def next_run(self, job: Job) -> str:
        return time_cell(job.next_run_at)

    @admin.display(description="last run", ordering="last_run__due_at")
    def last_run_time(self, job: Job) -> str:
        run = job.last_run
        return time_cell(run and (run.started_at or run.due_at))

    @admin.display(description="last result")
    def last_result(self, job: Job) -> str:
        return "-" if job.last_run is None else run_result(job.last_run)

    @admin.display(description="duration")
    def duration(self, job: Job) -> str:
        run = job.last_run
        return "-" if run is None else elapsed(run.started_at, run.finished_at)

    @admin.display(description="owner", ordering="owner__username")
    def owner_name(self, job: Job) -> str:
        return name(job.owner.get_username(), length=12, narrow=True)

    @admin.display(description="recent runs")
    def recent_runs(self, job: Job) -> str:
        """The newest runs, with a link to all of them (an inline would load every run)."""
        runs = job.runs.order_by("-due_at", "-attempt")[: self.RECENT_RUNS]
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    reverse("admin:jobs_run_change", args=[run.id]),
                    show_time(run.due_at),
                    run.attempt,
                    run.trigger,
                    run_result(run),
                    elapsed(run.started_at, run.finished_at),
                    short(run.worker, 24),
                    short(run.error, 80),
                )
                for run in runs
            ),
        )
        everything = reverse("admin:jobs_run_changelist") + f"?job__id__exact={job.id}"
        return format_html(
            "<table><tr><th>due</th><th>attempt</th><th>trigger</th><th>status</th>"
            "<th>duration</th><th>worker</th><th>error</th></tr>{}</table>"
            '<a href="{}">all runs of this job</a>',
            rows,
            everything,
        )


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    """Runs are what happened: read-only (Django renders no save row), never added (the
    scheduler makes them) and never deleted (the history the API serves)."""

    list_display = [
        "run",
        "job_name",
        "status_badge",
        "attempt",
        "trigger",
        "due",
        "started",
        "duration",
        "queue",
        "worker_short",
    ]
    list_filter = ["status", "trigger", "job__type"]
    search_fields = ["id", "job__id", "job__name", "worker", "error"]
    list_select_related = ["job"]
    date_hierarchy = "due_at"
    # Newest first by due time alone (Django adds the key to break ties): sorting by the
    # attempt too would widen its heading with sort arrows for nothing.
    ordering = ["-due_at"]
    fields = [
        "job",
        "status_badge",
        "attempt",
        "trigger",
        "due_at",
        "queued_at",
        "started_at",
        "finished_at",
        "duration",
        "heartbeat_at",
        "queue",
        "worker",
        "result",
        "error",
        "id",
        "job_revision",
        "idempotency_key",
        "created_at",
    ]
    readonly_fields = fields

    class Media:
        css = {"all": [ADMIN_CSS]}

    def get_queryset(self, request):
        runs = super().get_queryset(request).select_related("job")
        return runs if access.sees_all_jobs(request.user) else runs.filter(job__owner=request.user)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The page's title names the run ("Run of <job> @ <due> #<attempt>"), not "View run".
        run = self.get_object(request, object_id)
        title = {"title": str(run), "subtitle": None} if run is not None else {}
        return super().change_view(request, object_id, form_url, {**title, **(extra_context or {})})

    @admin.display(description="run", ordering="id")
    def run(self, run: Run) -> str:
        return short(run.id, 9)

    @admin.display(description="job", ordering="job__name")
    def job_name(self, run: Run) -> str:
        link = reverse("admin:jobs_job_change", args=[run.job_id])
        return format_html('<a href="{}">{}</a>', link, name(run.job))

    @admin.display(description="status", ordering="status")
    def status_badge(self, run: Run) -> str:
        return run_result(run)

    @admin.display(description="due", ordering="due_at")
    def due(self, run: Run) -> str:
        return time_cell(run.due_at)

    @admin.display(description="started", ordering="started_at")
    def started(self, run: Run) -> str:
        return time_cell(run.started_at)

    @admin.display(description="duration")
    def duration(self, run: Run) -> str:
        return elapsed(run.started_at, run.finished_at)

    @admin.display(description="queue")
    def queue(self, run: Run) -> str:
        try:
            return queue_for(run.job.type)
        except KeyError:  # a type this version does not know
            return "-"

    @admin.display(description="worker", ordering="worker")
    def worker_short(self, run: Run) -> str:
        return short(run.worker or "-", 20)


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
