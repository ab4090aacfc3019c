"""The OpenAPI document's operations: a summary, a description and the real answers of each.

The views wear these decorators (`@schema.jobs` on JobViewSet, ...), so that what a view
does and how the document tells it stay apart. Every answer is listed with its shape:
the 2xx, and each error with the body jobs/api/errors.py gives it (`Error`, or
`ValidationError` for a 400). Some errors hold for every operation: a 400 for a path or
query string the database cannot take (QueryTextMiddleware), 401 without credentials, 429
past a request rate, 503 while the database is away. The components are in schema_shapes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)

from . import idempotency as idempotency_header
from .channel_serializers import (
    ChannelInputSerializer,
    ChannelSerializer,
    ChannelTestSerializer,
    DeliverySerializer,
)
from .rule_serializers import RuleInputSerializer, RuleSerializer
from .schema_shapes import (
    TASK_EXAMPLES,
    CatalogListSerializer,
    ErrorSerializer,
    HealthSerializer,
    SchedulePreviewAnswerSerializer,
    UpcomingSerializer,
    ValidationErrorSerializer,
)
from .serializers import (
    JobInputSerializer,
    JobSerializer,
    RunListSerializer,
    RunSerializer,
    RunSummarySerializer,
    SchedulePreviewSerializer,
)

ERRORS = {
    400: OpenApiResponse(
        ValidationErrorSerializer,
        'Invalid input: each bad field by its path (`{"task": {"uri": [...]}}`), or '
        "`detail` for the whole request. Nothing was changed.",
    ),
    401: OpenApiResponse(ErrorSerializer, "No credentials, or a token that is not valid."),
    403: OpenApiResponse(ErrorSerializer, "Not permitted; `detail` says what is missing."),
    404: OpenApiResponse(
        ErrorSerializer, "No such object among those you may see (a malformed id too)."
    ),
    409: OpenApiResponse(ErrorSerializer, "The job's state forbids it (it is canceled)."),
    413: OpenApiResponse(ErrorSerializer, "The body is larger than MAX_REQUEST_BYTES."),
    415: OpenApiResponse(
        ErrorSerializer, "The body is not sent as JSON (`Content-Type: application/json`)."
    ),
    422: OpenApiResponse(
        ValidationErrorSerializer,
        "The `Idempotency-Key` was used within 24 h for a request with another body.",
    ),
    429: OpenApiResponse(
        ErrorSerializer, "A request rate is used up: send again after `Retry-After` seconds."
    ),
    503: OpenApiResponse(
        ErrorSerializer, "The database is unavailable: send again after `Retry-After` seconds."
    ),
}
EVERY = (400, 429, 503)  # the errors every operation may answer
CHANGE = (403, 404, 409)  # and those of a change to one job

RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    int,
    OpenApiParameter.HEADER,
    response=[429, 503],
    description="Seconds to wait before sending again.",
)
LOCATION = OpenApiParameter(
    "Location",
    str,
    OpenApiParameter.HEADER,
    response=[201, 202],
    required=True,
    description="The URL of what was made.",
)

REPLAYED = OpenApiParameter(
    idempotency_header.REPLAYED_HEADER,
    str,
    OpenApiParameter.HEADER,
    response=[201],
    enum=["true"],
    description="Present when the answer is the job an earlier request with the same "
    "Idempotency-Key created.",
)


def answers(ok: dict[int, Any], errors: Iterable[int], *, anonymous: bool = False) -> dict:
    """The responses of an operation: `ok`, the errors named, and those of every one."""
    codes = set(errors) | set(EVERY) | (set() if anonymous else {401})
    return {**ok, **{code: ERRORS[code] for code in sorted(codes)}}


def uuid_path(what: str) -> OpenApiParameter:
    return OpenApiParameter(
        "id", OpenApiTypes.UUID, OpenApiParameter.PATH, description=f"The {what}'s id."
    )


def operation(
    operation_id: str,
    summary: str,
    description: str,
    ok: dict[int, Any],
    errors: Iterable[int] = (),
    *,
    parameters: Iterable[OpenApiParameter] = (),
    **kwargs,
):
    if kwargs.get("request") is not None:  # a body: JSON only
        errors = (*errors, 415)
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        description=description,
        responses=answers(ok, errors, anonymous=kwargs.pop("anonymous", False)),
        parameters=[*parameters, RETRY_AFTER, LOCATION],
        **kwargs,
    )


# -------------------------------------------------------------------- jobs

JOB_EXAMPLES = [
    OpenApiExample(
        "HTTP request, once in 2 minutes",
        value={"name": "call-hook", "task": TASK_EXAMPLES["http"], "schedule": "in 2m"},
        request_only=True,
    ),
    OpenApiExample(
        "Command, every night (cron in a zone), retried",
        value={
            "name": "nightly-dump",
            "task": TASK_EXAMPLES["command"],
            "schedule": {"cron": "0 3 * * *"},
            "timezone": "Europe/Paris",
            "retry": {"max_attempts": 3, "backoff": "exponential", "delay": "10s"},
            "timeout": "1h",
            "concurrency": "forbid",
        },
        request_only=True,
    ),
    OpenApiExample(
        "Script, every 10 minutes",
        value={"task": TASK_EXAMPLES["script"], "schedule": {"every": "10m"}, "max_runs": 6},
        request_only=True,
    ),
    OpenApiExample(
        "Container, at a date-time",
        value={"task": TASK_EXAMPLES["docker"], "schedule": "2030-01-24T12:28:27-08:00"},
        request_only=True,
    ),
    OpenApiExample(
        "Catalog task, every 90 minutes",
        value={
            "task": TASK_EXAMPLES["catalog"],
            "payload": {"message": "hello"},
            "schedule": {"interval": {"hours": 1, "minutes": 30}},
        },
        request_only=True,
    ),
]


def job_operations(prefix: str, suffix: str, where: str, parameters: list[OpenApiParameter]):
    """The job API's operations; `where` says which jobs (everywhere, or a namespace)."""
    job_id = [*parameters, uuid_path("job")]
    return extend_schema_view(
        list=operation(
            f"{prefix}_list",
            f"List jobs{suffix}",
            f"Your jobs{where} (everyone's with jobs.view_all_jobs), newest first, paginated. "
            "Each filter may repeat (`?status=failed&status=succeeded`); filters combine.",
            {200: JobSerializer(many=True)},
            parameters=parameters,
        ),
        create=operation(
            f"{prefix}_create",
            f"Create a job{suffix}",
            f"A task and a schedule{where}; answers the job and its `Location`. Command, "
            "script and docker tasks need the permission jobs.run_code. A create past "
            "MAX_JOBS_PER_USER active jobs is a 400. With an `Idempotency-Key`, a retry "
            "answers the job created the first time.",
            {201: JobSerializer},
            (403, 413, 422),
            parameters=[*parameters, idempotency_header.PARAMETER, REPLAYED],
            request=JobInputSerializer,
            examples=JOB_EXAMPLES,
        ),
        retrieve=operation(
            f"{prefix}_retrieve",
            f"Get a job{suffix}",
            "The job, normalized: its schedule in words, status, next fire, last run, "
            "counts of runs by status, health.",
            {200: JobSerializer},
            (404,),
            parameters=job_id,
        ),
        partial_update=operation(
            f"{prefix}_update",
            f"Change a job{suffix}",
            "Change any of the fields of a create; a fire planned under the old values "
            "never runs (a change of `pause_after_failures` or `notify` alone keeps them). "
            "A canceled job cannot be changed (409).",
            {200: JobSerializer},
            (*CHANGE, 413),
            parameters=job_id,
            request=JobInputSerializer(partial=True),
        ),
        destroy=operation(
            f"{prefix}_cancel",
            f"Cancel a job{suffix}",
            "No further fires, pending runs canceled; the job and its runs stay (status "
            "`canceled`). Answers the job.",
            {200: JobSerializer},
            CHANGE,
            parameters=job_id,
            request=None,
        ),
        pause=operation(
            f"{prefix}_pause",
            f"Pause a job{suffix}",
            "No fires until it is resumed.",
            {200: JobSerializer},
            CHANGE,
            parameters=job_id,
            request=None,
        ),
        resume=operation(
            f"{prefix}_resume",
            f"Resume a job{suffix}",
            "Fires from now on (those that fell in the pause are skipped); the count of "
            "failed fires in a row starts again.",
            {200: JobSerializer},
            CHANGE,
            parameters=job_id,
            request=None,
        ),
        run=operation(
            f"{prefix}_run",
            f"Run a job now{suffix}",
            "A run at once, outside the schedule; answers the new run and its `Location`.",
            {202: RunSerializer},
            CHANGE,
            parameters=job_id,
            request=None,
        ),
        runs=operation(
            f"{prefix}_runs",
            f"List a job's runs{suffix}",
            "The job's run history, newest first (by due time, then attempt), paginated.",
            {200: RunSummarySerializer(many=True)},
            (404,),
            parameters=job_id,
        ),
        upcoming=operation(
            f"{prefix}_upcoming",
            f"Next fire times{suffix}",
            "The job's next fire times, as the dispatcher will plan them.",
            {200: UpcomingSerializer},
            (404,),
            parameters=[
                *job_id,
                OpenApiParameter(
                    "count",
                    OpenApiTypes.INT,
                    description="How many, 1 to 100.",
                    default=10,
                ),
            ],
        ),
    )


