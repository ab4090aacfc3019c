"""The answer to a login refused by the lockout (django-axes): 429 with Retry-After."""

from __future__ import annotations

import math

from axes.helpers import get_cool_off, get_lockout_message
from django.http import HttpResponse


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    response = HttpResponse(get_lockout_message(), status=429, content_type="text/plain")
    cool_off = get_cool_off(request)
    if cool_off is not None:
        # Each attempt during the lockout starts the cool-off again: this is its full length.
        response["Retry-After"] = str(math.ceil(cool_off.total_seconds()))
    return response
