"""GET /metrics: Prometheus's text format (jobs/exposition.py says what and for whom).

A plain Django view, outside the API's authentication and throttles: Prometheus sends no
API token, and the figures it reads come from the cache (jobs/gauges.py), so a scrape
storm costs the database one set of queries per METRICS_CACHE seconds.
"""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.views.decorators.http import require_safe

from .. import exposition, metrics
from .client_ip import client_ip


@require_safe
def metrics_view(request) -> HttpResponse:
    if not metrics.enabled():
        raise Http404("Metrics are off (METRICS_ENABLED=0).")
    status = exposition.refusal(request.headers.get("Authorization", ""), client_ip(request))
    if status is not None:
        response = HttpResponse(
            exposition.REFUSED[status], status=status, content_type="text/plain"
        )
        if status == 401:
            response["WWW-Authenticate"] = "Bearer"
        return response
    body, content_type = exposition.render(request.headers.get("Accept", ""), state=True)
    return HttpResponse(body, content_type=content_type)
