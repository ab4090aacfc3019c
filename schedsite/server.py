"""The web process's gunicorn worker: uvicorn's event loop with deadlines for receiving a request.

`gunicorn schedsite.asgi -k schedsite.server.Worker` (the Procfile's `web`). A connection
costs a coroutine, not a thread, until its request has fully arrived: the bridge to Django
(schedsite/wsgi_bridge.py) reads the whole body before a thread runs the view, so a client
that sends slowly holds no thread.
On top of uvicorn, which bounds only the idle time between two requests, each request must
arrive in time:

- its request line and headers within `WEB_HEADER_TIMEOUT` seconds of its first byte (or of
  the connection being opened);
- its body within `WEB_BODY_TIMEOUT` seconds of the end of its headers.

Past either deadline the client gets `408 Request Timeout` and the connection is closed.
gunicorn's `--worker-connections` caps the connections and requests a worker serves at
once (uvicorn answers 503 beyond it); `--graceful-timeout` bounds a graceful stop.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn_worker import UvicornWorker

from schedsite.env import env_float

HEADER_TIMEOUT = env_float("WEB_HEADER_TIMEOUT", 10.0)  # seconds
BODY_TIMEOUT = env_float("WEB_BODY_TIMEOUT", 60.0)  # seconds
CLOSE_LINGER = 1.0  # seconds a timed-out connection is read (and dropped) before it is closed


def _timeout_response(what: str, seconds: float) -> bytes:
    body = json.dumps(
        {"detail": f"Request {what} not received within {seconds:g} seconds."}
    ).encode()
    return (
        b"HTTP/1.1 408 Request Timeout\r\n"
        b"content-type: application/json\r\n"
        b"connection: close\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol (h11), with a deadline for the headers and one for the body."""

    header_timeout = HEADER_TIMEOUT
    body_timeout = BODY_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_for = "headers"  # "headers", "body", or "" once the request is in
        self._cycle_seen: object = None
        self._closing = False

    # -- the deadline

    def _arm(self, what: str, seconds: float) -> None:
        self._disarm()
        self._waiting_for = what
        if seconds > 0:
            self._deadline = self.loop.call_later(seconds, self._expired, what, seconds)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, what: str, seconds: float) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        # While headers are awaited, `cycle` (if any) is the previous request's.
        started = what == "body" and self.cycle is not None and self.cycle.response_started
        self.logger.info(
            "Closed a connection from %s: request %s not received within %gs",
            f"{self.client[0]}:{self.client[1]}" if self.client else "?",
            what,
            seconds,
        )
        if not started:
            self.transport.write(_timeout_response(what, seconds))
        if self.cycle is not None and not self.cycle.response_complete:
            # The application, waiting for the body, sees a disconnect.
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        # Close our side, then drop what the client still sends for a moment: closing with
        # unread bytes would reset the connection, and the client could lose the 408.
        self._closing = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(CLOSE_LINGER, self.transport.close)

    def _track(self) -> None:
        """Move the deadline along with what the parser has seen so far."""
        cycle = self.cycle
        if cycle is not None and cycle is not self._cycle_seen:
            # A new request's headers are in.
            self._cycle_seen = cycle
            if cycle.more_body:
                self._arm("body", self.body_timeout)
            else:
                self._disarm()
                self._waiting_for = ""
        elif self._waiting_for == "body" and cycle is not None and not cycle.more_body:
            self._disarm()
            self._waiting_for = ""

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm("headers", self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        if self._waiting_for == "" and self._deadline is None and self._response_done():
            # The first bytes of the next request on a kept-alive connection.
            self._arm("headers", self.header_timeout)
        super().data_received(data)
        self._track()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # A pipelined request may have been parsed just now.
        self._track()

    def _response_done(self) -> bool:
        return self.cycle is None or self.cycle.response_complete


class Worker(UvicornWorker):
    """uvicorn under gunicorn, with the deadlines above and gunicorn's limits passed on."""

    CONFIG_KWARGS = {
        "loop": "asyncio",
        "http": DeadlineH11Protocol,
        # The bridge to Django (schedsite/wsgi_bridge.py) serves HTTP only: no lifespan.
        "lifespan": "off",
        # The client is the connection's peer: uvicorn would otherwise take X-Forwarded-For
        # from any peer on FORWARDED_ALLOW_IPS (loopback by default), so a client on the host
        # could pose as any address. Proxies are trusted only through PROXY_COUNT
        # (jobs/api/client_ip.py).
        "proxy_headers": False,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config.limit_concurrency = self.cfg.worker_connections
        self.config.timeout_graceful_shutdown = self.cfg.graceful_timeout

    def load_wsgi(self) -> None:
        super().load_wsgi()
        # schedsite.asgi's bridge runs Django on `--threads` threads.
        if hasattr(self.wsgi, "threads"):
            self.wsgi.threads = self.cfg.threads
