"""A loopback webhook receiver for the notification tests, as a user would run one.

It checks each request's `X-Sched-Signature` with the channel's secret
(notifications/signing.py's `verify`, as the docs tell receivers to) and records what
came: the event, the `Idempotency-Key`, the body, whether the signature held and what it
answered. A test switches it `down` (connections refused: the listening socket is
closed; or an error status answered), `up` again, or makes it `stall` (each request held
for a while before the answer, a receiver that hangs).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from notifications.signing import HEADER, verify


@dataclass
class Hook:
    """One request the receiver got."""

    event: str  # X-Sched-Event
    key: str  # Idempotency-Key
    raw: bytes
    body: Any  # the JSON body (None if it was not JSON)
    signature_ok: bool
    received_at: float  # time.time() when the request was read
    answered: int | None = None  # the status answered; None: none (stalled, hung up)

    @property
    def delivered(self) -> bool:
        return self.answered is not None and 200 <= self.answered < 300


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def do_POST(self) -> None:
        receiver = self.server.receiver
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        hook = Hook(
            event=self.headers.get("X-Sched-Event", ""),
            key=self.headers.get("Idempotency-Key", ""),
            raw=raw,
            body=body,
            signature_ok=verify(
                receiver.secret, self.headers.get(HEADER, ""), raw, now=int(time.time())
            ),
            received_at=time.time(),
        )
        status, stall = receiver._record(hook)
        if stall and receiver._woken.wait(stall):
            return  # taken down or stopped while stalling: hang up without an answer
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
        except OSError:  # the sender gave up (its timeout)
            return
        with receiver._cond:
            hook.answered = status
            receiver._cond.notify_all()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # listen again on the same port right after `down`
    request_queue_size = 128
    receiver: Receiver

    def handle_error(self, request, client_address) -> None:
        pass  # a sender that hung up is not the receiver's problem


class Receiver:
    """A webhook receiver on 127.0.0.1; `url` stays the same across `down` and `up`."""

    def __init__(self, secret: str = "receiver-secret") -> None:
        self.secret = secret
        self.hooks: list[Hook] = []
        self._cond = threading.Condition()
        self._status = 200
        self._stall = 0.0
        self._woken = threading.Event()  # set to cut stalls short
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self._listen()
        self.url = f"http://127.0.0.1:{self.port}/hook"

    # -- switching

    def _listen(self) -> None:
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.receiver = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"receiver-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def _close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def up(self) -> None:
        """Answer 200 at once (listening again if it was refusing)."""
        self._woken.set()  # stalled requests end without an answer
        with self._cond:
            self._status, self._stall = 200, 0.0
        self._woken = threading.Event()
        if self._server is None:
            self._listen()

    def down(self, *, status: int | None = None) -> None:
        """Refuse connections (status None), or answer every request with `status`."""
        self._woken.set()
        with self._cond:
            self._status, self._stall = (status or 503), 0.0
        self._woken = threading.Event()
        if status is None:
            self._close()

    def stall(self, seconds: float) -> None:
        """Hold each request `seconds` before answering 200 (a hanging receiver)."""
        with self._cond:
            self._status, self._stall = 200, seconds

    def stop(self) -> None:
        self._woken.set()
        self._close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- what came

    def _record(self, hook: Hook) -> tuple[int, float]:
        with self._cond:
            self.hooks.append(hook)
            self._cond.notify_all()
            return self._status, self._stall

    def received(self, key: str | None = None) -> list[Hook]:
        with self._cond:
            return [h for h in self.hooks if key is None or h.key == key]

    def delivered(self) -> list[Hook]:
        """The requests answered with a 2xx, in the order they came."""
        with self._cond:
            return [h for h in self.hooks if h.delivered]

    def wait(self, check: Callable[[list[Hook]], Any], *, timeout: float, what: str) -> Any:
        """Wait until `check(every hook so far)` is truthy; return it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = check(list(self.hooks))
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"receiver: timed out after {timeout:g}s waiting for {what}; got "
                        + json.dumps([(h.event, h.key, h.answered) for h in self.hooks])
                    )
                self._cond.wait(min(left, 0.2))
