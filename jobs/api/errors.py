"""One error shape for the whole API: DRF's, with malformed ids as 404 and no traceback."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from rest_framework import status
from rest_framework.exceptions import UnsupportedMediaType
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
    if isinstance(exc, UnsupportedMediaType) and exc.get_codes() == "unsupported_media_type":
        exc = UnsupportedMediaType("", detail=_media_type_problem(context.get("request")))
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


def _media_type_problem(request) -> str:
    """DRF's 415 says 'Unsupported media type "" in request.': say what to send instead."""
    sent = getattr(request, "content_type", "") or ""
    if not sent:
        return (
            'The body came without a Content-Type: send JSON with "Content-Type: application/json".'
        )
    shown = sent.split(";")[0].strip()[:100]
    return (
        f"The body came as {shown!r}, which is not taken here: send JSON "
        'with "Content-Type: application/json".'
    )


@csrf_exempt  # it changes nothing: a write with a session cookie gets this 404, not a CSRF page
def no_such_endpoint(request, *args, **kwargs) -> JsonResponse:
    """Any path under /api/ that no endpoint has (schedsite/urls.py routes them here last):
    a 404 in the API's JSON shape, never Django's HTML page, and the path without its
    trailing slash when that is an endpoint (the API's paths have none)."""
    path = request.path
    detail = f"No such endpoint: {request.method} {path[:200]}."
    if path.endswith("/") and _is_endpoint(path.rstrip("/")):
        detail += f" The API's paths have no trailing slash: {path.rstrip('/')}"
    else:
        detail += " The endpoints are listed at /api/v1/docs."
    return JsonResponse({"detail": detail}, status=status.HTTP_404_NOT_FOUND)


def _is_endpoint(path: str) -> bool:
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return match.func is not no_such_endpoint
