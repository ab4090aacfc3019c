"""The API client on real HTTP (a loopback server): what it sends again, what it never
does, and how it words errors."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sched_cli.client import ApiError, Client, Unreachable, flatten_errors


class Server:
    """Answers from a script: "drop" closes the connection without an answer, else
    (status, headers, body). Records each request's method, path and headers."""

    def __init__(self, script):
        self.script = list(script)
        self.seen: list[tuple[str, str, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                outer.seen.append((self.command, self.path, dict(self.headers)))
                step = outer.script.pop(0)
                if step == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                status, headers, body = step
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(data))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = handle_one

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(*script) -> Server:
        servers.append(Server(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_a_create_whose_answer_was_lost_is_sent_again_with_the_same_key(serve):
    server = serve("drop", (201, {}, {"id": "j1"}))
    assert Client(server.url, "t").create("/api/v1/jobs", {"name": "a"}) == {"id": "j1"}
    keys = [headers["Idempotency-Key"] for _, _, headers in server.seen]
    assert len(keys) == 2 and keys[0] == keys[1]


def test_a_change_whose_answer_was_lost_is_not_sent_again(serve):
    server = serve("drop", (200, {}, {}))
    with pytest.raises(Unreachable, match=f"cannot connect to {server.url}"):
        Client(server.url, "t").patch("/api/v1/jobs/x", {"name": "b"})
    assert len(server.seen) == 1


def test_a_throttled_request_waits_as_told_and_is_sent_again(serve):
    server = serve((429, {"Retry-After": "0"}, {"detail": "slow down"}), (200, {}, {"ok": 1}))
    assert Client(server.url, "t").get("/api/v1/jobs") == {"ok": 1}
    assert [method for method, _, _ in server.seen] == ["GET", "GET"]


def test_a_query_repeats_a_list_and_leaves_out_none(serve):
    server = serve((200, {}, {}))
    Client(server.url, "t").get("/api/v1/jobs", status=["failed", "lost"], product=None)
    assert server.seen[0][1] == "/api/v1/jobs?status=failed&status=lost"
    assert server.seen[0][2]["Authorization"] == "Token t"


def test_an_error_names_each_field(serve):
    body = {"task": {"uri": ["Bad."], "headers": {"X-A": ["No."]}}, "notify": {"0": {"on": ["?"]}}}
    server = serve((400, {}, body))
    with pytest.raises(ApiError) as caught:
        Client(server.url, "t").post("/api/v1/jobs", {})
    assert caught.value.format_message() == (
        "the server refused POST /api/v1/jobs (400)\n"
        "  task.uri: Bad.\n  task.headers.X-A: No.\n  notify.0.on: ?"
    )


def test_flatten_errors_keeps_body_level_messages_plain():
    assert flatten_errors({"detail": "Throttled."}) == ["Throttled."]
    assert flatten_errors({"non_field_errors": ["Both."]}) == ["Both."]
    assert flatten_errors(["a", "b"]) == ["a", "b"]
