"""GET /metrics: runs counted where they end, the database's figures, who may read them.

The runs here run in the test's process (tests/integration/helpers.py), which keeps its
own counters (no PROMETHEUS_MULTIPROC_DIR): counters are compared before and after, the
database's figures (this test's rows only) as they are. tests/e2e/test_metrics.py reads
the sum of real web, worker and beat processes.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from executors.base import Outcome
from jobs import dispatch, exposition, heartbeat, reaper, runner
from jobs.gauges import CACHE_KEY
from jobs.models import Job, JobStatus, Run, RunStatus, WorkerProcess
from notifications import delivery
from notifications.models import Channel, Notification
from tests.e2e.harness import free_port

from .helpers import http_job, run_once

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-0123456789"


@pytest.fixture(autouse=True)
def _fresh_figures(settings):
    """The database's figures read at every scrape (each test has its own rows)."""
    settings.METRICS_CACHE = 0
    settings.METRICS_TOKEN = ""


def scrape(client, **headers) -> dict[tuple[str, frozenset], float]:
    """Every sample of GET /metrics: (name, labels) -> value."""
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return parse(response.content.decode())


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before, after, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_runs_are_counted_by_status_and_type_with_their_lag_and_duration(
    api, client, target, broker
):
    before = scrape(client)
    ok = run_once(api, {"method": "GET", "uri": f"{target.url}/ok"})
    failed = run_once(api, {"method": "GET", "uri": f"{target.url}/status/500"})
    assert (ok.status, failed.status) == (JobStatus.SUCCEEDED, JobStatus.FAILED)
    after = scrape(client)

    finished = "sched_runs_finished_total"
    assert delta(before, after, finished, status="succeeded", type="http") == 1
    assert delta(before, after, finished, status="failed", type="http") == 1
    assert delta(before, after, finished, status="timed_out", type="http") == 0
    assert delta(before, after, "sched_run_fire_lag_seconds_count", type="http") == 2
    assert delta(before, after, "sched_run_duration_seconds_count", type="http") == 2
    assert delta(before, after, "sched_run_duration_seconds_sum", type="http") > 0
    # Buckets are cumulative: every run is within the largest one.
    assert delta(before, after, "sched_run_duration_seconds_bucket", type="http", le="+Inf") == 2
    assert delta(before, after, "sched_dispatcher_fires_planned_total", type="http") == 2


def test_a_success_recorded_by_the_orm_path_is_counted_once(api, client, broker):
    """A failing job's success takes the ORM path (it is a recovery), not runner_sql's."""
    api.post("/api/v1/jobs", http_job("1s"), format="json")
    dispatch.plan_due_fires()
    run = runner.claim(str(Run.objects.get().id))
    Job.objects.filter(id=run.job_id).update(health="failing")
    before = scrape(client)
    assert runner.finish(run, Outcome(RunStatus.SUCCEEDED, {"status_code": 200})) is True
    after = scrape(client)
    finished = "sched_runs_finished_total"
    assert delta(before, after, finished, status="succeeded", type="http") == 1
    assert delta(before, after, "sched_run_duration_seconds_count", type="http") == 1
    assert Job.objects.get(id=run.job_id).health == "ok"


