"""The headers an HTTP task may set: no framing or connection headers, no smuggled
bytes; what is accepted is sent as it was written."""

from __future__ import annotations

import pytest

from jobs import dispatch, runner
from jobs.models import Job, RunStatus

pytestmark = [pytest.mark.django_db]


def post(api, headers: dict):
    task = {"uri": "http://svc.internal/hook", "headers": headers}
    return api.post("/api/v1/jobs", {"task": task, "schedule": "in 1h"}, format="json")


def header_error(response) -> str:
    assert response.status_code == 400, response.data
    [message] = response.json()["task"]["headers"]
    return message


def test_a_nul_in_a_value_is_refused(api):
    response = post(api, {"X-Secret": "nul \x00 byte"})
    assert response.status_code == 400
    assert "X-Secret" in response.json()["task"]["headers"]


@pytest.mark.parametrize(
    "name",
    [
        "Host",
        "host",
        "Content-Length",
        "content-length",
        "Transfer-Encoding",
        "TRANSFER-ENCODING",
        "Connection",
        "TE",
        "Upgrade",
        "Keep-Alive",
        "Trailer",
        "Proxy-Authorization",
        "proxy-connection",
        "Proxy-Anything",
    ],
)
def test_it_refuses_framing_connection_and_proxy_headers(api, name):
    message = header_error(post(api, {"X-Fine": "1", name: "v"}))
    assert f"Header {name!r} may not be set" in message


def test_a_host_header_is_accepted_when_the_operator_allows_it(api, settings):
    settings.SCHED = {**settings.SCHED, "HTTP_ALLOW_HOST_HEADER": True}
    assert post(api, {"Host": "vhost.internal"}).status_code == 201
    assert "may not be set" in header_error(post(api, {"Content-Length": "5"}))


@pytest.mark.parametrize(
    "value, char",
    [
        ("caf\u00e9 \u263a", "U+263A"),  # beyond latin-1
        ("emoji \U0001f600", "U+1F600"),
        ("bell \x07", "U+0007"),
        ("delete \x7f", "U+007F"),
    ],
)
def test_it_refuses_a_value_that_is_not_latin_1_text_without_naming_it(api, value, char):
    message = header_error(post(api, {"X-Secret": value}))
    assert f"Header 'X-Secret' holds {char}" in message
    assert value not in message


@pytest.mark.parametrize(
    "name", ["Bad Name", "X-A:", "X(A)", "X/A", "Caf\u00e9", "X\u00a0A", "", "@"]
)
def test_it_refuses_a_name_that_is_not_a_token(api, name):
    assert "Invalid header name" in header_error(post(api, {name: "v"}))


def test_a_line_break_in_a_value_is_still_refused(api):
    assert "line break" in header_error(post(api, {"X-A": "a\r\nX-Injected: 1"}))


def test_accepted_headers_are_sent_as_written(api, broker, target):
    headers = {
        "X-Token": "t",
        "x-lower": "kept",
        "X-Latin": "caf\u00e9",
        "X-Tab": "a\tb",
        "Accept": "application/json",
        "!#$%&'*+-.^_`|~": "odd but a token",
    }
    task = {"uri": f"{target.url}/h", "headers": headers}
    response = api.post("/api/v1/jobs", {"task": task, "schedule": "1s"}, format="json")
    assert response.status_code == 201, response.data
    job = Job.objects.get(id=response.json()["id"])
    dispatch.plan_due_fires()
    runner.execute(str(job.runs.get().id))
    assert job.runs.get().status == RunStatus.SUCCEEDED
    received = target.received[0]["headers"]
    assert received["X-Token"] == "t"
    assert received["x-lower"] == "kept"
    assert received["X-Latin"] == "caf\u00e9"  # http.server reads latin-1
    assert received["X-Tab"] == "a\tb"
    assert received["Accept"] == "application/json"
    assert received["!#$%&'*+-.^_`|~"] == "odd but a token"
