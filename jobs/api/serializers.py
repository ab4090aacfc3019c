"""Input and output shapes of the job API."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.utils import timezone
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied

from executors.registry import get_executor, known_types
from jobs.fields import (
    AnyJSONField,
    CachedFieldsMixin,
    DurationSecondsField,
    StrictSerializer,
    unknown_fields,
)
from jobs.limits import Limits
from jobs.models import Concurrency, Job, Run
from jobs.retry import RetryError, parse_retry
from jobs.schedules import Schedule, ScheduleError, get_zone, parse_schedule
from jobs.selectors import run_counts

from .links import absolute_link
from .rule_serializers import NotifySerializer, notify_errors, notify_field

# max_runs is stored in a PositiveIntegerField (a 32-bit integer on PostgreSQL).
MAX_RUNS_LIMIT = 2**31 - 1
MAX_PAUSE_AFTER_FAILURES = 1000
# Fields only recurring schedules take.
RECURRING_FIELDS = ("start_at", "end_at", "max_runs", "pause_after_failures")
SCHEDULE_HELP = (
    '"now", an ISO 8601 date-time, a delay ("30s", "1h30m", "in 2m", "PT90S"), '
    '{"every": "10m"}, {"interval": {"minutes": 5}} or {"cron": "*/5 * * * *"}'
)


def validate_task(value: Any, *, user=None) -> dict[str, Any]:
    """Validate a task object with its type's serializer; return it normalized.

    Raises PermissionDenied (403) when `user` may not create this kind of task.
    """
    if not isinstance(value, dict):
        raise serializers.ValidationError("Expected an object with the task's fields.")
    task_type = value.get("type")
    if task_type is None and "uri" in value:
        task_type = "http"  # the minimal body: a task with a uri is an HTTP task
    if task_type is None:
        raise serializers.ValidationError(_untyped_task_errors(value))
    if not isinstance(task_type, str) or task_type not in known_types():
        raise serializers.ValidationError(
            {"type": [f"Unknown task type {task_type!r}: use one of {', '.join(known_types())}."]}
        )
    executor = get_executor(task_type)
    if user is not None and executor.runs_code and not user.has_perm("jobs.run_code"):
        raise PermissionDenied(executor.permission_denied(value, user))
    serializer = executor.serializer_class(data=value)
    if not serializer.is_valid():
        raise serializers.ValidationError(serializer.errors)
    task = {**serializer.validated_data, "type": task_type}
    if user is not None:
        reason = executor.permission_denied(task, user)
        if reason:
            raise PermissionDenied(reason)
    limits = Limits.for_user(user)
    if limits is not None:
        problem = limits.timeout_error(task.get("timeout"))
        if problem:
            raise serializers.ValidationError({"timeout": [problem]})
        problem = limits.task_size_error(task)
        if problem:
            raise serializers.ValidationError(problem)
    return task


def _untyped_task_errors(task: dict[str, Any]) -> dict[str, list[str]]:
    """What to say of a task without a type (nor a `uri`, which makes it an HTTP task):
    its fields no task type has, first (`url`: did you mean `uri`?); else the type to give,
    named when only one type has all its fields."""
    fields = _task_fields()
    unknown = unknown_fields(task, set().union(*fields.values()))
    if unknown:
        return unknown
    fits = [f'"{name}"' for name, names in fields.items() if set(task) <= names]
    if len(fits) == 1:
        return {"type": [f"Give the task a type: {fits[0]} takes these fields."]}
    if 1 < len(fits) < len(fields):
        which = f"{', '.join(fits[:-1])} or {fits[-1]}"
        return {"type": [f"Give the task a type: {which} (they take these fields)."]}
    return {"type": [f"Give the task a type: one of {', '.join(known_types())}."]}


@cache
def _task_fields() -> dict[str, frozenset[str]]:
    """The fields of each task type's serializer."""
    return {name: frozenset(get_executor(name).serializer_class().fields) for name in known_types()}


