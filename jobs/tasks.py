"""Celery entry points: thin, they take ids and call the services."""

from celery import shared_task

from . import reaper, run_pool
from .publish import EXECUTE_RUN, EXECUTE_RUNS


@shared_task(name=EXECUTE_RUN, ignore_result=True, acks_late=True)
def execute_run(run_id: str) -> str | None:
    return run_pool.execute_one(run_id)


@shared_task(name=EXECUTE_RUNS, ignore_result=True, acks_late=True)
def execute_runs(run_ids: list[str], dues: list[float]) -> None:
    """Several runs due together (jobs/run_pool.py): each at its own due time."""
    run_pool.execute_bundle(run_ids, dues)


@shared_task(name="jobs.reap", ignore_result=True)
def reap() -> dict[str, int]:
    """One reaper pass on a worker, on demand. Beat runs the reaper by itself every
    REAP_INTERVAL (jobs/beat.py): a busy worker pool must not delay it."""
    return {
        "republished": reaper.republish_stale_pending(),
        "lost": reaper.recover_lost_runs(),
    }
