"""Slow clients cannot take the web process down: it keeps answering while sockets trickle.

The web process is the Procfile's `web` line (2 processes x 4 threads in the stack). Each
slow socket sends one byte every 2 s: a request whose headers never end, or a
`POST /api/v1/jobs` whose declared body never ends. Twice as many sockets as the web
process has threads are opened; /api/v1/health must answer 200 within a second
throughout, and a normal job creation must work meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import threading
import time

import pytest
import requests

from .harness import ROOT, Process, free_port, wait_until, web_argv

pytestmark = pytest.mark.e2e

WORKERS, THREADS = 2, 4  # the stack's web process (harness.Stack)
SOCKETS = 2 * WORKERS * THREADS
HEADERS = b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 2000


def body_head(token: str, length: int = 1_000_000) -> bytes:
    return (
        "POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Token {token}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


@contextlib.contextmanager
def slow_sockets(base_url: str, count: int, *, head: bytes = b"", interval: float = 2.0):
    """`count` sockets: `head` sent at once, then one more byte every `interval` seconds
    (the rest of HEADERS, or body bytes after a complete `head`)."""
    host, port = base_url.removeprefix("http://").split(":")
    socks = [socket.create_connection((host, int(port)), timeout=5) for _ in range(count)]
    stop = threading.Event()

    def trickle() -> None:
        sent = 0
        while True:
            byte = b"1" if head else HEADERS[sent : sent + 1]
            for sock in socks:
                with contextlib.suppress(OSError):
                    sock.sendall(byte)
            sent += 1
            if stop.wait(interval):
                return

    for sock in socks:
        if head:
            sock.sendall(head)
    thread = threading.Thread(target=trickle, name="slow-sockets", daemon=True)
    thread.start()
    try:
        time.sleep(1.0)  # their first bytes are in: each may have taken what it can
        yield socks
    finally:
        stop.set()
        thread.join(5)
        for sock in socks:
            sock.close()


def warm_up(base_url: str) -> None:
    """Requests enough for every web process to have served one (imports, connections)."""
    with requests.Session() as session:
        for _ in range(4 * WORKERS * THREADS):
            session.get(f"{base_url}/api/v1/health", timeout=10, headers={"Connection": "close"})


def assert_health_answers(base_url: str, seconds: float) -> int:
    """Ask /api/v1/health 5 times a second for `seconds`: each answer is a 200 within 1 s."""
    answered = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        began = time.monotonic()
        try:
            response = requests.get(f"{base_url}/api/v1/health", timeout=1)
        except requests.RequestException as exc:
            raise AssertionError(f"health did not answer within 1 s: {exc}") from None
        took = time.monotonic() - began
        assert response.status_code == 200, response.text
        assert took < 1.0, f"health took {took:.2f} s"
        answered += 1
        time.sleep(max(0.0, 0.2 - took))
    return answered


def read_to_close(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (after its answer)."""
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


def create_and_cancel(api) -> None:
    job = api.create_job(
        {"task": {"method": "GET", "uri": "http://127.0.0.1:9/never"}, "schedule": "in 1h"}
    )
    assert api.delete(f"jobs/{job['id']}").status_code in (200, 204)


def test_health_answers_while_slow_clients_never_finish_their_headers(e2e_stack, alice):
    warm_up(e2e_stack.base_url)
    with slow_sockets(e2e_stack.base_url, SOCKETS):
        assert assert_health_answers(e2e_stack.base_url, 8) >= 20
        create_and_cancel(alice)
    e2e_stack.assert_alive()


def test_health_answers_while_slow_clients_trickle_a_declared_body(e2e_stack, alice):
    head = body_head(alice.token)
    warm_up(e2e_stack.base_url)
    with slow_sockets(e2e_stack.base_url, SOCKETS, head=head):
        assert assert_health_answers(e2e_stack.base_url, 8) >= 20
        create_and_cancel(alice)
    e2e_stack.assert_alive()


def test_a_body_over_the_limit_is_refused_413_before_it_is_sent(e2e_stack, alice):
    host, port = e2e_stack.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(body_head(alice.token, length=100 * 1024 * 1024))
        answer = read_to_close(sock)
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert b"the limit is" in answer


@contextlib.contextmanager
def second_web(stack, name: str, **env: str):
    """One more web process, as the Procfile starts it (1 process), with `env` on top."""
    port = free_port()
    process = Process(
        name,
        web_argv(f"127.0.0.1:{port}", workers=1, graceful_timeout="5"),
        env={**stack.env, **env},
        cwd=ROOT,
        log=stack.workdir / f"{name}.log",
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            assert process.alive(), process.log_text()
            with contextlib.suppress(requests.RequestException):
                return requests.get(f"{base}/api/v1/health", timeout=2).status_code == 200
            return False

        wait_until(healthy, timeout=60, interval=0.1, what=f"{name} to answer")
        yield process, base
    finally:
        process.stop()


@pytest.fixture
def short_deadlines_web(e2e_stack):
    """A second web process with 2 s header and body deadlines."""
    env = {"WEB_HEADER_TIMEOUT": "2", "WEB_BODY_TIMEOUT": "2"}
    with second_web(e2e_stack, "web-short-deadlines", **env) as (_, base):
        yield base


@pytest.mark.parametrize("phase", ["headers", "body"])
def test_a_slow_request_is_answered_408_and_closed_at_its_deadline(
    short_deadlines_web, alice, phase
):
    head = body_head(alice.token) if phase == "body" else b""
    with slow_sockets(short_deadlines_web, 1, head=head, interval=0.5) as (sock,):
        began = time.monotonic()
        sock.settimeout(10)
        answer = sock.recv(4096)
        took = time.monotonic() - began
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert f"Request {phase} not received within 2 seconds".encode() in answer
        assert took < 4, f"closed after {took:.1f} s"
        sock.settimeout(2)
        assert sock.recv(4096) == b""  # closed


def test_a_request_in_flight_at_sigterm_is_answered_before_web_exits(e2e_stack, alice):
    body = json.dumps(
        {"task": {"method": "GET", "uri": "http://127.0.0.1:9/never"}, "schedule": "in 1h"}
    ).encode()
    with second_web(e2e_stack, "web-graceful") as (process, base):
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(body_head(alice.token, length=len(body)) + body[:10])
            time.sleep(0.5)
            process.proc.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            sock.sendall(body[10:])
            answer = read_to_close(sock)
        assert answer.startswith(b"HTTP/1.1 201 "), answer
        assert process.proc.wait(10) == 0
    job_id = json.loads(answer.split(b"\r\n\r\n", 1)[1])["id"]
    assert alice.delete(f"jobs/{job_id}").status_code in (200, 204)
