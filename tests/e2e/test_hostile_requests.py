"""End-to-end: hand-made hostile requests against the real web process (DEBUG off) as an
ordinary user and anonymously: no answer is a 5xx, and a bad body is a 4xx.

It complements the schemathesis run (generated cases) with the inputs that broke the
service before (issue 12): overflowing schedules and delays, dates past year 9999, NUL
and lone surrogates, deep nesting, huge query numbers, framing headers, encoded
loopback addresses, odd ids. It prints the count as a figure line.
"""

from __future__ import annotations

import uuid

import pytest

pytestmark = [pytest.mark.e2e]

HTTP = {"method": "POST", "uri": "http://127.0.0.1:9/hook"}
SCHEDULES = [
    {"every": "999999999d"},
    {"every": 1e308},
    {"every": -1},
    {"every": "1ms"},
    {"interval": {"weeks": 1e12}},
    {"interval": {"days": 10**30}},
    {"cron": "*/100 * * * *"},
    {"cron": "*/99999999999999999999 * * * *"},
    {"cron": ",".join(str(i % 60) for i in range(5000)) + " * * * *"},
    {"cron": "@reboot"},
    {"cron": "\u0663 * * * *"},
    {"cron": "* * * * *\u0000"},
    {"cron": 5},
    {"every": "10m", "cron": "* * * * *"},
    "9999-12-31T23:59:59-05:00",
    "9999-12-31T23:59:59",
    "0001-01-01T00:00:00+05:00",
    "10000-01-01T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "999999999d",
    "in 99999999999999999999s",
    "PT99999999999999999999S",
    "P1Y",
    "now\u0000",
    "\ud800",
    "",
    None,
    [],
    {},
]
TEXT_FIELDS = ["name", "product", "group", "timezone"]
BAD_STRINGS = ["\u0000", "a\u0000b", "\ud800", "\udfff x", "x" * 100_000]


def cases() -> list[tuple[str, str, dict]]:
    """(method, path, request kwargs) for every crafted request, job id to be filled in."""
    found = []

    def add(method, path, **kwargs):
        found.append((method, path, kwargs))

    for schedule in SCHEDULES:
        add("POST", "jobs", json={"task": HTTP, "schedule": schedule})
        add("POST", "schedules/preview", json={"schedule": schedule})
        add("PATCH", "jobs/{id}", json={"schedule": schedule})
        for field in ("start_at", "end_at"):
            add("POST", "jobs", json={"task": HTTP, "schedule": {"every": "1h"}, field: schedule})
    for field in TEXT_FIELDS:
        for text in BAD_STRINGS:
            add("POST", "jobs", json={"task": HTTP, "schedule": "1h", field: text})
    for text in BAD_STRINGS[:4]:
        add("POST", "jobs", json={"task": {**HTTP, "body": {"k": text}}, "schedule": "1h"})
        add("POST", "jobs", json={"task": {**HTTP, "body": {text: 1}}, "schedule": "1h"})
        add("POST", "jobs", json={"task": {**HTTP, "headers": {"X-A": text}}, "schedule": "1h"})
        catalog = {"type": "catalog", "name": "sched.echo"}
        add("POST", "jobs", json={"task": catalog, "payload": {"message": text}, "schedule": "1h"})
        add("POST", "jobs", json={"task": catalog, "payload": {text: "x"}, "schedule": "1h"})
    for depth in (100, 1_000, 100_000):
        nested = "[" * depth + "]" * depth
        body = '{"task": {"uri": "http://127.0.0.1:9/", "body": ' + nested + '}, "schedule": "1h"}'
        add("POST", "jobs", data=body, headers={"Content-Type": "application/json"})
    for raw in ['{"task": NaN, "schedule": "now"}', '{"schedule": Infinity}', "{", "\x00", "[]"]:
        add("POST", "jobs", data=raw, headers={"Content-Type": "application/json"})
    for value in ("99999999999999999999999", "-1", "1e9", "0x10", "\u0000", "9" * 400):
        add("GET", "jobs", params={"limit": value})
        add("GET", "jobs", params={"offset": value})
        add("GET", "jobs/{id}/runs", params={"limit": value})
        add("GET", "jobs/{id}/upcoming", params={"count": value})
    for name, value in [("status", "\u0000"), ("type", "x" * 5000), ("name__contains", "\u0000")]:
        add("GET", "jobs", params={name: value})
    for job_id in ("%00", "..%2F..%2Fetc", "x" * 5000, "\u0663", str(uuid.uuid4()) + "%00"):
        add("GET", f"jobs/{job_id}")
        add("GET", f"runs/{job_id}")
        add("DELETE", f"jobs/{job_id}")
    for header, value in [
        ("Host", "evil"),
        ("Content-Length", "5"),
        ("Transfer-Encoding", "chunked"),
        ("Connection", "close"),
        ("Proxy-Authorization", "x"),
        ("X-Caf\u00e9", "x"),
        ("X-Ok", "caf\u00e9 \u2603"),
        ("X-Ok", "a\r\nInjected: 1"),
    ]:
        add("POST", "jobs", json={"task": {**HTTP, "headers": {header: value}}, "schedule": "1h"})
    for uri in (
        "http://2130706433/",
        "http://0x7f000001/",
        "http://127.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:99999/",
        "gopher://127.0.0.1/",
        "http://user:pw@/",
        "http://\u0000/",
    ):
        add("POST", "jobs", json={"task": {"uri": uri}, "schedule": "1h"})
    for key, value in [
        ("timeout", "999999999d"),
        ("timeout", 1e308),
        ("misfire_grace", -1),
        ("max_runs", 2**63),
        ("max_runs", "1e400"),
        ("retry", {"max_attempts": 10**30}),
        ("retry", {"delay": "999999999d", "max_attempts": 2}),
        ("retry", {"jitter": "NaN"}),
        ("concurrency", "\u0000"),
        ("payload", [1] * 10),
    ]:
        add("POST", "jobs", json={"task": HTTP, "schedule": {"every": "1h"}, key: value})
    prune = {"type": "catalog", "name": "sched.prune_runs"}
    add("POST", "jobs", json={"task": prune, "payload": {"older_than": "1ms"}, "schedule": "now"})
    sleep = {"type": "catalog", "name": "sched.sleep"}
    add("POST", "jobs", json={"task": sleep, "payload": {"seconds": 1e308}, "schedule": "now"})
    add("POST", "jobs", data=b"x" * (13 * 1024 * 1024), headers={"Content-Type": "text/plain"})
    add(
        "POST",
        "jobs",
        data="{}",
        headers={"Content-Type": "application/json", "Content-Length": "abc"},
    )
    return found


def test_no_crafted_request_gets_a_server_error(e2e_stack, alice, anon, record_property):
    own = alice.create_job({"task": HTTP, "schedule": {"every": "1h"}})
    crafted = cases()
    errors, answered = [], 0
    for client in (alice, anon):
        for method, path, kwargs in crafted:
            try:
                response = client.request(method, path.format(id=own["id"]), **kwargs)
            except Exception as exc:  # a refused connection, a reset: never acceptable
                errors.append(f"{method} {path} {str(kwargs)[:120]}: {exc!r}")
                continue
            answered += 1
            if response.status_code >= 500:
                errors.append(
                    f"{method} {path} {str(kwargs)[:120]} -> {response.status_code}: "
                    f"{response.text[:200]}"
                )
    line = f"hostile requests: {answered} answered, {len(errors)} server errors"
    print(f"\n[e2e] {line}")
    record_property("e2e_figure", line)
    assert not errors, "\n".join(errors[:30])
