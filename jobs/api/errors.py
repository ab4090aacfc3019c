"""One error shape for the whole API: DRF's, with malformed ids as 404 and no traceback."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from jobs.idempotency import HEADER, KeyReused
from jobs.quotas import QuotaExceeded
from jobs.services import JobConflict

log = logging.getLogger(__name__)


def exception_handler(exc, context):
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database is away (restart, failover): a retryable 503, not a 500.
        log.warning("database unavailable: %s", exc)
        return Response(
            {"detail": "The database is unavailable; retry shortly."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, JobConflict):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, KeyReused):  # the key came with another request: the client's error
        return Response({HEADER: [str(exc)]}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
    if isinstance(exc, QuotaExceeded):
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):  # a malformed id in a lookup
        exc = Http404()
    response = drf_exception_handler(exc, context)
    if response is None and isinstance(exc, SuspiciousOperation):
        return None  # Django answers 400 and logs it (e.g. too many form fields)
    if response is None and not settings.DEBUG:
        # A bug: logged with its traceback, answered with the same JSON shape as every
        # other error and nothing of the exception (with DEBUG on, Django's page shows it).
        request = context.get("request")
        log.error(
            "unhandled error in %s %s",
            getattr(request, "method", "?"),
            getattr(request, "path", "?"),
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        set_rollback()
        response = Response(
            {"detail": "Internal server error."}, status=status.HTTP_500_INTERNAL_SERVER_ERROR
        )
    return response
