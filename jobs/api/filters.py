import re
from datetime import UTC

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

from jobs.models import Health, Job, JobStatus, Run, RunStatus, TaskType


class JobFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=JobStatus.choices, help_text="Job status; repeat for several."
    )
    type = django_filters.MultipleChoiceFilter(
        choices=TaskType.choices, help_text="Task type; repeat for several."
    )
    product = django_filters.CharFilter(help_text="Product (exact).")
    group = django_filters.CharFilter(help_text="Group (exact).")
    name = django_filters.CharFilter(help_text="Name (exact).")
    name__contains = django_filters.CharFilter(
        field_name="name", lookup_expr="icontains", help_text="Part of the name, any case."
    )
    # No `distinct` (a job has one health and one last run: no join repeats a job).
    health = django_filters.MultipleChoiceFilter(
        choices=Health.choices, distinct=False, help_text="Health; repeat for several."
    )
    # The status of the run the job shows as `last_run`: the last one that finished.
    last_run_status = django_filters.MultipleChoiceFilter(
        field_name="last_run__status",
        choices=RunStatus.choices,
        distinct=False,
        help_text="Status of the job's last finished run; repeat for several.",
    )
    # Who sees every job (jobs.view_all_jobs) still needs "mine": `sched apply --prune` and
    # `sched export` act on the caller's jobs only, never on a colleague's of the same name.
    # A choice, not a BooleanFilter: that one reads `?mine=yes` as no filter at all.
    mine = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_mine",
        help_text="true: only the caller's own jobs; false: only other users' jobs.",
    )

    class Meta:
        model = Job
        fields = ["status", "type", "product", "group", "name", "health", "last_run_status"]

    def filter_mine(self, queryset, name, value):
        owned = {"owner_id": self.request.user.id}
        return queryset.filter(**owned) if value == "true" else queryset.exclude(**owned)


class UTCDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, turned to UTC before it reaches the database: PostgreSQL takes
    offsets up to 15:59 and Python up to 23:59, so `-23:00` would be a 500. One that leaves
    the years Python can hold once in UTC (`0001-01-01T00:00:00+01:00`) is a 400."""

    default_error_messages = {
        "invalid": "Expected an ISO 8601 date-time, such as 2030-01-31T08:00:00Z.",
    }
    # "2030-01-31T08:00:00 01:00": a "+" sent unencoded, which a query string reads as a space.
    _UNENCODED_PLUS = re.compile(r".*T[0-9:.]+ [0-9]{2}(:?[0-9]{2})?")

    def to_python(self, value):
        if isinstance(value, str) and self._UNENCODED_PLUS.fullmatch(value.strip()):
            raise forms.ValidationError(
                'Send the offset\'s "+" as %(plus)s: in a query string "+" means a space.',
                code="invalid",
                params={"plus": "%2B"},
            )
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError(
                "Out of range: from year 1 to 9999 in UTC.", code="invalid"
            ) from None


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


class RunFilterForm(forms.Form):
    """An empty window is a mistake to name (400 on `until`), not a list to answer empty."""

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since is not None and until is not None and since >= until:
            self.add_error("until", "Must be after since.")
        return cleaned


class RunFilter(django_filters.FilterSet):
    """GET /runs: a filter may repeat (`?status=failed&status=timed_out`), as the job list's.

    `since` (inclusive) and `until` (exclusive) bound the due time: ISO 8601, UTC when
    without an offset. A job id of a job the caller cannot see matches nothing, the same as
    an unknown one. No `distinct`: every filter is on the run or its one job, so no join
    repeats a run (SELECT DISTINCT would sort every matching run for each page).
    """

    status = django_filters.MultipleChoiceFilter(
        choices=RunStatus.choices, distinct=False, help_text="Run status; repeat for several."
    )
    job = django_filters.UUIDFilter(field_name="job_id", help_text="The runs of this job.")
    type = django_filters.MultipleChoiceFilter(
        field_name="job__type",
        choices=TaskType.choices,
        distinct=False,
        help_text="The job's task type; repeat for several.",
    )
    product = django_filters.CharFilter(field_name="job__product", help_text="The job's product.")
    group = django_filters.CharFilter(field_name="job__group", help_text="The job's group.")
    since = UTCDateTimeFilter(
        field_name="due_at",
        lookup_expr="gte",
        help_text="Runs due at or after this ISO 8601 date-time (UTC without an offset).",
    )
    until = UTCDateTimeFilter(
        field_name="due_at",
        lookup_expr="lt",
        help_text="Runs due before this ISO 8601 date-time (UTC without an offset).",
    )

    class Meta:
        model = Run
        fields = ["status", "job", "type", "product", "group", "since", "until"]
        form = RunFilterForm
