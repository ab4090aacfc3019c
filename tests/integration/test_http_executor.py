"""HTTP tasks against a real server on loopback, through the worker's code path."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from base64 import b64encode

import pytest

from executors.base import Outcome, RunContext
from executors.http import HttpExecutor
from jobs.models import RunStatus
from tests.contexts import run_context
from tests.target import Target

from .helpers import run_once

pytestmark = [pytest.mark.django_db]


def test_it_sends_the_request_with_idempotency_and_job_headers(api, broker, target):
    job = run_once(
        api,
        {
            "method": "POST",
            "uri": f"{target.url}/hook",
            "headers": {"X-Token": "t"},
            "body": {"vm": 42},
        },
    )
    run = job.runs.get()
    assert run.status == RunStatus.SUCCEEDED
    assert job.status == "succeeded"
    [request] = target.received
    assert request["method"] == "POST"
    assert request["path"] == "/hook"
    assert json.loads(request["body"]) == {"vm": 42}
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["X-Token"] == "t"
    assert request["headers"]["Idempotency-Key"] == str(run.id)
    assert request["headers"]["X-Sched-Job-Id"] == str(job.id)
    assert request["headers"]["X-Sched-Run-Id"] == str(run.id)
    assert run.result["status_code"] == 200
    assert run.result["body"] == "ok"


def test_a_header_with_an_empty_value_is_sent(api, broker, target):
    run_once(api, {"uri": f"{target.url}/x", "headers": {"X-Empty": "", "X-Full": "1"}})
    [request] = target.received
    assert request["headers"]["X-Empty"] == ""
    assert request["headers"]["X-Full"] == "1"


def test_a_string_body_is_sent_as_is(api, broker, target):
    run_once(api, {"method": "PUT", "uri": f"{target.url}/x", "body": "plain words"})
    assert target.received[0]["body"] == b"plain words"
    assert target.received[0]["headers"]["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE", "OPTIONS", "PATCH"])
def test_every_method_is_sent(api, broker, target, method):
    job = run_once(api, {"method": method, "uri": f"{target.url}/m"})
    assert target.received[0]["method"] == method
    assert job.runs.get().status == RunStatus.SUCCEEDED


@pytest.mark.parametrize(
    "code, expected_range, status",
    [
        (204, "200-299", RunStatus.SUCCEEDED),
        (300, "200-300", RunStatus.SUCCEEDED),  # inclusive
        (301, "200-300", RunStatus.FAILED),
        (503, "200-299", RunStatus.FAILED),
        (404, "200,404", RunStatus.SUCCEEDED),
        (418, [200, "400-499"], RunStatus.SUCCEEDED),
    ],
)
def test_success_is_decided_by_expected_range(api, broker, target, code, expected_range, status):
    job = run_once(api, {"uri": f"{target.url}/status/{code}", "expected_range": expected_range})
    run = job.runs.get()
    assert run.status == status
    assert run.result["status_code"] == code
    if status == RunStatus.FAILED:
        assert f"Status {code}" in run.error
        assert job.status == "failed"


def test_a_slow_target_times_out(api, broker, target):
    job = run_once(api, {"uri": f"{target.url}/slow/2", "timeout": "0.3s"})
    run = job.runs.get()
    assert run.status == RunStatus.TIMED_OUT
    assert "0.3s" in run.error


def test_the_jobs_timeout_applies_when_the_task_has_none(api, broker, target):
    job = run_once(api, {"uri": f"{target.url}/slow/2"}, timeout="0.3s")
    assert job.runs.get().status == RunStatus.TIMED_OUT


def test_a_refused_connection_is_a_clear_failure(api, broker):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    job = run_once(api, {"uri": f"http://127.0.0.1:{port}/x"})
    run = job.runs.get()
    assert run.status == RunStatus.FAILED
    assert "connection" in run.error.lower()
    assert f"127.0.0.1:{port}" in run.error


def test_only_a_bounded_piece_of_the_body_is_kept(api, broker, target, settings):
    settings.SCHED = {**settings.SCHED, "HTTP_BODY_LIMIT": 1000}
    job = run_once(api, {"uri": f"{target.url}/big/5000"})
    run = job.runs.get()
    assert run.status == RunStatus.SUCCEEDED
    assert len(run.result["body"]) == 1000
    assert run.result["body_truncated"] is True


@pytest.fixture
def worker_env(monkeypatch, tmp_path):
    """Set the worker's environment (proxy variables) as if it had started with it; its
    ~/.netrc holds credentials for the target's host."""
    from executors import http

    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login worker password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))

    def start_worker_with(**env: str) -> None:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(http, "_client", None)  # a new client reads them

    start_worker_with(HTTP_PROXY="http://127.0.0.1:9", NO_PROXY="127.0.0.1,localhost")
    yield start_worker_with
    monkeypatch.setattr(http, "_client", None)


