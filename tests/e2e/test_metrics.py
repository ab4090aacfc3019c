"""End-to-end: the web's /metrics sums the counters of the real worker and beat.

The module runs its own stack, with METRICS_TOKEN set, so that its counters start from
zero and its figures are exact. Its web, worker and beat share one directory of metrics
files (PROMETHEUS_MULTIPROC_DIR, set by the harness as `make run` sets it): runs are
counted by the worker, fires and ticks by beat, and the web serves the sum with the
database's figures (runs pending and running, jobs by status and health, workers alive).
"""

from __future__ import annotations

import os

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from . import harness
from .harness import wait_until

pytestmark = [pytest.mark.e2e]

TOKEN = "e2e-metrics-token-0123456789abcdef"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("e2e-metrics")
    env = {"METRICS_TOKEN": TOKEN}
    with harness.Stack(workdir, database_url=os.environ.get("DATABASE_URL"), env=env) as product:
        yield product


def scrape(stack, authorization: str | None = f"Bearer {TOKEN}") -> requests.Response:
    headers = {"Authorization": authorization} if authorization else {}
    return requests.get(f"{stack.base_url}/metrics", headers=headers, timeout=10)


def samples(stack) -> dict[tuple[str, frozenset], float]:
    response = scrape(stack)
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(found, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_the_webs_metrics_sum_the_workers_and_beats_counters(stack, target):
    alice = stack.api("alice")
    try:
        jobs = []
        for schedule, kind in [("now", "ok"), ("1s", "ok"), ("1s", "ok"), ("1s", "status/500")]:
            path = target.path(kind)
            task = {"method": "GET", "uri": target.url(path)}
            jobs.append((alice.create_job({"task": task, "schedule": schedule}), path))
        for job, path in jobs:
            target.wait_for(path, 1, timeout=15)
            alice.wait_job(job["id"], ("succeeded", "failed"), timeout=15)

        def settled():  # the figures are cached METRICS_CACHE (5 s) in the web
            found = samples(stack)
            done = value(found, "sched_runs_finished_total", status="succeeded", type="http") == 3
            return found if done and value(found, "sched_runs_pending") == 0 else None

        found = wait_until(settled, timeout=15, interval=0.5, what="the runs in /metrics")
    finally:
        alice.close()

    # The worker's counters (runs, lag, duration), summed by the web.
    assert value(found, "sched_runs_finished_total", status="failed", type="http") == 1
    assert value(found, "sched_run_fire_lag_seconds_count", type="http") == 4
    assert value(found, "sched_run_duration_seconds_count", type="http") == 4
    assert value(found, "sched_run_duration_seconds_bucket", type="http", le="+Inf") == 4
    assert value(found, "sched_runs_lost_total", type="http") == 0
    # Beat's: the three fires it planned (the `now` run is planned by the API), its ticks.
    assert value(found, "sched_dispatcher_fires_planned_total", type="http") == 3
    assert value(found, "sched_dispatcher_tick_seconds_count") > 10
    # The database's figures.
    assert value(found, "sched_state_up") == 1
    assert value(found, "sched_runs_running") == 0
    assert value(found, "sched_jobs", status="succeeded", health="ok") == 3
    assert value(found, "sched_jobs", status="failed", health="failing") == 1
    assert value(found, "sched_workers_alive") == 1
    for queue in harness.WORKER_QUEUES.split(","):
        assert value(found, "sched_queue_workers_alive", queue=queue) == 1, queue


def test_the_web_wants_the_token(stack):
    refused = scrape(stack, None)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert scrape(stack, f"Bearer {TOKEN[:-1]}").status_code == 401
    assert scrape(stack, "Token " + TOKEN).status_code == 401