def validate_schedule_fields(
    attrs: dict[str, Any], job: Job | None, errors: dict, limits: Limits | None = None
) -> None:
    """Parse schedule, start_at and end_at in the job's zone and check they fit together
    and within `limits` (None: no limits but the hard bounds of jobs.schedules).

    Raises a ValidationError with `errors` and its own findings, if any.
    """
    now = timezone.now()
    tz = attrs.get("timezone", job.timezone if job else "UTC")
    if "schedule" in attrs:
        problem = limits.cron_text_error(attrs["schedule"]) if limits else None
        try:
            if problem:
                raise ScheduleError(problem)
            attrs["schedule"] = parse_schedule(attrs["schedule"], timezone=tz, now=now)
            problem = limits.schedule_error(attrs["schedule"], now) if limits else None
            if problem:
                raise ScheduleError(problem)
        except ScheduleError as exc:
            errors["schedule"] = [str(exc)]
    elif job is not None and "timezone" in attrs:
        attrs["schedule"] = Schedule.from_json(job.schedule, timezone=tz)
    for field in ("start_at", "end_at"):
        if attrs.get(field) is not None:
            try:
                moment = parse_schedule(attrs[field], timezone=tz, now=now)
                if moment.kind != "once":
                    raise ScheduleError("Expected a date-time or a delay.")
                problem = limits.moment_error(moment.at, now) if limits else None
                if problem:
                    raise ScheduleError(problem)
                attrs[field] = moment.at
            except ScheduleError as exc:
                errors[field] = [str(exc)]
    if any(field in errors for field in ("schedule", "start_at", "end_at")):
        raise serializers.ValidationError(errors)
    schedule = attrs.get("schedule")
    recurring = schedule.recurring if schedule else (job.is_recurring if job else False)
    if not recurring:
        for field in RECURRING_FIELDS:
            if attrs.get(field) is not None:
                errors[field] = ["Only recurring schedules (every, interval, cron) take this."]
    start = attrs.get("start_at", job.start_at if job else None)
    end = attrs.get("end_at", job.end_at if job else None)
    if start and end and end <= start:
        errors["end_at"] = ["Must be after start_at."]
    elif end and end <= now and ("end_at" in attrs or "schedule" in attrs):
        errors["end_at"] = ["Must be in the future."]
    if errors:
        raise serializers.ValidationError(errors)


