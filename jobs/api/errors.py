"""One error shape for the whole API: DRF's, with malformed ids as 404."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from jobs.services import JobConflict


def exception_handler(exc, context):
    if isinstance(exc, JobConflict):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):  # a malformed id in a lookup
        exc = Http404()
    return drf_exception_handler(exc, context)
