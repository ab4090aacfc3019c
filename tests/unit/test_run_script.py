"""`make run` (scripts/run.py and the Makefile): a taken port is a clear message before
anything starts; the banner comes again once the web answers; the plugin is the tests'."""

from __future__ import annotations

import importlib.util
import io
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_run_script():
    spec = importlib.util.spec_from_file_location("run_script", ROOT / "scripts" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run = load_run_script()


@pytest.fixture
def taken_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_free_port_is_no_problem():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert run.port_problem(f"127.0.0.1:{port}") is None
    assert run.port_problem("unix:/tmp/sched.sock") is None


def test_a_taken_port_names_the_variable_to_set(taken_port):
    problem = run.port_problem(f"127.0.0.1:{taken_port}")
    assert f"port {taken_port}" in problem
    assert f"WEB_BIND=127.0.0.1:{taken_port + 1} make run" in problem


def test_a_bind_without_a_port_is_named():
    assert "is not host:port" in run.port_problem("localhost")


def test_make_run_stops_before_the_banner_when_its_port_is_taken(taken_port, tmp_path):
    env = {**os.environ, "WEB_BIND": f"127.0.0.1:{taken_port}"}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "WEB_BIND=" in done.stderr
    assert "API token" not in done.stdout
    assert "Admin:" not in done.stdout


def test_the_health_url_reaches_a_wildcard_bind_on_loopback():
    assert run.health_url("0.0.0.0:8000") == "http://127.0.0.1:8000/api/v1/health"
    assert run.health_url("[::]:8000") == "http://[::1]:8000/api/v1/health"
    assert run.health_url("10.0.0.5:81") == "http://10.0.0.5:81/api/v1/health"
    assert run.health_url("unix:/tmp/s") is None


class Health(BaseHTTPRequestHandler):
    """/api/v1/health: 503 until the server's `up` is set, then 200."""

    def do_GET(self):
        self.send_response(200 if self.server.up.is_set() else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def web():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    server.up = threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_banner_comes_again_once_the_web_answers_and_the_output_is_quiet(web, monkeypatch):
    monkeypatch.setattr(run, "QUIET", 0.3)
    events: queue.Queue = queue.Queue()
    printer = run.BannerPrinter(io.StringIO())
    url = f"http://127.0.0.1:{web.server_address[1]}/api/v1/health"
    announcer = threading.Thread(
        target=run.announce_when_up, args=(events, printer, url, "BANNER TEXT")
    )
    announcer.start()
    time.sleep(0.5)
    assert events.empty()  # 503: not up yet
    web.up.set()
    printer.last_line = time.monotonic() + 0.5  # a process still printing its start-up lines
    announcer.join(10)
    message = events.get_nowait()
    assert message.name == run.BANNER
    assert message.data.endswith("BANNER TEXT")
    assert time.monotonic() - printer.last_line >= 0.3


def test_the_banner_message_is_printed_as_it_is(capsys):
    printer = run.BannerPrinter(sys.stdout)
    printer.write(run.Message("line", "\n  Admin: x\n", None, run.BANNER, None))
    assert capsys.readouterr().out == "\n  Admin: x\n\n"


def make_dry_run(target: str, tmp_path) -> str:
    """What `make -n <target>` would do with a fresh virtualenv."""
    done = subprocess.run(
        ["make", "-n", target, f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_run_does_not_install_the_example_plugin_and_the_tests_do(tmp_path):
    assert "sched-example-plugin" not in make_dry_run("run", tmp_path)
    for target in ("test-postgres", "test-sqlite", "test-faults"):
        assert "sched-example-plugin" in make_dry_run(target, tmp_path), target
