"""Remove the containers of runs that no longer run: their worker died mid-run.

The docker executor always removes its container, but a worker killed while one ran
(SIGKILL, OOM, a crash) leaves it behind, still running its command; the reaper marks
the run `lost` and its recovery is a new run with a container of its own. Every worker
that consumes the `docker` queue sweeps its engine when it starts and then every
DOCKER_JANITOR_INTERVAL seconds: each container labelled `sched.run` whose run is not
`pending` or `running` in the database is removed, killed first. The database decides: workers
sharing one engine never remove each other's live runs, and a container whose run this
database does not know (another installation's) is left alone.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

from django.conf import settings
from django.db import connection
from docker.errors import DockerException, NotFound

from jobs.models import Run
from jobs.states import RunStatus

from .docker_engine import EngineUnreachable, engine_client, error_reason

log = logging.getLogger(__name__)

LABEL = "sched.run"


def sweep() -> int:
    """Remove the containers of this database's runs that have ended; return how many."""
    client = engine_client()
    containers = client.containers.list(all=True, filters={"label": LABEL})
    by_run = {c.labels.get(LABEL, ""): c for c in containers}
    ended = {
        str(run_id)
        for run_id in Run.objects.filter(id__in=[r for r in by_run if _is_uuid(r)])
        .exclude(status__in=(RunStatus.PENDING, RunStatus.RUNNING))
        .values_list("id", flat=True)
    }
    removed = 0
    for run_id, container in by_run.items():
        if run_id not in ended:  # running, or not ours (another installation's engine)
            continue
        log.warning("removing container %s of run %s (not running)", container.name, run_id)
        try:
            container.remove(force=True)
            removed += 1
        except NotFound:
            pass
    return removed


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def start() -> threading.Thread:
    """Sweep now and then every DOCKER_JANITOR_INTERVAL seconds, in a daemon thread."""
    thread = threading.Thread(target=_loop, name="docker-janitor", daemon=True)
    thread.start()
    return thread


def _loop() -> None:
    warned = False
    while True:
        try:
            sweep()
            warned = False
        except (EngineUnreachable, DockerException) as exc:
            if not warned:  # once per outage, not every pass
                log.warning("container janitor: engine unreachable: %s", error_reason(exc))
                warned = True
        except Exception:
            log.warning("container janitor pass failed", exc_info=True)
        finally:
            connection.close()
        time.sleep(settings.SCHED["DOCKER_JANITOR_INTERVAL"])
