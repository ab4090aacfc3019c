"""Celery entry points: thin, they take ids and call the services."""

from celery import shared_task

from . import reaper, runner


@shared_task(name="jobs.execute_run", ignore_result=True, acks_late=True)
def execute_run(run_id: str) -> str | None:
    return runner.execute(run_id)


@shared_task(name="jobs.reap", ignore_result=True)
def reap() -> dict[str, int]:
    """One reaper pass on a worker, on demand. Beat runs the reaper by itself every
    REAP_INTERVAL (jobs/beat.py): a busy worker pool must not delay it."""
    return {
        "republished": reaper.republish_stale_pending(),
        "lost": reaper.recover_lost_runs(),
    }
