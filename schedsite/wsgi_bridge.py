"""Serve a WSGI application over ASGI, giving it a thread only once its request has arrived.

The event loop reads the whole body (at most `max_body` bytes, else 413), then one of a
fixed pool of threads runs the WSGI application and collects its response, and the event
loop sends that response. A client that sends or reads slowly holds a coroutine and its
bytes, never a thread. The pool is fixed, so each thread keeps its own database connection
across requests (CONN_MAX_AGE) as under a threaded WSGI server; Django's own ASGI handler
would run each request on a new thread and leave persistent connections behind.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote_to_bytes

BODY_IN_MEMORY = 1024 * 1024  # bytes of a body kept in memory; beyond, a temporary file
# gunicorn's defaults (--limit-request-line, --limit-request-fields, --limit-request-field-size),
# which the web process had before it ran uvicorn's parser.
MAX_TARGET = 4094  # bytes of the request target (path and query)
MAX_HEADERS = 100
MAX_HEADER_FIELD = 8190  # bytes of one header, name and value


class BodyTooLarge(Exception):
    pass


def _refusal(status: int, detail: str) -> tuple[int, list, list[bytes]]:
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    return status, headers, [body]


def _too_large(length: int | None, limit: int) -> tuple[int, list, list[bytes]]:
    if length is not None:
        return _refusal(413, f"Request body too large: {length} bytes, the limit is {limit}.")
    return _refusal(413, f"Request body too large: the limit is {limit} bytes.")


def _over_header_limits(scope: dict) -> tuple[int, list, list[bytes]] | None:
    target = len(scope.get("raw_path") or scope["path"].encode()) + len(scope["query_string"])
    if target > MAX_TARGET:
        return _refusal(414, f"Request target too long: the limit is {MAX_TARGET} bytes.")
    headers = scope["headers"]
    if len(headers) > MAX_HEADERS:
        return _refusal(431, f"Too many request headers: the limit is {MAX_HEADERS}.")
    if any(len(name) + len(value) > MAX_HEADER_FIELD for name, value in headers):
        return _refusal(431, f"Request header too large: the limit is {MAX_HEADER_FIELD} bytes.")
    return None


def build_environ(scope: dict, body: Any) -> dict:
    """A PEP 3333 environ for an ASGI HTTP scope."""
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    script_name = scope.get("root_path", "").encode()
    raw_path = scope.get("raw_path")
    # PEP 3333: the path's bytes, %-decoded, as latin-1 (so bytes that are not UTF-8 reach
    # Django as they came, as gunicorn passes them).
    path = unquote_to_bytes(raw_path) if raw_path is not None else scope["path"].encode()
    if script_name and path.startswith(script_name):
        path = path[len(script_name) :]
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": script_name.decode("latin-1"),
        "PATH_INFO": path.decode("latin-1"),
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1] or 80),
        "REMOTE_ADDR": str(client[0]),
        "REMOTE_PORT": str(client[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        if name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = name
        else:
            key = f"HTTP_{name}"
        value = raw_value.decode("latin-1")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


class BufferedWSGI:
    """An ASGI application running `wsgi_app` on `threads` threads, requests buffered."""

    def __init__(self, wsgi_app, *, threads: int = 4, max_body: int | None = None):
        self.wsgi_app = wsgi_app
        self.threads = threads  # the gunicorn worker may set it before the first request
        self.max_body = max_body
        self._executor: ThreadPoolExecutor | None = None

    @property
    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="web")
        return self._executor

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        with tempfile.SpooledTemporaryFile(max_size=BODY_IN_MEMORY) as body:
            refused = _over_header_limits(scope)
            if not refused:
                try:
                    if not await self._read_body(scope, receive, body):
                        return  # the client went away
                except BodyTooLarge as exc:
                    refused = _too_large(exc.args[0], self.max_body or 0)
            if refused:
                status, headers, chunks = refused
            else:
                body.seek(0)
                environ = build_environ(scope, body)
                loop = asyncio.get_running_loop()
                status, headers, chunks = await loop.run_in_executor(
                    self.executor, self._run, environ
                )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        for chunk in chunks[:-1]:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": chunks[-1] if chunks else b""})

    async def _read_body(self, scope, receive, body) -> bool:
        limit = self.max_body
        if limit is not None:
            for name, value in scope["headers"]:
                if name == b"content-length" and value.strip().isdigit() and int(value) > limit:
                    raise BodyTooLarge(int(value))
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return False
            chunk = message.get("body", b"")
            size += len(chunk)
            if limit is not None and size > limit:
                raise BodyTooLarge(None)
            body.write(chunk)
            if not message.get("more_body", False):
                return True

    def _run(self, environ: dict) -> tuple[int, list, list[bytes]]:
        """Run the WSGI application in this thread; its status, headers and body."""
        started: list = []

        def start_response(status: str, headers: list, exc_info=None):
            if exc_info and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [status, headers]
            return chunks.append

        chunks: list[bytes] = []
        result = self.wsgi_app(environ, start_response)
        try:
            for chunk in result:
                if chunk:
                    chunks.append(chunk)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = started
        return (
            int(status.split(" ", 1)[0]),
            [
                (name.lower().encode("latin-1"), value.strip().encode("latin-1"))
                for name, value in headers
            ],
            chunks,
        )
