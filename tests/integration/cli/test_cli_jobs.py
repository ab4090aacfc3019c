"""sched jobs, runs and preview against a live server: tables, --json, errors."""

from __future__ import annotations

import socket
import stat

import pytest

from jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)


def create(sched, *args: str) -> dict:
    return sched.json("jobs", "create", *args)


def test_create_list_and_get_a_job(alice_cli):
    job = create(
        alice_cli,
        "--name",
        "ping",
        "--product",
        "web",
        "--group",
        "health",
        "--uri",
        "https://example.com/health",
        "--method",
        "post",
        "--header",
        "X-A: 1",
        "--schedule",
        "every 5m",
        "--timeout",
        "30s",
    )
    stored = Job.objects.get(id=job["id"])
    assert (stored.name, stored.product, stored.group) == ("ping", "web", "health")
    assert stored.task["method"] == "POST" and stored.task["headers"] == {"X-A": "1"}
    assert job["schedule"] == {"kind": "interval", "every": "5m"}

    table = alice_cli.run("jobs", "list").stdout.splitlines()
    assert table[0].split() == [
        "ID",
        "NAME",
        "PRODUCT/GROUP",
        "TYPE",
        "STATUS",
        "HEALTH",
        "SCHEDULE",
        "NEXT",
        "RUN",
    ]
    assert table[1].split()[:6] == [job["id"], "ping", "web/health", "http", "scheduled", "unknown"]
    assert [j["id"] for j in alice_cli.json("jobs", "list", "--product", "web")] == [job["id"]]
    assert alice_cli.json("jobs", "list", "--product", "other") == []
    shown = alice_cli.run("jobs", "get", job["id"]).stdout
    assert "schedule_description  every 5 minutes" in shown
    assert alice_cli.json("jobs", "get", job["id"])["id"] == job["id"]


def test_the_list_filters_are_the_apis(alice_cli):
    a = create(alice_cli, "--name", "alpha", "--uri", "https://a.example/", "--schedule", "1h")
    create(alice_cli, "--name", "beta", "--command", "true", "--schedule", "@daily")
    alice_cli.run("jobs", "pause", a["id"])
    assert [j["name"] for j in alice_cli.json("jobs", "list", "--status", "paused")] == ["alpha"]
    assert [j["name"] for j in alice_cli.json("jobs", "list", "--type", "command")] == ["beta"]
    assert [j["name"] for j in alice_cli.json("jobs", "list", "--name-contains", "ET")] == ["beta"]
    assert [j["name"] for j in alice_cli.json("jobs", "list", "--limit", "1")] == ["beta"]
    assert len(alice_cli.json("jobs", "list", "--limit", "1", "--all")) == 2
    assert ("GET", "/api/v1/jobs") in alice_cli.requests


def test_pause_resume_run_and_cancel(alice_cli):
    job = create(alice_cli, "--name", "n", "--uri", "https://a.example/", "--schedule", "every 1h")
    assert alice_cli.json("jobs", "pause", job["id"])["status"] == "paused"
    assert alice_cli.json("jobs", "resume", job["id"])["status"] == "scheduled"
    run = alice_cli.json("jobs", "run", job["id"])
    assert (run["job"], run["trigger"]) == (job["id"], "manual")
    listed = alice_cli.json("runs", "list", "--job", job["id"])
    assert [r["id"] for r in listed] == [run["id"]]
    assert alice_cli.json("runs", "get", run["id"])["id"] == run["id"]
    assert "trigger" in alice_cli.run("runs", "get", run["id"]).stdout
    refused = alice_cli.run("jobs", "cancel", job["id"], input="n\n", ok=False)
    assert refused.exit_code == 1
    assert Job.objects.get(id=job["id"]).status == "scheduled"
    assert alice_cli.json("jobs", "cancel", "--yes", job["id"])["status"] == "canceled"


def test_runs_list_takes_the_apis_filters(alice_cli):
    job = create(alice_cli, "--name", "n", "--uri", "https://a.example/", "--schedule", "1h")
    alice_cli.run("jobs", "run", job["id"])
    assert len(alice_cli.json("runs", "list", "--status", "pending", "--type", "http")) == 1
    assert alice_cli.json("runs", "list", "--status", "failed") == []
    assert alice_cli.json("runs", "list", "--since", "2999-01-01T00:00:00Z") == []
    bad = alice_cli.run("runs", "list", "--since", "2030-01-02", "--until", "2030-01-01", ok=False)
    assert "until: Must be after since." in bad.output


def test_preview_shows_the_next_fires_in_the_zone(alice_cli):
    out = alice_cli.run("preview", "0 9 * * mon-fri", "--tz", "Europe/Paris", "--count", "2")
    lines = out.stdout.splitlines()
    assert lines[1] == "cron 0 9 * * mon-fri; time zone Europe/Paris"
    assert len(lines) == 4 and all(" 09:00:00 CE" in line for line in lines[2:])
    answer = alice_cli.json("preview", "every 90m", "--count", "3")
    assert answer["schedule"] == {"kind": "interval", "every": "1h30m"}
    assert len(answer["upcoming"]) == 3


def test_an_api_error_names_each_field(alice_cli):
    result = alice_cli.run(
        "jobs", "create", "--uri", "ftp://x", "--schedule", '{"cron": "bad"}', ok=False
    )
    assert result.exit_code == 1
    assert "the server refused POST /api/v1/jobs (400)" in result.stderr
    assert "task.uri: Only http and https URIs are allowed." in result.stderr
    missing = alice_cli.run("jobs", "get", "00000000-0000-0000-0000-000000000000", ok=False)
    assert "not found: GET /api/v1/jobs/00000000-0000-0000-0000-000000000000 (404)" in (
        missing.stderr
    )


def test_a_refused_connection_names_the_url_and_where_it_came_from(alice_cli):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens once it is closed
    result = alice_cli.run("jobs", "list", ok=False, SCHED_URL=f"http://127.0.0.1:{port}")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: cannot connect to http://127.0.0.1:{port} (from SCHED_URL): Connection refused"
    )


def test_a_bad_token_says_what_to_check(alice_cli):
    result = alice_cli.run("jobs", "list", ok=False, SCHED_TOKEN="nope")
    assert "the server refused the credentials (401)" in result.stderr
    assert "Invalid token." in result.stderr


def test_login_checks_the_token_and_keeps_it_in_a_0600_file(alice_cli):
    config = alice_cli.home / "config.ini"
    refused = alice_cli.run("login", "--token-stdin", input="wrong\n", ok=False, SCHED_TOKEN="")
    assert "refused this token (401)" in refused.stderr
    assert not config.exists()
    alice_cli.run("login", "--token-stdin", input=alice_cli.token + "\n", SCHED_TOKEN="")
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert alice_cli.token in config.read_text()
    # Later commands need neither SCHED_URL nor SCHED_TOKEN.
    assert alice_cli.run("jobs", "list", SCHED_TOKEN="", SCHED_URL="").exit_code == 0
    alice_cli.run("logout")
    assert not config.exists()


def test_one_refused_job_does_not_stop_the_others(alice_cli):
    job = create(alice_cli, "--name", "n", "--uri", "https://a.example/", "--schedule", "1h")
    missing = "00000000-0000-0000-0000-000000000000"
    result = alice_cli.run("jobs", "pause", missing, job["id"], ok=False)
    assert result.exit_code == 1
    assert f"{missing}: not found: POST /api/v1/jobs/{missing}/pause (404)" in result.stderr
    assert Job.objects.get(id=job["id"]).status == "paused"
    assert job["id"] in result.stdout
