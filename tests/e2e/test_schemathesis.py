"""Schemathesis and crafted hostile requests against the live web process: no input
answers a 5xx.

A fresh stack (gunicorn as the Procfile runs it, beat, PostgreSQL or SQLite, Redis) is
fuzzed through its own OpenAPI document with `schemathesis run`: every check, the
examples, coverage, fuzzing and stateful phases, for a fixed time per user: alice (an
ordinary user) and carol (holds `jobs.run_code`, so command, script and docker tasks
are accepted). tests/e2e/schemathesis_hooks.py steers the free fields of the document's
task and schedule components to valid values, so that valid jobs get created. The worker
is stopped before the run: generated jobs are created, changed, paused and run now, but
nothing executes their random URLs or commands.

What is asserted, and what only reported (docs/security.md, Input limits; docs/api.md,
"The OpenAPI document"):
- server errors (`not_a_server_error`: any 5xx) must be 0, and the web process's access
  log must show no 5xx either;
- the document must be exact: the conformance checks (status codes, content types,
  response headers and response bodies against the document) must report nothing;
- run errors that mean the service failed (a reset connection, no answer in time) must
  be 0; schemathesis's internal ones (its generator failing) are counted only;
- the other checks (positive data accepted, negative data rejected, ...) run and are
  counted on the figure line, but do not fail the test: the document cannot say every
  rule of the API (a limit set by the operator, a task type the user may not create).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections import Counter

import pytest
import requests

from . import harness

pytestmark = [pytest.mark.e2e]

# seconds of generated requests per user (schemathesis --max-time); two users, so the test
# takes about twice this plus the stack's start.
FUZZ_SECONDS = float(os.environ.get("SCHEMATHESIS_SECONDS", "45"))
SERVER_ERRORS = {"ServerError", "ContentTypeServerError"}
# What the conformance checks report (status_code_conformance, content_type_conformance,
# response_headers_conformance, response_schema_conformance), by failure type.
CONFORMANCE = {
    "UndefinedStatusCode",
    "UndefinedContentType",
    "MissingContentType",
    "MalformedMediaType",
    "MissingHeaders",
    "JsonSchemaError",
    "MalformedJson",
    "ContentDeserializationError",
    "DiscriminatorMismatch",
}
HOOKS = "tests.e2e.schemathesis_hooks"
# Errors of the run that mean the service failed (a reset connection, no answer in time);
# the others (e.g. a "Runtime Error" inside schemathesis's generator) are counted only.
FATAL_ERRORS = {"Network Error", "Unresponsive Operation", "Unhealthy API", "Hook Error"}


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory):
    """A stack of its own (fresh database), its worker stopped (see the module docstring)."""
    workdir = tmp_path_factory.mktemp("schemathesis")
    with harness.Stack(workdir, database_url=os.environ.get("DATABASE_URL")) as stack:
        stack.processes.pop("worker").stop()
        yield stack


def run_schemathesis(stack: harness.Stack, user: str, report_dir) -> tuple[dict, str, float]:
    """Run the CLI as `user`; its JSON report, its output, and how long it took."""
    argv = [
        str(harness.VENV_BIN / "schemathesis"),
        "run",
        f"{stack.base_url}/api/v1/schema",
        "--header",
        f"Authorization: Token {stack.tokens[user]}",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-time",
        str(int(FUZZ_SECONDS)),
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--suppress-health-check",
        "all",
        # A failure is reported as generated: shrinking it can take longer than the run.
        "--no-shrink",
        "--report",
        "json",
        "--report-dir",
        str(report_dir),
        "--no-color",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": HOOKS, "PYTHONPATH": str(harness.ROOT)}
    started = time.monotonic()
    done = subprocess.run(
        argv,
        cwd=report_dir,  # its cache (.schemathesis/) goes there, not into the checkout
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=FUZZ_SECONDS * 4 + 120,
    )
    took = time.monotonic() - started
    reports = sorted(report_dir.glob("*.json"))
    assert reports, f"schemathesis wrote no report ({done.returncode}):\n{done.stdout[-5000:]}"
    return json.loads(reports[-1].read_text()), done.stdout + done.stderr, took


def access_log_5xx(stack: harness.Stack, since: int) -> list[str]:
    """Lines of gunicorn's access log (after byte `since`) answering 5xx."""
    with open(stack.processes["web"].log, "rb") as f:
        f.seek(since)
        text = f.read().decode(errors="replace")
    return [line for line in text.splitlines() if re.search(r'HTTP/1\.[01]" 5\d\d ', line)]