class JobInputSerializer(CachedFieldsMixin, StrictSerializer):
    """The body of POST /jobs and PATCH /jobs/{id}."""

    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    product = serializers.CharField(max_length=100, required=False, allow_blank=True)
    group = serializers.CharField(max_length=100, required=False, allow_blank=True)
    task = AnyJSONField(help_text="The work: an http, command, script, docker or catalog task.")
    schedule = AnyJSONField(help_text=f"When: {SCHEDULE_HELP}.")
    timezone = serializers.CharField(required=False, max_length=64)
    start_at = AnyJSONField(
        required=False,
        allow_null=True,
        help_text="Recurring jobs: first fire not before (date-time or delay).",
    )
    end_at = AnyJSONField(
        required=False,
        allow_null=True,
        help_text="Recurring jobs: no fire after (date-time or delay).",
    )
    max_runs = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_RUNS_LIMIT
    )
    timeout = DurationSecondsField(required=False, allow_null=True)
    retry = AnyJSONField(required=False, allow_null=True)
    concurrency = serializers.ChoiceField(choices=Concurrency.choices, required=False)
    misfire_grace = DurationSecondsField(required=False, allow_null=True, positive=False)
    payload = serializers.DictField(required=False)
    pause_after_failures = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_PAUSE_AFTER_FAILURES,
        help_text="Recurring jobs: pause after this many failed fires in a row (null: never).",
    )
    notify = notify_field()

    def validate_task(self, value):
        request = self.context.get("request")
        return validate_task(value, user=request.user if request else None)

    def validate_timezone(self, value: str) -> str:
        try:
            get_zone(value)
        except ScheduleError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value

    def validate_retry(self, value):
        try:
            return parse_retry(value)
        except RetryError as exc:
            if exc.field:
                raise serializers.ValidationError({exc.field: [str(exc)]}) from None
            raise serializers.ValidationError(str(exc)) from None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        job: Job | None = self.instance
        errors: dict[str, Any] = {}
        limits = Limits.for_user(_user(self))
        self._validate_task_with_job(attrs, job, errors)
        if attrs.get("notify"):
            # The job's rules send to its owner's channels (a change by an operator too).
            owner_id = job.owner_id if job else _user(self).id
            problems = notify_errors(attrs["notify"], owner_id)
            if problems:
                errors["notify"] = problems
        if limits is not None:
            _check_limits(attrs, limits, errors)
        validate_schedule_fields(attrs, job, errors, limits)
        return attrs

    def _validate_task_with_job(self, attrs, job: Job | None, errors: dict) -> None:
        """Checks that need the task and the rest of the job: payload, namespace."""
        namespace = self.context.get("namespace")
        if namespace is not None:
            for field, value in zip(("product", "group"), namespace, strict=True):
                if attrs.get(field, value) != value:
                    errors[field] = [f"This namespace's {field} is {value!r}."]
                attrs[field] = value
        task = attrs.get("task", job.task if job else None)
        if task is None or ("task" not in attrs and "payload" not in attrs):
            return
        executor = get_executor(task["type"])
        if namespace is not None:
            problem = executor.namespace_error(task, *namespace)
            if problem:
                errors.setdefault("task", {})["name"] = [problem]
        payload = attrs.get("payload", job.payload if job else {})
        try:
            attrs["payload"] = executor.validate_payload(task, payload)
        except serializers.ValidationError as exc:
            errors["payload"] = exc.detail

    def to_representation(self, instance):
        """A job as this serializer takes it: what the browsable API's PATCH form shows,
        which a PATCH takes back as it is (and which then changes nothing of its schedule:
        jobs.services.job_update)."""
        if isinstance(instance, Job):
            return job_as_input(instance)
        return super().to_representation(instance)

    def create(self, validated_data):  # pragma: no cover - the views call services
        raise NotImplementedError


def job_as_input(job: Job) -> dict[str, Any]:
    """The job's writable fields, each in a form the API takes (the schedule as given, not
    its stored form; durations as text). The task is left out when its stored form is not
    one a create takes (a script's content is stored apart: send it again to change it)."""
    fields = {
        "name": job.name,
        "product": job.product,
        "group": job.group,
        "task": job.task,
        "schedule": _schedule_as_input(job.schedule),
        "timezone": job.timezone,
        "start_at": job.start_at.isoformat() if job.start_at else None,
        "end_at": job.end_at.isoformat() if job.end_at else None,
        "max_runs": job.max_runs,
        "timeout": DurationSecondsField().to_representation(job.timeout)
        if job.timeout is not None
        else None,
        "retry": job.retry or None,
        "concurrency": job.concurrency,
        "misfire_grace": DurationSecondsField().to_representation(job.misfire_grace)
        if job.misfire_grace is not None
        else None,
        "payload": job.payload,
        "pause_after_failures": job.pause_after_failures,
        "notify": [
            {"channel": str(rule.channel_id), "on": rule.on, "every_failure": rule.every_failure}
            for rule in job.notify_rules.all()
        ],
    }
    if not get_executor(job.type).serializer_class(data=job.task).is_valid():
        del fields["task"]
    return fields


def _schedule_as_input(stored: dict[str, Any]) -> Any:
    """A stored schedule (Schedule.to_json) as the API takes it."""
    if stored.get("kind") == "once":
        return stored.get("at")
    if stored.get("kind") == "interval":
        return {"every": stored.get("every")}
    return {"cron": stored.get("cron")}


def _user(serializer):
    request = serializer.context.get("request")
    return request.user if request is not None else None


