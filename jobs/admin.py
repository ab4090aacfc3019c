"""The operators' view: jobs with their state and runs, runs with their output."""

from django.contrib import admin

from .models import Job, Run


class RunInline(admin.TabularInline):
    model = Run
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["-due_at", "-attempt"]
    fields = ["due_at", "attempt", "trigger", "status", "started_at", "finished_at", "error"]
    readonly_fields = fields
    max_num = 0

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-due_at", "-attempt")


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "type",
        "status",
        "schedule_text",
        "next_run_at",
        "last_result",
        "product",
        "group",
        "owner",
        "created_at",
    ]
    list_filter = ["status", "type", "schedule_kind", "product", "group"]
    search_fields = ["id", "name", "product", "group", "owner__username"]
    list_select_related = ["owner", "last_run"]
    date_hierarchy = "created_at"
    readonly_fields = [
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
    inlines = [RunInline]

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
    readonly_fields = [f.name for f in Run._meta.fields]
