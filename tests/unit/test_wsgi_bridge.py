"""The web process's ASGI-to-WSGI bridge: bodies are read whole and bounded before a thread runs."""

from __future__ import annotations

import asyncio
import threading

import pytest

from schedsite.wsgi_bridge import BufferedWSGI


def scope(path: str = "/api/v1/jobs", headers=(), raw_path: bytes | None = None) -> dict:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": raw_path if raw_path is not None else path.encode(),
        "root_path": "",
        "query_string": b"a=1",
        "headers": list(headers),
        "server": ("127.0.0.1", 8000),
        "client": ("10.0.0.1", 4242),
    }


class Recorder:
    """A WSGI application recording its environ, body and thread; answers 201 with a cookie."""

    def __init__(self):
        self.calls: list[dict] = []

    def __call__(self, environ, start_response):
        self.calls.append(
            {
                "environ": dict(environ),
                "body": environ["wsgi.input"].read(),
                "thread": threading.current_thread().name,
            }
        )
        start_response("201 Created", [("Content-Type", "text/plain"), ("Set-Cookie", " a=b")])
        return [b"made", b"", b" it"]


def call(app, scope: dict, messages: list[dict]) -> list[dict]:
    sent: list[dict] = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_it_runs_the_application_on_its_pool_with_the_whole_body():
    wsgi = Recorder()
    app = BufferedWSGI(wsgi, threads=2, max_body=100)
    sent = call(
        app,
        scope(headers=[(b"content-type", b"application/json"), (b"x-a", b"1"), (b"x-a", b"2")]),
        [
            {"type": "http.request", "body": b'{"a"', "more_body": True},
            {"type": "http.request", "body": b": 1}", "more_body": False},
        ],
    )
    (seen,) = wsgi.calls
    assert seen["body"] == b'{"a": 1}'
    assert seen["thread"].startswith("web")
    environ = seen["environ"]
    assert environ["REQUEST_METHOD"] == "POST"
    assert environ["PATH_INFO"] == "/api/v1/jobs"
    assert environ["QUERY_STRING"] == "a=1"
    assert environ["CONTENT_TYPE"] == "application/json"
    assert environ["HTTP_X_A"] == "1,2"
    assert environ["REMOTE_ADDR"] == "10.0.0.1"
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert sent[0]["status"] == 201
    assert (b"set-cookie", b"a=b") in sent[0]["headers"]
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"made it"
    assert sent[-1].get("more_body", False) is False


def test_it_passes_the_path_bytes_as_latin_1_as_pep_3333_says():
    wsgi = Recorder()
    request = [{"type": "http.request", "body": b""}]
    call(BufferedWSGI(wsgi), scope("/caf\u00e9", raw_path=b"/caf%C3%A9%FF"), request)
    assert wsgi.calls[0]["environ"]["PATH_INFO"] == b"/caf\xc3\xa9\xff".decode("latin-1")


def test_it_refuses_a_declared_body_over_the_limit_without_reading_it():
    wsgi = Recorder()
    messages = [{"type": "http.request", "body": b"x" * 10, "more_body": True}]
    sent = call(
        BufferedWSGI(wsgi, max_body=100), scope(headers=[(b"content-length", b"101")]), messages
    )
    assert sent[0]["status"] == 413
    assert (b"connection", b"close") in sent[0]["headers"]
    assert b"101 bytes, the limit is 100" in sent[1]["body"]
    assert messages, "the body was read"
    assert not wsgi.calls


def test_it_cuts_off_a_chunked_body_once_it_passes_the_limit():
    wsgi = Recorder()
    chunk = {"type": "http.request", "body": b"x" * 40, "more_body": True}
    messages = [dict(chunk) for _ in range(10)]
    sent = call(BufferedWSGI(wsgi, max_body=100), scope(), messages)
    assert sent[0]["status"] == 413
    assert len(messages) == 7  # three chunks read: 120 bytes
    assert not wsgi.calls


def test_it_runs_nothing_for_a_client_that_left_before_its_body_arrived():
    wsgi = Recorder()
    sent = call(
        BufferedWSGI(wsgi),
        scope(),
        [{"type": "http.request", "body": b"x", "more_body": True}, {"type": "http.disconnect"}],
    )
    assert sent == []
    assert not wsgi.calls


@pytest.mark.parametrize("body", [b"", b"{}"])
def test_a_body_within_the_limit_reaches_the_application(body):
    wsgi = Recorder()
    call(BufferedWSGI(wsgi, max_body=2), scope(), [{"type": "http.request", "body": body}])
    assert wsgi.calls[0]["body"] == body


@pytest.mark.parametrize(
    ("status", "request_scope"),
    [
        (414, scope("/" + "a" * 4094)),
        (431, scope(headers=[(b"x-a", b"1")] * 101)),
        (431, scope(headers=[(b"x-a", b"b" * 8190)])),
    ],
)
def test_it_refuses_what_exceeds_gunicorns_request_limits_before_the_body(status, request_scope):
    wsgi = Recorder()
    messages = [{"type": "http.request", "body": b"{}"}]
    sent = call(BufferedWSGI(wsgi), request_scope, messages)
    assert sent[0]["status"] == status
    assert (b"connection", b"close") in sent[0]["headers"]
    assert messages, "the body was read"
    assert not wsgi.calls