NAMESPACE = [
    OpenApiParameter(
        name,
        {"type": "string", "pattern": "^[^/]+$"},
        OpenApiParameter.PATH,
        description=f"The jobs' {name}.",
    )
    for name in ("product", "group")
]
jobs = job_operations("jobs", "", "", [])
namespaced_jobs = job_operations(
    "namespace_jobs",
    " in a namespace",
    " of one product and group (created jobs get them; a catalog task must be registered "
    "in that namespace)",
    NAMESPACE,
)

# -------------------------------------------------------------------- runs

runs = extend_schema_view(
    list=operation(
        "runs_list",
        "List runs",
        "Your runs across your jobs (everyone's with jobs.view_all_jobs), newest first, "
        "paginated; without their results (GET /runs/{id} has it). `since` and `until` "
        "bound the due time; a date-time without an offset is UTC.",
        {200: RunListSerializer(many=True)},
    ),
    retrieve=operation(
        "runs_retrieve",
        "Get a run",
        "One run with its result: the HTTP status and body, or the exit code and output.",
        {200: RunSerializer},
        (404,),
        parameters=[uuid_path("run")],
    ),
)

# -------------------------------------------------------------------- schedules, catalog, health

schedule_preview = extend_schema_view(
    post=operation(
        "schedules_preview",
        "Check a schedule",
        "Validate a schedule as a job would take it, without creating one: its normal "
        "form, its description and its next fire times.",
        {200: SchedulePreviewAnswerSerializer},
        (413,),
        request=SchedulePreviewSerializer,
        examples=[
            OpenApiExample(
                "Cron in a zone",
                value={"schedule": {"cron": "0 3 * * *"}, "timezone": "Europe/Paris", "count": 2},
                request_only=True,
            )
        ],
    )
)

