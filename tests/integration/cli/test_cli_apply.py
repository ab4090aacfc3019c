"""sched apply against a live server: create, change, leave alone, prune, dry-run."""

from __future__ import annotations

import json

import pytest

from jobs.models import Job, JobStatus

from .conftest import write

pytestmark = pytest.mark.django_db(transaction=True)

FILE = """
product: vps4
group: backups
jobs:
  - name: nightly
    task: {uri: "https://backup.example/run", method: post, expected_range: "200-250,251-299",
           timeout: 30s, headers: {X-Team: ops}}
    schedule: {cron: "0  3 * * *"}
    timezone: Europe/Paris
    retry: {max_attempts: 3, delay: 1m}
    timeout: 300
    misfire_grace: 10m
  - name: rotate
    task: {type: command, command: "logrotate /etc/logrotate.conf", env: {A: "1"}}
    schedule: {every: 600}
    concurrency: forbid
  - name: later
    task: {uri: "https://a.example/"}
    schedule: "2030-01-31T08:00:00"
    timezone: Europe/Paris
  - name: soon
    task: {uri: "https://a.example/"}
    schedule: "in 1h"
  - name: hello
    task: {type: script, content_file: hello.sh, args: [--loud]}
    schedule: {interval: {minutes: 5}}
    start_at: "2030-01-01T00:00:00Z"
    max_runs: 10
    pause_after_failures: 3
---
product: sched
group: tools
jobs:
  - name: echo
    task: {type: catalog, name: sched.echo}
    schedule: {cron: "@Hourly"}
"""


@pytest.fixture
def jobs_file(tmp_path):
    (tmp_path / "hello.sh").write_bytes(b"#!/bin/sh\necho hello\n")
    return write(tmp_path / "jobs.yaml", FILE)


def states() -> dict[str, tuple]:
    """Each job's revision and last change: what a write would move."""
    return {job.name: (job.revision, job.updated_at) for job in Job.objects.all()}


def test_apply_creates_the_jobs_then_a_second_apply_writes_nothing(alice_cli, jobs_file):
    first = alice_cli.run("apply", "-f", jobs_file)
    assert first.stdout.splitlines()[-1] == "created 6, changed 0, canceled 0; 0 unchanged"
    assert sorted(Job.objects.values_list("product", "group", "name")) == [
        ("sched", "tools", "echo"),
        ("vps4", "backups", "hello"),
        ("vps4", "backups", "later"),
        ("vps4", "backups", "nightly"),
        ("vps4", "backups", "rotate"),
        ("vps4", "backups", "soon"),
    ]
    assert "note:" not in first.stderr  # the server kept every field as the file says
    before = states()

    second = alice_cli.run("apply", "-f", jobs_file)
    assert alice_cli.writes() == []
    assert second.stdout.strip() == "created 0, changed 0, canceled 0; 6 unchanged"
    assert states() == before
    # One listing per namespace, one catalog listing: no request per job.
    assert len(alice_cli.requests) == 3


def test_a_changed_field_is_one_patch_of_that_field(alice_cli, jobs_file, tmp_path):
    alice_cli.run("apply", "-f", jobs_file)
    nightly = Job.objects.get(name="nightly")
    changed = FILE.replace("delay: 1m}", "delay: 2m}").replace("    misfire_grace: 10m\n", "")
    path = write(tmp_path / "jobs.yaml", changed)

    result = alice_cli.run("apply", "-f", path)
    assert alice_cli.writes() == [("PATCH", f"/api/v1/jobs/{nightly.id}")]
    assert "~ changed vps4/backups/nightly: retry.delay, misfire_grace" in result.stdout
    nightly.refresh_from_db()
    assert nightly.retry["delay"] == "2m"
    assert nightly.misfire_grace is None  # left out of the file: back to the default
    assert alice_cli.run("apply", "-f", path).stdout.strip().endswith("6 unchanged")


def test_dry_run_prints_the_diff_and_writes_nothing(alice_cli, jobs_file, tmp_path):
    alice_cli.run("apply", "-f", jobs_file)
    changed = FILE.replace('{cron: "0  3 * * *"}', '{cron: "0 4 * * *"}').replace(
        "  - name: soon\n", "  - name: sooner\n"
    )
    path = write(tmp_path / "jobs.yaml", changed)
    before = states()

    result = alice_cli.run("apply", "-f", path, "--prune", "--dry-run")
    assert alice_cli.writes() == []
    assert states() == before
    soon = Job.objects.get(name="soon")
    assert result.stdout.splitlines() == [
        "~ vps4/backups/nightly",
        '    schedule: {"cron": "0 3 * * *"} -> {"cron": "0 4 * * *"}',
        "+ vps4/backups/sooner",
        '    name: "sooner"',
        '    task: {"uri": "https://a.example/"}',
        '    schedule: "in 1h"',
        f"- vps4/backups/soon (id {soon.id}, canceled: not in the files)",
        "would create 1, change 1, cancel 1; 4 unchanged",
    ]
    summary = json.loads(
        alice_cli.run("apply", "-f", path, "--prune", "--dry-run", "--json").stdout
    )
    assert summary["dry_run"] is True
    assert [c["fields"] for c in summary["changed"]] == [["schedule"]]