def test_the_workers_netrc_credentials_never_reach_a_job_target(api, broker, target, worker_env):
    job = run_once(api, {"uri": f"{target.url}/who"})
    assert job.runs.get().status == RunStatus.SUCCEEDED
    [request] = target.received
    assert "Authorization" not in request["headers"]


def test_credentials_in_the_uri_are_sent_as_basic_auth(api, broker, target, worker_env):
    uri = target.url.replace("http://", "http://ops:p%40ss@") + "/who"
    job = run_once(api, {"uri": uri})
    assert job.runs.get().status == RunStatus.SUCCEEDED
    [request] = target.received
    assert request["headers"]["Authorization"] == "Basic " + b64encode(b"ops:p@ss").decode()
    assert request["path"] == "/who"
    assert "ops" not in request["headers"]["Host"]


def test_requests_go_through_the_proxy_the_worker_environment_names(
    api, broker, target, worker_env
):
    """The target plays the proxy: a proxied request names the whole URI."""
    proxy = target.url.replace("http://", "http://pu:p%40@")
    worker_env(HTTP_PROXY=proxy, NO_PROXY="localhost,127.0.0.1")
    job = run_once(api, {"uri": "http://jobs.example.test/hook?a=1"})
    assert job.runs.get().status == RunStatus.SUCCEEDED
    direct = run_once(api, {"uri": f"{target.url}/direct"})  # NO_PROXY
    assert direct.runs.get().status == RunStatus.SUCCEEDED
    proxied, bypassed = target.received
    assert proxied["path"] == "http://jobs.example.test/hook?a=1"
    assert proxied["headers"]["Proxy-Authorization"] == "Basic " + b64encode(b"pu:p@").decode()
    assert bypassed["path"] == "/direct"
    assert "Proxy-Authorization" not in bypassed["headers"]


def test_no_proxy_may_name_a_network(api, broker, target, worker_env):
    worker_env(HTTP_PROXY="http://127.0.0.1:9", NO_PROXY="10.0.0.0/8, 127.0.0.0/8")
    job = run_once(api, {"uri": f"{target.url}/direct"})
    assert job.runs.get().status == RunStatus.SUCCEEDED  # not sent to the dead proxy
    assert target.received[0]["path"] == "/direct"


def test_a_socks_proxy_is_a_clear_failure(api, broker, target, worker_env):
    worker_env(HTTP_PROXY="socks5://127.0.0.1:9", NO_PROXY="")
    run = run_once(api, {"uri": "http://jobs.example.test/hook"}).runs.get()
    assert run.status == RunStatus.FAILED
    assert "socks5://127.0.0.1 is not http(s)" in run.error


def test_cookies_set_for_one_job_are_never_sent_with_another(api, broker, target):
    run_once(api, {"uri": f"{target.url}/cookie"})
    run_once(api, {"uri": f"{target.url}/who"})
    first, second = target.received
    assert "Cookie" not in second["headers"]


def test_a_body_with_a_nul_byte_is_recorded(api, broker, target):
    job = run_once(api, {"method": "GET", "uri": f"{target.url}/nul"})
    run = job.runs.get()
    assert run.status == RunStatus.SUCCEEDED
    assert run.result["body"] == "before\ufffdafter \xff"  # text/plain: ISO-8859-1


def test_a_compressed_body_is_recorded_decoded(api, broker, target):
    run = run_once(api, {"uri": f"{target.url}/gzip"}).runs.get()
    assert (run.status, run.result["body"]) == (RunStatus.SUCCEEDED, "unzipped ok")
    assert "gzip" in target.received[0]["headers"]["Accept-Encoding"]


def test_a_content_type_set_by_the_task_is_kept_in_any_case(api, broker, target):
    task = {"method": "POST", "uri": f"{target.url}/x", "body": "a,b", "headers": {}}
    run_once(api, {**task, "headers": {"content-type": "text/csv"}})
    run_once(api, task)
    csv, plain = target.received
    assert [(k, v) for k, v in csv["headers"].items() if k.lower() == "content-type"] == [
        ("content-type", "text/csv")  # the task's, once
    ]
    assert csv["body"] == b"a,b"
    assert plain["headers"]["Content-Type"] == "text/plain; charset=utf-8"


