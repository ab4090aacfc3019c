"""Thin views: an input serializer, a service call, an output serializer."""

from __future__ import annotations

import logging
import uuid

from django.db import connection
from django.db.models import prefetch_related_objects
from django.http import Http404
from django.utils import timezone
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action, api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs import idempotency, selectors, services, timing
from jobs.models import Job, Run

from . import idempotency as idempotency_header
from . import schema
from .filters import JobFilter, RunFilter
from .pagination import RunListPagination
from .params import int_param
from .permissions import JobAccess
from .serializers import (
    JobInputSerializer,
    JobSerializer,
    RunListSerializer,
    RunSerializer,
    RunSummarySerializer,
    SchedulePreviewSerializer,
)
from .throttles import JobCreateThrottle

log = logging.getLogger(__name__)


class UUIDLookupMixin:
    """Answer 404, not 400 or 500, for an id that is not a UUID."""

    lookup_value_regex = "[^/]+"

    def get_object(self):
        try:
            uuid.UUID(str(self.kwargs[self.lookup_field]))
        except ValueError:
            raise Http404 from None
        return super().get_object()


@schema.jobs
class JobViewSet(
    UUIDLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = JobSerializer
    filterset_class = JobFilter
    permission_classes = [IsAuthenticated, JobAccess]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return Job.objects.none()
        return selectors.jobs_visible_to(self.request.user).order_by("-created_at")

    def get_serializer_class(self):
        # The browsable API's forms for POST and PATCH show the fields these take (a PATCH
        # form holds the job's current values), not the job's read-only ones.
        if self.action in ("create", "partial_update"):
            return JobInputSerializer
        return JobSerializer

    def get_throttles(self):
        # Creates are counted at their own rate (higher for trusted clients), not the user's.
        if self.action == "create":
            return [JobCreateThrottle()]
        return super().get_throttles()

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        selectors.attach_run_counts(page)  # one query for the page, not one per job
        prefetch_related_objects(page, "notify_rules")  # the jobs' `notify`: one more
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def create(self, request, *args, **kwargs):
        key = idempotency_header.request_key(request)  # None without an Idempotency-Key
        if key is not None:
            job = idempotency.earlier_job(owner=request.user, **key)
            if job is not None:  # a retry: the same answer, not a second job
                return self._created(job, replayed=True)
        data = JobInputSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        job, replayed = services.job_create_once(
            owner=request.user, data=data.validated_data, **(key or {})
        )
        return self._created(job, replayed=replayed)

    def _created(self, job: Job, *, replayed: bool) -> Response:
        body = JobSerializer(job, context={"request": self.request}).data
        headers = {"Location": body["link"]}
        if replayed:
            headers[idempotency_header.REPLAYED_HEADER] = "true"
        return Response(body, status=status.HTTP_201_CREATED, headers=headers)

    def partial_update(self, request, *args, **kwargs):
        job = self.get_object()
        data = JobInputSerializer(
            job, data=request.data, partial=True, context=self.get_serializer_context()
        )
        data.is_valid(raise_exception=True)
        job = services.job_update(job=job, data=data.validated_data)
        return Response(JobSerializer(job, context={"request": request}).data)

    def destroy(self, request, *args, **kwargs):
        """Cancel the job: no further fires; the record and its runs stay."""
        job = services.job_cancel(job=self.get_object())
        return Response(JobSerializer(job, context={"request": request}).data)

    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None, **kwargs):
        job = services.job_pause(job=self.get_object())
        return Response(JobSerializer(job, context={"request": request}).data)

    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None, **kwargs):
        job = services.job_resume(job=self.get_object())
        return Response(JobSerializer(job, context={"request": request}).data)

    @action(detail=True, methods=["post"])
    def run(self, request, pk=None, **kwargs):
        """Run the job now, outside its schedule; answer the new run."""
        run = services.job_run_now(job=self.get_object())
        body = RunSerializer(run, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["link"]})

    @action(detail=True, methods=["get"], filterset_class=None)
    def runs(self, request, pk=None, **kwargs):
        job = self.get_object()
        runs = job.runs.order_by("-due_at", "-attempt")
        page = self.paginate_queryset(runs)
        return self.get_paginated_response(
            RunSummarySerializer(page, many=True, context={"request": request}).data
        )

    @action(detail=True, methods=["get"], filterset_class=None)
    def upcoming(self, request, pk=None, **kwargs):
        job = self.get_object()
        count = int_param(request, "count", default=10, minimum=1, maximum=100)
        times = timing.upcoming(job, after=timezone.now(), count=count)
        return Response(
            {
                "id": str(job.id),
                "schedule_description": job.schedule_text,
                "timezone": job.timezone,
                "upcoming": times,
            }
        )


@schema.runs
class RunViewSet(
    UUIDLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """GET /runs: the caller's runs across their jobs, newest first, filtered (RunFilter);
    GET /runs/{id}: one run with its result."""

    serializer_class = RunSerializer
    filterset_class = RunFilter
    pagination_class = RunListPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Run.objects.none()
        if self.action == "list":
            return selectors.runs_listed_for(self.request.user)
        return selectors.runs_visible_to(self.request.user)

    def get_serializer_class(self):
        return RunListSerializer if self.action == "list" else RunSerializer

    def filter_queryset(self, queryset):
        # The filters are the list's: a run's own URL answers it whatever the query string.
        return super().filter_queryset(queryset) if self.action == "list" else queryset


@schema.schedule_preview
class SchedulePreviewView(APIView):
    serializer_class = SchedulePreviewSerializer

    def post(self, request):
        """Validate a schedule without creating a job: its normal form, text and next fires."""
        data = SchedulePreviewSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        attrs = data.validated_data
        schedule = attrs["schedule"]
        times = timing.preview(
            schedule,
            now=timezone.now(),
            start_at=attrs.get("start_at"),
            end_at=attrs.get("end_at"),
            max_runs=attrs.get("max_runs"),
            count=attrs["count"],
        )
        return Response(
            {
                "schedule": schedule.to_json(),
                "kind": schedule.kind,
                "recurring": schedule.recurring,
                "timezone": schedule.timezone,
                "description": schedule.describe(),
                "upcoming": times,
            }
        )


@schema.health
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def health(request):
    """200 when the database and the broker answer, 503 naming the one that failed.

    Anyone may ask, so the answer says only "ok" or "error" per service; what failed (the
    host, port, role in a driver's message) goes to the log.
    """
    checks = {"database": _check_database(), "broker": _check_broker()}
    healthy = all(value == "ok" for value in checks.values())
    return Response(
        {"status": "ok" if healthy else "unavailable", **checks},
        status=status.HTTP_200_OK if healthy else status.HTTP_503_SERVICE_UNAVAILABLE,
    )


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:
        connection.close_if_unusable_or_obsolete()
        log.warning("health: the database does not answer: %s: %s", type(exc).__name__, exc)
        return "error"


def _check_broker() -> str:
    import redis
    from django.conf import settings

    try:
        client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1
        )
        client.ping()
        client.close()
        return "ok"
    except Exception as exc:
        log.warning("health: the broker does not answer: %s: %s", type(exc).__name__, exc)
        return "error"