catalog = extend_schema_view(
    get=operation(
        "catalog_list",
        "List catalog tasks",
        "The registered catalog tasks: name, product, group, description, the JSON schema "
        "of a job's payload and the permission a job of it needs.",
        {200: CatalogListSerializer},
        parameters=[
            OpenApiParameter("product", str, description="Only this product's tasks."),
            OpenApiParameter("group", str, description="Only this group's tasks."),
        ],
    )
)

health = operation(
    "health",
    "Health",
    "200 when the database and the broker answer, 503 naming the one that failed (details "
    "go to the log). No credentials needed.",
    {
        200: HealthSerializer,
        503: OpenApiResponse(HealthSerializer, "The database or the broker does not answer."),
    },
    anonymous=True,
)

# -------------------------------------------------------------------- notifications

channels = extend_schema_view(
    list=operation(
        "channels_list",
        "List channels",
        "Your notification channels (everyone's with jobs.view_all_jobs), paginated; never "
        "a secret (`has_secret` says whether there is one).",
        {200: ChannelSerializer(many=True)},
    ),
    create=operation(
        "channels_create",
        "Create a channel",
        "A webhook (`url`, optional `secret`), slack (`url`) or email (`to`) channel.",
        {201: ChannelSerializer},
        (413,),
        request=ChannelInputSerializer,
        examples=[
            OpenApiExample(
                "Webhook",
                value={
                    "name": "ops-hook",
                    "kind": "webhook",
                    "url": "https://hooks.example.com/sched",
                    "secret": "s3cret",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Email",
                value={"name": "ops-mail", "kind": "email", "to": ["ops@example.com"]},
                request_only=True,
            ),
        ],
    ),
    retrieve=operation(
        "channels_retrieve",
        "Get a channel",
        "One channel, without its secret.",
        {200: ChannelSerializer},
        (404,),
        parameters=[uuid_path("channel")],
    ),
    partial_update=operation(
        "channels_update",
        "Change a channel",
        "Change `name`, `url`, `secret` or `to` (not `kind`).",
        {200: ChannelSerializer},
        (403, 404, 413),
        parameters=[uuid_path("channel")],
        request=ChannelInputSerializer(partial=True),
    ),
    destroy=operation(
        "channels_delete",
        "Delete a channel",
        "Its rules, notifications and delivery attempts go with it.",
        {204: None},
        (403, 404),
        parameters=[uuid_path("channel")],
    ),
    test=operation(
        "channels_test",
        "Send a test message",
        "Send a test message now, one attempt; answers whether the receiver took it (429 "
        "while this server already sends CHANNEL_TESTS_AT_ONCE tests).",
        {200: ChannelTestSerializer},
        (403, 404),
        parameters=[uuid_path("channel")],
        request=None,
    ),
    deliveries=operation(
        "channels_deliveries",
        "List a channel's deliveries",
        "Each attempt to deliver a notification on the channel, newest first, paginated.",
        {200: DeliverySerializer(many=True)},
        (404,),
        parameters=[uuid_path("channel")],
    ),
)

rules = extend_schema_view(
    list=operation(
        "notify_rules_list",
        "List notification rules",
        "Your rules on all your jobs or a namespace's (a job's own rules are its `notify`).",
        {200: RuleSerializer(many=True)},
    ),
    create=operation(
        "notify_rules_create",
        "Create a notification rule",
        "Send these events of all your jobs (or of a product and group) to a channel.",
        {201: RuleSerializer},
        (413,),
        request=RuleInputSerializer,
    ),
    retrieve=operation(
        "notify_rules_retrieve",
        "Get a notification rule",
        "One rule.",
        {200: RuleSerializer},
        (404,),
        parameters=[uuid_path("rule")],
    ),
    partial_update=operation(
        "notify_rules_update",
        "Change a notification rule",
        "Change its channel, events, `every_failure`, product or group.",
        {200: RuleSerializer},
        (403, 404, 413),
        parameters=[uuid_path("rule")],
        request=RuleInputSerializer(partial=True),
    ),
    destroy=operation(
        "notify_rules_delete",
        "Delete a notification rule",
        "The rule sends nothing more.",
        {204: None},
        (403, 404),
        parameters=[uuid_path("rule")],
    ),
)