@pytest.mark.parametrize("user", ["alice", "carol"])
def test_no_generated_request_gets_a_server_error(fuzz_stack, user, tmp_path, request):
    log_start = fuzz_stack.processes["web"].log.stat().st_size
    report, output, took = run_schemathesis(fuzz_stack, user, tmp_path)
    failures = Counter({f["type"]: f["count"] for f in report["failures"]})
    server_errors = sum(failures[name] for name in SERVER_ERRORS)
    conformance = {name: failures[name] for name in CONFORMANCE if failures[name]}
    cases = report["test_cases"]["generated"]
    others = ", ".join(f"{name} {count}" for name, count in sorted(failures.items()))
    errors = ", ".join(f"{e['title']} {e['count']}" for e in report["errors"])
    line = (
        f"schemathesis as {user}: {cases} cases in {took:.0f} s (seed {report['seed']}), "
        f"server errors {server_errors}, conformance failures {sum(conformance.values())}; "
        "other checks (reported, not asserted): "
        f"{others or 'none'}; run errors: {errors or 'none'}"
    )
    request.node.user_properties.append(("e2e_figure", line))
    print(f"[e2e] {line}")
    assert report["operations"]["tested"] > 0, output[-5000:]
    assert cases > 0, output[-5000:]
    assert server_errors == 0, f"{line}\n{output[-20000:]}"
    assert not conformance, f"{line}\n{output[-20000:]}"
    broken = [e for e in report["errors"] if e["title"] in FATAL_ERRORS]
    assert not broken, f"schemathesis errors: {report['errors']}\n{output[-5000:]}"
    assert access_log_5xx(fuzz_stack, log_start) == []


def crafted_requests(base: str) -> list[tuple[str, str, bytes | None, str]]:
    """(method, url, body, what) of the inputs that were 500s (docs/security.md)."""
    jobs = f"{base}/api/v1/jobs"
    task = '{"uri": "http://127.0.0.1:9/x"'
    deep = b"[" * 100_000 + b"]" * 100_000
    crafted = [
        ("POST", jobs, f'{{"task": {task}, "body": "\\u0000"}}, "schedule": "now"}}', "NUL"),
        ("POST", jobs, f'{{"task": {task}}}, "schedule": "now", "name": "\\ud800"}}', "lone"),
        ("POST", jobs, f'{{"task": {task}}}, "schedule": "1h", "payload": {{"\\u0000": 1}}}}', "K"),
        ("POST", jobs, f'{{"task": {task}}}, "schedule": "now", "group": "\\udfff"}}', "lone"),
        ("POST", jobs, b'{"task": ' + deep + b', "schedule": "now"}', "deep JSON"),
        ("POST", jobs, b"[" * 1_000 + b"]" * 1_000, "deep JSON"),
        ("POST", f"{base}/api/v1/schedules/preview", b'{"schedule": ' + deep + b"}", "deep"),
        ("POST", f"{base}/api/v1/schedules/preview", b'{"schedule": "\\u0000"}', "NUL"),
        ("POST", jobs, f'{{"task": {task}, "body": {{"x": 1e999}}}}, "schedule": "now"}}', "inf"),
    ]
    for query in (
        "limit=99999999999999999999",
        "limit=-1",
        "limit=abc",
        "limit=1000000",
        "offset=99999999999999999999",
        "offset=-5",
        "name__contains=%00",
        "name=%00",
        "product=%00",
        "group=%00",
        "status=%00",
        "type=%00",
    ):
        crafted.append(("GET", f"{jobs}?{query}", None, query))
    crafted.append(("GET", f"{base}/api/v1/products/%00/groups/g/jobs", None, "NUL in path"))
    return [(m, u, b.encode() if isinstance(b, str) else b, w) for m, u, b, w in crafted]


def test_crafted_hostile_requests_get_no_server_error(fuzz_stack, request):
    """The inputs that were 500s, sent to gunicorn: each a 400, nothing created."""
    session = requests.Session()
    session.headers["Authorization"] = f"Token {fuzz_stack.tokens['bob']}"
    crafted = crafted_requests(fuzz_stack.base_url)
    answers = []
    for method, url, body, what in crafted:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        response = session.request(method, url, data=body, headers=headers, timeout=30)
        answers.append((response.status_code, method, url[:120], what, response.text[:200]))
    server_errors = [a for a in answers if a[0] >= 500]
    line = f"crafted hostile requests to gunicorn: {len(answers)}, 5xx: {len(server_errors)}"
    request.node.user_properties.append(("e2e_figure", line))
    print(f"[e2e] {line}")
    assert not server_errors, server_errors
    assert all(a[0] == 400 for a in answers), [a for a in answers if a[0] != 400]
    assert session.get(f"{fuzz_stack.base_url}/api/v1/jobs").json()["count"] == 0
