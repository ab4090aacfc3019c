"""A worker process's run pool and bundles (jobs/run_pool.py): several runs due together,
delivered in one message, each started at its own due time against a real target."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from django.db import connections

from jobs import dispatch, run_pool, runner
from jobs.models import Job, Run, RunStatus

pytestmark = pytest.mark.django_db(transaction=True)  # the pool's threads commit their own


def _close_pool_connections(threads: int) -> None:
    """Have every thread of the run pool close its database connection (one task each),
    so the test database can be dropped at the end."""
    meet = threading.Barrier(threads)

    def close() -> None:
        meet.wait(10)
        connections.close_all()

    for future in [run_pool._run_pool().submit(close) for _ in range(threads)]:
        future.result()


@pytest.fixture
def pool():
    """A run pool of 2 threads, as a worker started with --concurrency 2 has."""
    run_pool.configure(2)
    yield 2
    _close_pool_connections(2)
    run_pool.configure(None)


def planned_runs(api, uris: list[str]) -> list[Run]:
    ids = []
    for uri in uris:
        body = {"task": {"uri": uri}, "schedule": "1s"}
        response = api.post("/api/v1/jobs", body, format="json")
        assert response.status_code == 201, response.data
        ids.append(response.json()["id"])
    dispatch.plan_due_fires()
    return [Run.objects.get(job_id=job_id) for job_id in ids]


def test_each_run_of_a_bundle_starts_at_its_own_due_time_and_is_recorded(api, broker, target, pool):
    runs = planned_runs(api, [f"{target.url}/bundle/{i}" for i in range(3)])
    start = time.time() + 0.3
    dues = [start, start + 0.15, start + 0.3]

    statuses = run_pool.execute_bundle([str(r.id) for r in runs], dues)

    assert statuses == [RunStatus.SUCCEEDED] * 3
    arrived = {request["path"]: request["at"] for request in target.received}
    for i, due in enumerate(dues):
        assert due <= arrived[f"/bundle/{i}"] < due + 0.25  # never early, and promptly
    for run in runs:
        run.refresh_from_db()
        assert run.status == RunStatus.SUCCEEDED
        assert ":run_" in run.worker  # ran on a thread of the run pool
        assert run.job.status == "succeeded"


def test_a_bundle_drops_runs_that_are_no_longer_to_run_and_runs_the_others(
    api, broker, target, pool
):
    first, taken, changed, last = planned_runs(api, [f"{target.url}/ok/{i}" for i in range(4)])
    assert runner.claim(str(taken.id)) is not None  # another worker has started it
    Job.objects.filter(id=changed.job_id).update(revision=changed.job_revision + 1)  # edited

    statuses = run_pool.execute_bundle(
        [str(r.id) for r in (first, taken, changed, last)], [0.0] * 4
    )

    assert statuses == [RunStatus.SUCCEEDED, None, None, RunStatus.SUCCEEDED]
    assert sorted(request["path"] for request in target.received) == ["/ok/0", "/ok/3"]
    assert Run.objects.get(id=taken.id).status == RunStatus.RUNNING  # still the other's
    assert Run.objects.get(id=changed.id).status == RunStatus.CANCELED


def test_one_run_that_errors_does_not_stop_the_others(
    api, broker, target, pool, monkeypatch, caplog
):
    runs = planned_runs(api, [f"{target.url}/ok/{i}" for i in range(3)])
    execute = runner.execute

    def broken_for_the_second(run_id):
        if run_id == str(runs[1].id):
            raise ConnectionError("database gone")
        return execute(run_id)

    monkeypatch.setattr(runner, "execute", broken_for_the_second)
    with caplog.at_level(logging.ERROR, logger="jobs.run_pool"):
        statuses = run_pool.execute_bundle([str(r.id) for r in runs], [0.0] * 3)

    assert statuses == [RunStatus.SUCCEEDED, None, RunStatus.SUCCEEDED]
    assert f"run failed to execute run={runs[1].id}" in caplog.text
    assert Run.objects.get(id=runs[1].id).status == RunStatus.PENDING  # for the reaper


def test_a_worker_process_runs_at_most_its_pool_of_runs_at_once(api, broker, target, pool):
    """Bundles and single runs share the pool: 2 threads, 5 runs of 0.4 s, three waves."""
    runs = planned_runs(api, [f"{target.url}/slow/0.4?{i}" for i in range(5)])
    single = threading.Thread(target=run_pool.execute_one, args=[str(runs[0].id)])
    single.start()
    run_pool.execute_bundle([str(r.id) for r in runs[1:]], [0.0] * 4)
    single.join(10)

    starts = sorted(request["at"] for request in target.received)
    assert len(starts) == 5
    for i in range(2, 5):  # the third run starts only when one of the first two ended
        assert starts[i] - starts[i - 2] >= 0.35
    assert {r.status for r in Run.objects.all()} == {RunStatus.SUCCEEDED}
