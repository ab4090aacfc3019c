"""The client's IP address, the same for API throttling and login lockout."""

from __future__ import annotations

from django.conf import settings


def client_ip(request) -> str:
    """REMOTE_ADDR; behind PROXY_COUNT trusted reverse proxies, the address the outermost
    of them saw (the PROXY_COUNT-th entry of X-Forwarded-For from the right).

    X-Forwarded-For is read only when proxies are configured: without a proxy a client
    writes it itself, and a new value per request would be a new throttle bucket and a new
    login-lockout key per request. Entries left of the ones our proxies appended are the
    client's own claims and never trusted.
    """
    request = getattr(request, "_request", request)  # a DRF Request wraps Django's
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies <= 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if not hops:
        return remote
    return hops[-min(proxies, len(hops))]
