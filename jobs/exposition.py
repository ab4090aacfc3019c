"""What /metrics answers, and who may read it.

- The counters and histograms (jobs/metrics.py): with PROMETHEUS_MULTIPROC_DIR, the sum of
  the files of every process of this host (web, worker, beat: prometheus_client's
  multiprocess mode); without it, this process's own (with its CPU, memory and GC figures).
- The database's figures (jobs/gauges.py), on the web's /metrics only: a worker's or beat's
  METRICS_PORT serves the counters alone, or Prometheus would count them once per host.

Who may read: with METRICS_TOKEN set, a request that says `Authorization: Bearer <token>`
(compared in constant time), else 401; without it, loopback clients only, else 403
(docs/security.md, "Metrics"). The same rule holds for METRICS_PORT.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import socket
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from . import metrics
from .gauges import StateCollector

log = logging.getLogger(__name__)

_registries: dict[bool, CollectorRegistry] = {}


class _Own:
    """This process's default registry, as a collector of another registry."""

    def collect(self):
        return REGISTRY.collect()


def registry(*, state: bool) -> CollectorRegistry:
    """The registry to serve; `state`: with the database's figures."""
    found = _registries.get(state)
    if found is None:
        found = CollectorRegistry(auto_describe=False)
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            MultiProcessCollector(found)
        else:
            found.register(_Own())
        if state:
            found.register(StateCollector())
        _registries[state] = found
    return found


def render(accept: str, *, state: bool) -> tuple[bytes, str]:
    """The exposition (the text format, or OpenMetrics if `accept` asks for it) and its
    content type. This process's records are applied first; with PROMETHEUS_MULTIPROC_DIR,
    the other processes' by their flushers, within metrics.FLUSH_EVERY."""
    metrics.flush()
    encoder, content_type = choose_encoder(accept)
    return encoder(registry(state=state)), content_type


def refusal(authorization: str, client: str) -> int | None:
    """None if the request may read the metrics; else the status to answer, 401 or 403."""
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, given = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return None
        return 401
    return None if _is_loopback(client) else 403


def _is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # no address (a Unix socket): not known to be this host
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


REFUSED = {
    401: b"Set the header Authorization: Bearer <METRICS_TOKEN>.\n",
    403: b"Metrics are served to loopback clients only unless METRICS_TOKEN is set.\n",
}


# -------------------------------------------------- a worker's or beat's own port


def _app(environ, start_response):
    """The WSGI app of METRICS_PORT: GET /metrics, the counters of this host (or process)."""
    if environ.get("PATH_INFO") != "/metrics":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not found: the metrics are at /metrics.\n"]
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        start_response("405 Method Not Allowed", [("Allow", "GET, HEAD")])
        return [b""]
    status = refusal(environ.get("HTTP_AUTHORIZATION", ""), environ.get("REMOTE_ADDR", ""))
    if status is not None:
        reason = "401 Unauthorized" if status == 401 else "403 Forbidden"
        headers = [("Content-Type", "text/plain")]
        if status == 401:
            headers.append(("WWW-Authenticate", "Bearer"))
        start_response(reason, headers)
        return [REFUSED[status]]
    body, content_type = render(environ.get("HTTP_ACCEPT", ""), state=False)
    start_response("200 OK", [("Content-Type", content_type)])
    return [b"" if environ["REQUEST_METHOD"] == "HEAD" else body]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - a scrape every few seconds
        pass


def serve(what: str) -> WSGIServer | None:
    """Serve the counters on METRICS_ADDR:METRICS_PORT from a daemon thread (a worker or
    beat, `what`); the server, or None if the port is off or taken.

    With PROMETHEUS_MULTIPROC_DIR, the first process of a host to listen serves the whole
    host's counters; the others find the port taken and say so.
    """
    port, address = settings.METRICS_PORT, settings.METRICS_ADDR
    if not port or not metrics.enabled():
        return None
    server_class = _Server6 if ":" in address else _Server
    try:
        server = make_server(address, port, _app, server_class, _QuietHandler)
    except OSError as exc:
        log.warning("metrics: %s does not serve %s:%d (%s)", what, address, port, exc)
        return None
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    scope = "this host" if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else "this process"
    log.info("metrics: %s serves %s's counters on %s:%d/metrics", what, scope, address, port)
    return server
