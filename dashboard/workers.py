"""Workers alive, as the dashboard shows them (operators only).

A worker process keeps its jobs.WorkerProcess row (host, pid, queues, concurrency) and its
`last_seen` every HEARTBEAT_INTERVAL from its heartbeat thread (jobs/heartbeat.py): alive
while that is within LOST_AFTER, as the metrics count them (jobs/gauges.py). Its running
runs are the runs whose `worker` (`host:pid:thread`) names it. A process running runs
without a row (one started before the rows existed) is shown from its runs, its queues and
concurrency unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from jobs.models import Run, RunStatus, WorkerProcess

RUNNING_READ_AT_MOST = 5000  # running runs read (run_running_idx); more are not counted


@dataclass
class Worker:
    host: str
    pid: str
    queues: list[str] | None  # None: unknown
    concurrency: int | None
    running: int
    last_heartbeat: datetime | None


def workers_alive(now: datetime | None = None) -> list[Worker]:
    now = now or timezone.now()
    alive_since = now - timedelta(seconds=settings.SCHED["LOST_AFTER"])
    workers: dict[tuple[str, str], Worker] = {
        (process.host, str(process.pid)): Worker(
            process.host,
            str(process.pid),
            list(process.queues),
            process.concurrency or None,
            0,
            process.last_seen,
        )
        for process in WorkerProcess.objects.filter(last_seen__gte=alive_since)
    }
    rows = Run.objects.filter(status=RunStatus.RUNNING).values_list("worker", "heartbeat_at")
    for name, beat in rows[:RUNNING_READ_AT_MOST]:
        host, pid, _ = [*name.split(":", 2), "", ""][:3]  # host:pid:thread
        worker = workers.setdefault((host, pid), Worker(host, pid, None, None, 0, None))
        worker.running += 1
        if beat and (worker.last_heartbeat is None or beat > worker.last_heartbeat):
            worker.last_heartbeat = beat
    return sorted(workers.values(), key=lambda w: (w.host, w.pid))
