"""Workers alive, as the dashboard shows them (operators only).

Until the workers record their own heartbeat rows (host, pid, queues, concurrency,
last seen), a worker process is known by the runs it is running: their `worker` is
`host:pid:thread` and their `heartbeat_at` is touched every HEARTBEAT_INTERVAL by the
process's heartbeat thread. An idle worker does not show; queues and concurrency are
unknown. Swap this one function when the worker table lands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from jobs.models import Run, RunStatus

RUNNING_READ_AT_MOST = 5000  # running runs read (run_running_idx); more are not counted


@dataclass
class Worker:
    host: str
    pid: str
    queues: list[str] | None  # None: unknown
    concurrency: int | None
    running: int
    last_heartbeat: datetime | None


def workers_alive() -> list[Worker]:
    workers: dict[tuple[str, str], Worker] = {}
    rows = Run.objects.filter(status=RunStatus.RUNNING).values_list("worker", "heartbeat_at")
    for name, beat in rows[:RUNNING_READ_AT_MOST]:
        host, pid, _ = [*name.split(":", 2), "", ""][:3]  # host:pid:thread
        worker = workers.setdefault((host, pid), Worker(host, pid, None, None, 0, None))
        worker.running += 1
        if beat and (worker.last_heartbeat is None or beat > worker.last_heartbeat):
            worker.last_heartbeat = beat
    return sorted(workers.values(), key=lambda w: (w.host, w.pid))
