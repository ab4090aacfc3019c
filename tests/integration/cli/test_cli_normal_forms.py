"""The CLI's normal forms (sched_cli/normal*.py) match what the server stores, for every
task type and the ways a file may write a field: a default the server adds, or a form it
rewrites, that the CLI does not know would make every apply write again."""

from __future__ import annotations

import pytest
import requests

from jobs.models import Job

from .conftest import write

pytestmark = pytest.mark.django_db(transaction=True)

VARIANTS = """
product: p
group: g
jobs:
  - {name: http-min, task: {uri: "https://a.example/"}, schedule: 1h}
  - name: http-full
    task: {type: http, method: delete, uri: "https://a.example/x?y=1",
           headers: {X-A: "1", Accept: "text/plain"}, body: "plain text",
           expected_range: [204, "200", "300-301"], timeout: PT1M}
    schedule: {every: 45}
  - name: http-json-body
    task: {uri: "https://a.example/", method: POST, body: {a: [1, 2, {b: null}]},
           expected_range: 200}
    schedule: {interval: {hours: 1, minutes: 30}}
  - name: command-list
    task: {type: command, command: [ls, -l, /tmp], cwd: /tmp, timeout: 90}
    schedule: {cron: "*/5  *  *  *  *"}
  - name: command-shell
    task: {type: command, command: "echo $HOME | wc -c", shell: true, env: {A: "", B: "x y"}}
    schedule: {cron: "0 0 1 1 *"}
    timezone: Asia/Tokyo
  - name: script
    task: {type: script, content_file: s.sh, filename: run.sh, args: [a, ""], env: {X: "1"}}
    schedule: {every: 1d}
  - name: docker
    task: {type: docker, image: "busybox:1.36", command: "echo hi", memory: 256MiB, cpus: 2,
           pull: never, network: bridge, env: {A: "1"}, timeout: 10m}
    schedule: {every: 2h}
  - name: docker-min
    task: {type: docker, image: busybox}
    schedule: {every: 2h}
  - name: retries
    task: {uri: "https://a.example/"}
    schedule: {every: 1h}
    retry: {max_attempts: 5, backoff: fixed, delay: 90, max_delay: PT1H, jitter: 0}
    misfire_grace: 0
    concurrency: replace
    start_at: "2030-01-01T00:00:00.5+05:30"
    end_at: "2031-01-01 00:00:00"
    max_runs: 7
    pause_after_failures: 2
  - name: notified
    task: {uri: "https://a.example/"}
    schedule: {every: 1h}
    notify: [{channel: CHANNEL, on: [success, failure]}, {channel: CHANNEL, every_failure: true}]
---
product: sched
group: tools
jobs:
  - {name: echo-default, task: {type: catalog, name: sched.echo}, schedule: {every: 1h}}
  - {name: echo, task: {type: catalog, name: sched.echo}, payload: {message: hi}, schedule: now}
"""


def test_every_variant_is_stored_as_the_cli_expects(alice_cli, tmp_path, live_server):
    channel = requests.post(
        f"{live_server.url}/api/v1/channels",
        json={"name": "hooks", "kind": "webhook", "url": "https://hooks.example/x"},
        headers={"Authorization": f"Token {alice_cli.token}"},
        timeout=10,
    ).json()["id"]
    (tmp_path / "s.sh").write_bytes(b"#!/bin/sh\necho hi\n")
    path = write(tmp_path / "jobs.yaml", VARIANTS.replace("CHANNEL", channel.upper()))

    first = alice_cli.run("apply", "-f", path)
    assert first.stderr == ""  # no "note: ... the server keeps X otherwise"
    assert Job.objects.count() == 12
    again = alice_cli.run("apply", "-f", path)
    assert alice_cli.writes() == []
    assert again.stdout.strip() == "created 0, changed 0, canceled 0; 12 unchanged"