def test_missed_and_skipped_runs_are_counted_once_committed(
    api, client, broker, django_capture_on_commit_callbacks
):
    late = Job.objects.get(id=api.post("/api/v1/jobs", http_job("1h"), format="json").json()["id"])
    Job.objects.filter(id=late.id).update(next_run_at=timezone.now() - timedelta(hours=2))
    forbid = Job.objects.get(
        id=api.post(
            "/api/v1/jobs", http_job({"every": "1h"}, concurrency="forbid"), format="json"
        ).json()["id"]
    )
    Job.objects.filter(id=forbid.id).update(next_run_at=timezone.now())
    before = scrape(client)
    with django_capture_on_commit_callbacks(execute=True):
        dispatch.plan_due_fires()
    assert late.runs.get().status == RunStatus.MISSED
    first = forbid.runs.get()
    assert runner.claim(str(first.id)) is not None
    second = Run.objects.create(
        job=forbid,
        job_revision=first.job_revision,
        due_at=first.due_at + timedelta(seconds=1),
        idempotency_key=first.idempotency_key,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert runner.claim(str(second.id)) is None  # the first still runs: skipped
    after = scrape(client)
    finished = "sched_runs_finished_total"
    assert delta(before, after, finished, status="missed", type="http") == 1
    assert delta(before, after, finished, status="skipped", type="http") == 1
    # Planned (and published) is the fire that will run, not the missed one.
    assert delta(before, after, "sched_dispatcher_fires_planned_total", type="http") == 1


def test_lost_and_recovered_runs_are_counted(api, client, broker):
    job = Job.objects.get(id=api.post("/api/v1/jobs", http_job("now"), format="json").json()["id"])
    run = runner.claim(str(job.runs.get().id))
    Run.objects.filter(id=run.id).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    before = scrape(client)
    assert reaper.recover_lost_runs() == 1
    after = scrape(client)
    assert delta(before, after, "sched_runs_lost_total", type="http") == 1
    assert delta(before, after, "sched_runs_recovered_total", type="http") == 1
    # A lost run has no outcome: it is not among the finished.
    assert delta(before, after, "sched_runs_finished_total", status="lost", type="http") == 0


def test_runs_pending_and_running_are_read_from_the_database(api, client, broker):
    for _ in range(3):
        api.post("/api/v1/jobs", http_job("1s"), format="json")
    dispatch.plan_due_fires()
    runner.claim(str(Run.objects.filter(status=RunStatus.PENDING).first().id))
    samples = scrape(client)
    assert value(samples, "sched_state_up") == 1
    assert value(samples, "sched_runs_pending") == 2
    assert value(samples, "sched_runs_running") == 1
    assert value(samples, "sched_runs_pending_due") == 0  # due in a second
    assert value(samples, "sched_runs_overdue_seconds") == 0

    Run.objects.filter(status=RunStatus.PENDING).update(
        due_at=timezone.now() - timedelta(minutes=2)
    )
    samples = scrape(client)
    assert value(samples, "sched_runs_pending_due") == 2
    assert 120 <= value(samples, "sched_runs_overdue_seconds") < 180


def test_jobs_are_counted_by_status_and_health(api, client, broker):
    ids = [
        api.post("/api/v1/jobs", http_job({"every": "1h"}), format="json").json()["id"]
        for _ in range(4)
    ]
    Job.objects.filter(id=ids[0]).update(health="failing")
    Job.objects.filter(id=ids[1]).update(health="ok")
    assert api.post(f"/api/v1/jobs/{ids[2]}/pause").status_code == 200
    samples = scrape(client)
    assert value(samples, "sched_jobs", status="scheduled", health="failing") == 1
    assert value(samples, "sched_jobs", status="scheduled", health="ok") == 1
    assert value(samples, "sched_jobs", status="scheduled", health="unknown") == 1
    assert value(samples, "sched_jobs", status="paused", health="unknown") == 1
    # Every pair is there, 0 when no job has it: a series never vanishes.
    assert ("sched_jobs", frozenset({"status": "canceled", "health": "ok"}.items())) in samples
    assert sum(v for (name, _), v in samples.items() if name == "sched_jobs") == 4


def test_workers_alive_are_those_seen_within_lost_after(client, settings):
    settings.SCHED = {**settings.SCHED, "LOST_AFTER": 30.0}
    now = timezone.now()
    for pid, queues, seen in [
        (1, ["housekeeping", "http"], now),
        (2, ["command"], now - timedelta(seconds=10)),
        (3, ["http"], now - timedelta(seconds=31)),  # dead
    ]:
        WorkerProcess.objects.create(
            host="h", pid=pid, queues=queues, started_at=now, last_seen=seen, concurrency=4
        )
    samples = scrape(client)
    assert value(samples, "sched_workers_alive") == 2
    assert value(samples, "sched_queue_workers_alive", queue="http") == 1
    assert value(samples, "sched_queue_workers_alive", queue="command") == 1
    assert value(samples, "sched_queue_workers_alive", queue="housekeeping") == 1


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_counts_alive_from_its_start_to_its_stop(client):
    process = heartbeat.register_process("w1@host", ["http", "housekeeping"], 8)
    try:
        (row,) = WorkerProcess.objects.all()
        assert (row.host, row.pid, row.name) == (process.host, process.pid, "w1@host")
        assert (row.queues, row.concurrency) == (["housekeeping", "http"], 8)
        assert value(scrape(client), "sched_workers_alive") == 1
    finally:
        heartbeat.unregister_process()
    assert not WorkerProcess.objects.exists()
    assert value(scrape(client), "sched_workers_alive") == 0


@pytest.mark.django_db(transaction=True)
def test_notification_deliveries_are_counted_by_kind_and_outcome(alice, client, target, settings):
    settings.SCHED = {**settings.SCHED, "NOTIFY_BACKOFF": 30.0}

    def attempt(path: str) -> str:
        channel = Channel.objects.create(
            owner=alice, name="ops", kind="webhook", url=target.url + path
        )
        notification = Notification.objects.create(
            channel=channel, event="failure", next_attempt_at=timezone.now()
        )
        return delivery.deliver(str(notification.id))

    before = scrape(client)
    assert attempt("/ok") == "delivered"
    assert attempt("/status/503") == "pending"
    settings.SCHED = {**settings.SCHED, "NOTIFY_RETRY_FOR": 0.0}
    assert attempt("/status/503") == "failed"
    after = scrape(client)
    deliveries = "sched_notification_deliveries_total"
    for outcome in ("delivered", "retrying", "failed"):
        assert delta(before, after, deliveries, kind="webhook", outcome=outcome) == 1


def test_with_a_token_set_metrics_want_it_as_a_bearer_token(client, settings):
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    for wrong in (f"Bearer {TOKEN}x", f"Token {TOKEN}", TOKEN, "Bearer "):
        assert client.get("/metrics", HTTP_AUTHORIZATION=wrong).status_code == 401, wrong
    # From anywhere, with the token.
    assert value(
        scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}", REMOTE_ADDR="203.0.113.7"),
        "sched_state_up",
    )


