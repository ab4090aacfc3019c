"""The HTTP connections: one urllib3 pool, kept alive, shared by the threads of apply.

urllib3 (what requests stands on) directly: a request costs the client about a third of
the CPU requests takes, which counts when apply sends 10,000 of them beside a server on
the same cores. What requests would give by default is kept: a proxy from the
environment (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`), certifi's CA bundle unless
`REQUESTS_CA_BUNDLE` or `CURL_CA_BUNDLE` names another, no redirect followed.
"""

from __future__ import annotations

import os
import urllib.request
from urllib.parse import urlsplit

import urllib3

# A connection refused or reset before the request was sent is tried again; a GET also
# after a connection dropped mid-answer. Writes never: the server may have done them.
RETRIES = urllib3.Retry(
    total=None, connect=2, read=2, redirect=0, status=0, other=0, allowed_methods={"GET"}
)
# A create sent with an Idempotency-Key may be sent again after any failure: the server
# answers the same key and body with the job it made the first time (docs/api.md).
RETRIES_IDEMPOTENT = RETRIES.new(allowed_methods={"GET", "POST"})


def ca_bundle() -> str | None:
    named = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if named:
        return named
    try:
        import certifi
    except ImportError:  # pragma: no cover - the system's store then
        return None
    return certifi.where()


def pool_for(url: str, *, connections: int, timeout: float) -> urllib3.PoolManager:
    """A pool of keep-alive connections to the server at `url` (through its proxy)."""
    options = {
        "maxsize": connections,
        "block": False,
        "retries": RETRIES,
        "timeout": urllib3.Timeout(connect=min(timeout, 10.0), read=timeout),
        "ca_certs": ca_bundle(),
    }
    parts = urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        return urllib3.ProxyManager(proxy, **options)
    return urllib3.PoolManager(**options)