def test_prune_cancels_only_the_callers_jobs_of_the_files_namespaces(
    alice_cli, dana_cli, jobs_file, tmp_path
):
    alice_cli.run("apply", "-f", jobs_file)
    elsewhere = (
        "product: vps4\ngroup: dns\njobs:\n  - name: keep\n"
        "    task: {uri: 'https://a.example/'}\n    schedule: 1h\n"
    )
    alice_cli.run("apply", "-f", write(tmp_path / "dns.yaml", elsewhere))
    # Dana, who sees every job, has her own "nightly" in the same namespace.
    dana_file = write(
        tmp_path / "dana.yaml",
        "product: vps4\ngroup: backups\njobs:\n  - name: nightly\n"
        "    task: {uri: 'https://d.example/'}\n    schedule: 1h\n",
    )
    assert dana_cli.run("apply", "-f", dana_file).stdout.startswith("+ created")

    kept = FILE.split("  - name: rotate")[0]  # vps4/backups: nightly only
    result = alice_cli.run("apply", "-f", write(tmp_path / "jobs.yaml", kept), "--prune")
    assert result.stdout.splitlines()[-1] == "created 0, changed 0, canceled 4; 1 unchanged"
    live = Job.objects.exclude(status=JobStatus.CANCELED)
    assert sorted(live.values_list("owner__username", "group", "name")) == [
        ("alice", "backups", "nightly"),
        ("alice", "dns", "keep"),  # not a namespace of the file
        ("alice", "tools", "echo"),  # the file no longer names sched/tools at all
        ("dana", "backups", "nightly"),  # not alice's
    ]
    # Dana's apply of her file, by name, never touched alice's job of the same name.
    again = dana_cli.run("apply", "-f", dana_file, "--prune")
    assert dana_cli.writes() == []
    assert again.stdout.strip() == "created 0, changed 0, canceled 0; 1 unchanged"


def test_an_empty_namespace_with_prune_cancels_all_its_jobs(alice_cli, jobs_file, tmp_path):
    alice_cli.run("apply", "-f", jobs_file)
    empty = write(tmp_path / "empty.yaml", "product: sched\ngroup: tools\njobs: []\n")
    alice_cli.run("apply", "-f", empty, "--prune")
    assert Job.objects.get(name="echo").status == JobStatus.CANCELED
    # A canceled job is history: applying it again makes a new one.
    alice_cli.run("apply", "-f", jobs_file)
    assert Job.objects.filter(name="echo").count() == 2


def test_a_directory_is_applied_whole(alice_cli, tmp_path):
    for name in ("a", "b"):
        write(
            tmp_path / f"{name}.yaml",
            f"product: p\ngroup: g\njobs:\n  - name: {name}\n"
            "    task: {uri: 'https://a.example/'}\n    schedule: {every: 1h}\n",
        )
    alice_cli.run("apply", "-f", str(tmp_path))
    assert sorted(Job.objects.values_list("name", flat=True)) == ["a", "b"]


def test_the_servers_errors_name_the_job_and_the_field(alice_cli, tmp_path):
    bad = write(
        tmp_path / "bad.yaml",
        "product: p\ngroup: g\njobs:\n"
        "  - name: ok\n    task: {uri: 'https://a.example/'}\n    schedule: 1h\n"
        "  - name: broken\n    task: {uri: 'ftp://a.example/'}\n    schedule: {cron: nope}\n",
    )
    result = alice_cli.run("apply", "-f", bad, ok=False)
    assert result.exit_code == 1
    assert "! p/g/broken was not created:" in result.stderr
    assert "    task.uri: Only http and https URIs are allowed." in result.stderr
    assert (
        result.stdout.splitlines()[-1] == "created 1, changed 0, canceled 0; 0 unchanged; 1 failed"
    )
    assert list(Job.objects.values_list("name", flat=True)) == ["ok"]


def test_a_file_problem_stops_apply_before_any_request(alice_cli, tmp_path):
    bad = write(tmp_path / "bad.yaml", "product: p\ngroup: g\njobs:\n  - task: {}\n")
    result = alice_cli.run("apply", "-f", bad, ok=False)
    assert "jobs[0]: name: every job needs a name" in result.stderr
    assert alice_cli.requests == []


def test_two_jobs_of_one_name_on_the_server_stop_apply(alice_cli, tmp_path):
    for _ in range(2):
        alice_cli.run(
            "jobs",
            "create",
            "--name",
            "twin",
            "--product",
            "p",
            "--group",
            "g",
            "--uri",
            "https://a.example/",
            "--schedule",
            "1h",
        )
    path = write(
        tmp_path / "twin.yaml",
        "product: p\ngroup: g\njobs:\n  - name: twin\n    task: {uri: 'https://b.example/'}\n"
        "    schedule: 1h\n",
    )
    result = alice_cli.run("apply", "-f", path, ok=False)
    assert "nothing was written" in result.stderr and "2 jobs have this name" in result.stderr
    assert alice_cli.writes() == []