def test_without_a_token_only_loopback_clients_may_read(client, settings):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.7").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="").status_code == 403  # a Unix socket
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    # Behind a proxy on this host, the client is the one the proxy saw.
    settings.PROXY_COUNT = 1
    forwarded = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}
    assert client.get("/metrics", **forwarded).status_code == 403
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 200


def test_metrics_off_answer_404_and_record_nothing(api, client, target, broker, settings):
    before = scrape(client)
    settings.METRICS_ENABLED = False
    assert client.get("/metrics").status_code == 404
    run_once(api, {"method": "GET", "uri": f"{target.url}/ok"})
    settings.METRICS_ENABLED = True
    after = scrape(client)
    assert delta(before, after, "sched_runs_finished_total", status="succeeded", type="http") == 0
    assert delta(before, after, "sched_run_fire_lag_seconds_count", type="http") == 0


def test_the_figures_are_kept_metrics_cache_seconds(api, client, broker, settings):
    settings.METRICS_CACHE = 60
    cache.delete(CACHE_KEY)
    try:
        api.post("/api/v1/jobs", http_job("now"), format="json")
        assert value(scrape(client), "sched_runs_pending") == 1
        api.post("/api/v1/jobs", http_job("now"), format="json")
        assert value(scrape(client), "sched_runs_pending") == 1  # from the cache
        cache.delete(CACHE_KEY)
        assert value(scrape(client), "sched_runs_pending") == 2
    finally:
        cache.delete(CACHE_KEY)


def test_metrics_port_serves_the_counters_without_the_database_figures(settings):
    settings.METRICS_PORT, settings.METRICS_ADDR = free_port(), "127.0.0.1"
    server = exposition.serve("test")
    assert server is not None
    try:
        url = f"http://127.0.0.1:{settings.METRICS_PORT}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            samples = parse(response.read().decode())
        assert any(name == "sched_dispatcher_tick_seconds_count" for name, _ in samples)
        assert not any(name in ("sched_jobs", "sched_state_up") for name, _ in samples)
        assert exposition.serve("another") is None  # the port is taken: said, not raised

        settings.METRICS_TOKEN = TOKEN
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=5)
        refused.value.close()
        assert refused.value.code == 401
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
    finally:
        server.shutdown()
        server.server_close()


def test_the_dashboard_and_the_docs_name_the_metrics_that_are_served(client):
    """docs/grafana-dashboard.json queries, and docs/operations.md lists, what /metrics has."""
    response = client.get("/metrics")
    served = {
        family.name
        for family in text_string_to_metric_families(response.content.decode())
        if family.name.startswith("sched_")
    }
    docs = Path(__file__).resolve().parents[2] / "docs"
    dashboard = json.loads((docs / "grafana-dashboard.json").read_text())
    queried = {
        re.sub(r"_(bucket|count|sum|total)$", "", name)
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        for name in re.findall(r"\bsched_\w+", target["expr"])
    }
    assert queried <= served, queried - served
    assert {"sched_runs_finished", "sched_run_fire_lag_seconds", "sched_jobs"} <= queried
    operations = (docs / "operations.md").read_text()
    documented = {
        re.sub(r"_total$", "", name) for name in re.findall(r"^\| `(sched_\w+)`", operations, re.M)
    }
    assert documented == served