@pytest.fixture
def tls_target(tmp_path):
    """An https target with a self-signed certificate for 127.0.0.1 (made by openssl)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    server = Target(tls=(str(cert), str(key)))
    yield server, cert
    server.close()


def test_https_certificates_are_checked_against_the_ca_bundle(api, broker, tls_target, worker_env):
    server, cert = tls_target
    untrusted = run_once(api, {"uri": f"{server.url}/x"}).runs.get()
    assert untrusted.status == RunStatus.FAILED
    assert "certificate verify failed" in untrusted.error
    assert server.received == []
    worker_env(REQUESTS_CA_BUNDLE=str(cert))
    trusted = run_once(api, {"uri": f"{server.url}/x"}).runs.get()
    assert (trusted.status, trusted.result["body"]) == (RunStatus.SUCCEEDED, "ok")
    assert server.received[0]["path"] == "/x"


def _context(uri: str, **task) -> RunContext:
    return run_context({"method": "GET", "uri": uri, "headers": {}, **task})


def _run_in_thread(context: RunContext):
    outcome: list[Outcome] = []
    thread = threading.Thread(target=lambda: outcome.append(HttpExecutor().run(context)))
    thread.start()
    return thread, outcome


def test_a_stop_aborts_the_request_under_way(target):
    """The run is replaced or no longer ours: its thread is free at once, not at the
    response (5 s) or the timeout (30 s)."""
    context = _context(f"{target.url}/slow/5")
    thread, outcome = _run_in_thread(context)
    time.sleep(0.3)  # the request is waiting for its response
    stopped = time.monotonic()
    context.stop.set()
    thread.join(2)
    assert not thread.is_alive()
    assert time.monotonic() - stopped < 0.5
    assert outcome == [Outcome(RunStatus.CANCELED, {}, "Stopped before the response came.")]


def test_a_run_stopped_before_it_sends_sends_nothing(target):
    context = _context(f"{target.url}/never")
    context.stop.set()
    assert HttpExecutor().run(context).status == RunStatus.CANCELED
    assert target.received == []


def test_a_late_stop_never_reaches_the_next_request_on_its_connection(target):
    """Run A is over; run B, next on the same worker thread, sends on A's kept-alive
    connection. A's stop, set now, must not end B's request."""
    a, b = _context(f"{target.url}/ok"), _context(f"{target.url}/slow/0.5")
    assert HttpExecutor().run(a).status == RunStatus.SUCCEEDED
    late = threading.Timer(0.2, a.stop.set)  # while B waits for its response
    late.start()
    assert HttpExecutor().run(b).status == RunStatus.SUCCEEDED
    late.join()
    assert len({r["client_port"] for r in target.received}) == 1  # one connection for both


def test_a_stop_callback_running_after_its_request_ended_changes_nothing(target):
    """Stop.set runs its callbacks outside its lock: one may run just after its request
    ended, while the thread's next request is under way. It must not end that one."""
    from executors import http

    assert HttpExecutor().run(_context(f"{target.url}/ok")).status == RunStatus.SUCCEEDED
    handle = http.shared_client()._handle(http.egress_policy(_context("")))  # this thread's handle
    late = threading.Timer(0.2, handle.abort, [handle.sent])  # the ended request's abort
    late.start()
    assert HttpExecutor().run(_context(f"{target.url}/slow/0.5")).status == RunStatus.SUCCEEDED
    late.join()


def test_a_stop_ends_only_its_own_run(target):
    stopped, other = _context(f"{target.url}/slow/2"), _context(f"{target.url}/slow/0.5")
    first, first_outcome = _run_in_thread(stopped)
    second, second_outcome = _run_in_thread(other)
    time.sleep(0.2)  # both wait for their responses
    stopped.stop.set()
    first.join(1)
    second.join(5)
    assert first_outcome[0].status == RunStatus.CANCELED
    assert second_outcome[0].status == RunStatus.SUCCEEDED


def test_a_runs_error_never_shows_the_credentials_of_its_uri(api, broker):
    port = _closed_port()
    job = run_once(api, {"uri": f"http://ops:s3cret@127.0.0.1:{port}/x", "timeout": "2s"})
    run = job.runs.get()
    assert run.status == RunStatus.FAILED
    assert f"Request to http://127.0.0.1:{port}/x failed" in run.error
    assert "s3cret" not in run.error and "ops" not in run.error


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
