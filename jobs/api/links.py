"""The `link` of a job, run, channel or rule: an absolute URL on the address the request
came to, so that clients follow it as it is and the browsable API makes it clickable."""

from __future__ import annotations


def absolute_link(context: dict, path: str) -> str:
    """`path` (/api/v1/...) on the scheme and host of the serializer's request; the path
    alone without a request (a serializer used outside a view)."""
    request = context.get("request")
    if request is None:
        return path
    base = getattr(request, "_link_base", None)
    if base is None:  # once per request: build_absolute_uri checks the host each time
        base = request.build_absolute_uri("/")[:-1]
        request._link_base = base
    return base + path