def _check_limits(attrs: dict[str, Any], limits: Limits, errors: dict) -> None:
    """The job-level fields' limits (the task's are checked with the task)."""
    checks = {
        "timeout": lambda: limits.timeout_error(attrs.get("timeout")),
        "misfire_grace": lambda: limits.misfire_grace_error(attrs.get("misfire_grace")),
        "payload": lambda: limits.payload_size_error(attrs.get("payload")),
    }
    for field, check in checks.items():
        problem = check() if attrs.get(field) is not None else None
        if problem:
            errors[field] = [problem]
    if attrs.get("retry") is not None:
        retry_errors = limits.retry_errors(attrs["retry"])
        if retry_errors:
            errors["retry"] = retry_errors


class RunSummarySerializer(CachedFieldsMixin, serializers.ModelSerializer):
    link = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = [
            "id",
            "link",
            "status",
            "attempt",
            "trigger",
            "due_at",
            "started_at",
            "finished_at",
            "error",
        ]
        read_only_fields = fields

    def get_link(self, run: Run) -> str:
        return absolute_link(self.context, f"/api/v1/runs/{run.id}")


class RunListSerializer(RunSummarySerializer):
    """A run in GET /runs: its summary and which job it is of (its result is in GET
    /runs/{id}: a page of 500 runs' outputs would be megabytes)."""

    job = serializers.PrimaryKeyRelatedField(read_only=True)
    job_name = serializers.CharField(source="job.name", read_only=True)
    job_link = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = [
            "id",
            "link",
            "job",
            "job_name",
            "job_link",
            "status",
            "attempt",
            "trigger",
            "due_at",
            "started_at",
            "finished_at",
            "error",
        ]
        read_only_fields = fields

    def get_job_link(self, run: Run) -> str:
        return absolute_link(self.context, f"/api/v1/jobs/{run.job_id}")


class RunSerializer(RunListSerializer):
    """One run with everything it recorded (GET /runs/{id})."""

    class Meta:
        model = Run
        fields = [
            "id",
            "link",
            "job",
            "job_link",
            "job_revision",
            "status",
            "attempt",
            "trigger",
            "idempotency_key",
            "due_at",
            "queued_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
            "worker",
            "result",
            "error",
        ]
        read_only_fields = fields


class JobSerializer(CachedFieldsMixin, serializers.ModelSerializer):
    link = serializers.SerializerMethodField()
    owner = serializers.CharField(source="owner.username", read_only=True)
    schedule_description = serializers.CharField(source="schedule_text", read_only=True)
    timeout = DurationSecondsField(read_only=True, allow_null=True)
    misfire_grace = DurationSecondsField(read_only=True, allow_null=True)
    last_run = RunSummarySerializer(read_only=True, allow_null=True)
    counts = serializers.SerializerMethodField()
    notify = NotifySerializer(source="notify_rules", many=True, read_only=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "link",
            "name",
            "owner",
            "product",
            "group",
            "type",
            "task",
            "payload",
            "schedule",
            "schedule_description",
            "timezone",
            "start_at",
            "end_at",
            "max_runs",
            "timeout",
            "retry",
            "concurrency",
            "misfire_grace",
            "status",
            "status_reason",
            "next_run_at",
            "revision",
            "fire_count",
            "last_run",
            "counts",
            "health",
            "consecutive_failures",
            "pause_after_failures",
            "notify",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_link(self, job: Job) -> str:
        return absolute_link(self.context, f"/api/v1/jobs/{job.id}")

    def get_counts(self, job: Job) -> dict[str, int]:
        counts = getattr(job, "run_counts", None)
        if counts is None:
            counts = run_counts(job)
        return counts


class SchedulePreviewSerializer(CachedFieldsMixin, StrictSerializer):
    schedule = AnyJSONField()
    timezone = serializers.CharField(required=False, default="UTC")
    start_at = AnyJSONField(required=False, allow_null=True)
    end_at = AnyJSONField(required=False, allow_null=True)
    max_runs = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_RUNS_LIMIT
    )
    count = serializers.IntegerField(required=False, default=10, min_value=1, max_value=100)

    validate_timezone = JobInputSerializer.validate_timezone

    def validate(self, attrs):
        validate_schedule_fields(attrs, None, {}, Limits.for_user(_user(self)))
        return attrs
