"""The machinery of a benchmark run: a fresh database, a private Redis, product processes.

Reuses the e2e harness's `Process` (a subprocess in its own session, logged to a file),
`RedisServer` (a private redis-server without persistence), `Database` and the argv and
environment of product processes. The database is
`bench_<random>` on the PostgreSQL server of `BENCH_DATABASE_URL`, dropped at the end;
the machine's other databases and its shared Redis are never touched.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import requests

from tests.e2e.harness import (
    ROOT,
    UNTHROTTLED,
    VENV_BIN,
    WORKER_QUEUES,
    Database,
    Process,
    RedisServer,
    beat_argv,
    celery_worker_argv,
    free_port,
    manage,
    process_env,
    tail,
    wait_logged,
    wait_until,
    web_argv,
    web_healthy,
)

from .stats import child_pids

__all__ = [
    "ROOT",
    "VENV_BIN",
    "Bench",
    "Process",
    "free_port",
    "rss_mib",
    "tail",
    "wait_until",
    "wal_bytes",
]

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"

# The product's defaults (Procfile, settings) but for what a load of one user needs.
BENCH_ENV = {
    "SECRET_KEY": "bench-only-secret-key-" + "0123456789abcdef" * 3,
    "DEBUG": "0",
    "DJANGO_SETTINGS_MODULE": "schedsite.settings",
    # The bench user's jobs fire every second or faster, and its templates are dated far
    # ahead (2099) so that they never fire.
    "MIN_INTERVAL": "0",
    "MAX_SCHEDULE_AHEAD": str(100 * 366 * 86400),
    "PYTHONUNBUFFERED": "1",
    # The bench user is an ordinary user and the target is on loopback: opened as an
    # operator opens an internal host, so the policy's check is measured.
    "EGRESS_ALLOW": "127.0.0.0/8",
    # The load is one user's, as fast as it goes: no request rates, no job quota.
    **UNTHROTTLED,
    "MAX_JOBS_PER_USER": "0",
}


def wal_bytes() -> int:
    """The PostgreSQL server's write-ahead log position, in bytes: the difference between two
    readings is what the server wrote meanwhile (rows, index entries, commits). Unlike CPU
    time it does not move with the speed of the machine; it counts the whole server (the
    bench database is the only busy one while a benchmark runs)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
        return int(cursor.fetchone()[0])


def rss_mib(pid: int, *, children: bool = False) -> float:
    """Resident memory of a process (and, optionally, of its direct children), MiB."""

    def one(p: int) -> int:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    total = one(pid)
    if children:
        total += sum(one(child) for child in child_pids(pid))
    return total / 1024


class Bench:
    """A fresh PostgreSQL database and a private Redis; starts and stops product processes.

    Use as a context manager. `env` is the environment of every product process: the
    product's defaults (Procfile, settings) with only the database, Redis and var/ set.
    """

    def __init__(self, workdir: Path, server_url: str | None = None):
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        server = server_url or os.environ.get("BENCH_DATABASE_URL") or DEFAULT_SERVER
        self.db = Database(workdir, server, prefix="bench")
        self.redis = RedisServer(workdir)
        self.processes: dict[str, Process] = {}
        self.env: dict[str, str] = {}
        self._exit = contextlib.ExitStack()

    # -- lifecycle

    def __enter__(self) -> Bench:
        try:
            self.redis.start()
            self._exit.callback(self.redis.stop)
            self.db.create()
            self._exit.callback(self.db.drop)
            self.env = process_env(
                self.workdir, BENCH_ENV, database_url=self.db.url, redis_url=self.redis.url
            )
            self._exit.callback(self.stop_all)
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self._exit.close()

    # -- processes

    def start(self, name: str, argv: list[str], *, env: dict | None = None) -> Process:
        if name in self.processes:
            self.stop(name)
        process = Process(
            name, argv, env={**self.env, **(env or {})}, cwd=ROOT, log=self.workdir / f"{name}.log"
        )
        self.processes[name] = process
        return process

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            process.stop(grace=15)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)

    def wait_log(self, name: str, mark: str, timeout: float = 60) -> None:
        wait_logged(self.processes[name], (mark,), timeout=timeout, interval=0.05)

    def start_worker(
        self,
        name: str = "worker",
        *,
        app: str | None = None,
        queues: str = WORKER_QUEUES,
        concurrency: int = 16,
        env: dict | None = None,
        wait: bool = True,
    ) -> Process:
        """A worker as the Procfile starts it: threads pool, 16 threads, INFO logging.

        `app` defaults to the product's (`schedsite`), or BENCH_WORKER_APP (e.g.
        `bench.baseline_app`).
        """
        app = app or os.environ.get("BENCH_WORKER_APP", "schedsite")
        process = self.start(
            name,
            celery_worker_argv(f"bench-{name}@%h", app=app, concurrency=concurrency, queues=queues),
            env=env,
        )
        if wait:
            self.wait_log(name, " ready.")
        return process

    def start_beat(
        self,
        name: str = "beat",
        *,
        app: str = "schedsite",
        scheduler: str | None = None,
        env: dict | None = None,
        wait: bool = True,
    ) -> Process:
        argv = beat_argv(self.workdir / f"{name}-schedule", app=app, scheduler=scheduler)
        process = self.start(name, argv, env=env)
        if wait:
            self.wait_log(name, "beat: Starting")
        return process

    def start_web(
        self,
        *,
        workers: int = 2,
        threads: int = 4,
        argv: list[str] | None = None,
        name: str = "web",
    ) -> str:
        """The web process as the Procfile starts it (or `argv`, with {bind} filled in);
        return its base URL once healthy."""
        port = free_port()
        bind = f"127.0.0.1:{port}"
        if argv is None:
            argv = web_argv(bind, workers=workers, threads=threads)
        else:
            argv = [arg.replace("{bind}", bind) for arg in argv]
        self.start(name, argv)
        base = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            if not self.processes[name].alive():
                raise RuntimeError(f"{name} exited:\n{tail(self.processes[name].log)}")
            return web_healthy(base)

        wait_until(healthy, timeout=60, interval=0.1, what="web health 200")
        return base

    def start_target(self) -> str:
        port = free_port()
        self.start("target", [str(VENV_BIN / "python"), "-m", "bench.target", str(port)])
        self.wait_log("target", "bench target ready", timeout=20)
        return f"http://127.0.0.1:{port}"

    def manage(self, *args: str) -> str:
        done = manage(self.env, *args, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout


class TargetClient:
    """Reads what the bench target (bench/target.py) recorded."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = requests.Session()

    def count(self) -> int:
        return self.session.get(f"{self.base_url}/_count", timeout=10).json()["count"]

    def dump(self) -> list[tuple[float, str]]:
        return [tuple(r) for r in self.session.get(f"{self.base_url}/_dump", timeout=60).json()]

    def wait_count(self, n: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        got = self.count()
        while got < n and time.monotonic() < deadline:
            time.sleep(0.1)
            got = self.count()
        return got


class CpuMonitor:
    """CPU used by this benchmark and by everything else on the machine, sampled each second.

    "Ours" is the driver's process tree plus the PostgreSQL backends of the bench database
    (their command line names it); "others" is every other process (other sessions' tests,
    other databases' backends). Benchmarks on a shared 2-core machine are only as good as
    the machine is quiet: each figure is reported with the cores others used meanwhile.
    Processes that live less than a sampling interval (e.g. a PostgreSQL backend per
    task) are missed: the figures are lower bounds.
    """

    def __init__(self, db_name: str):
        import threading

        self.db_name = db_name
        self.me = os.getpid()
        self.tick = os.sysconf("SC_CLK_TCK")
        self.seen: dict[int, tuple[str, float, float]] = {}  # pid -> (kind, first, last)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="cpu-monitor")
        self._lock = threading.Lock()
        self._first = True
        self.gone = {"ours": 0.0, "pg": 0.0, "others": 0.0}  # CPU s of exited processes

    def start(self) -> CpuMonitor:
        self._sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def _sample(self) -> None:
        procs: dict[int, tuple[int, float, str]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    name_part, rest = f.read().rsplit(")", 1)
                fields = rest.split()
                cpu = (int(fields[11]) + int(fields[12])) / self.tick
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read(300).decode(errors="replace")
                procs[int(entry)] = (int(fields[1]), cpu, cmd)
            except (OSError, IndexError, ValueError):
                continue

        def ours(pid: int) -> bool:
            seen = set()
            while pid > 1 and pid not in seen:
                if pid == self.me:
                    return True
                seen.add(pid)
                pid = procs.get(pid, (0, 0, ""))[0]
            return False

        with self._lock:
            for pid in [p for p in self.seen if p not in procs]:  # exited: keep its share
                kind, first, last = self.seen.pop(pid)
                self.gone[kind] += last - first
            for pid, (_, cpu, cmd) in procs.items():
                mine = "pg" if self.db_name in cmd else "ours" if ours(pid) else "others"
                old = self.seen.get(pid)
                if old is not None and old[0] == mine and cpu >= old[2]:
                    self.seen[pid] = (mine, old[1], cpu)
                    continue
                if old is not None:  # the pid was reused (or changed hands)
                    self.gone[old[0]] += old[2] - old[1]
                # a process born since the last sample counts from its start
                self.seen[pid] = (mine, cpu if self._first else 0.0, cpu)
            self._first = False

    def snapshot(self) -> dict[str, float]:
        """Wall time and CPU seconds so far: `ours` (driver tree), `pg` (bench DB), `others`."""
        self._sample()
        with self._lock:
            out = {"wall": time.monotonic(), **self.gone}
            for kind, first, last in self.seen.values():
                out[kind] += last - first
        return out

    @staticmethod
    def between(a: dict, b: dict) -> dict[str, float]:
        """Cores used on average between two snapshots, by kind."""
        wall = max(b["wall"] - a["wall"], 1e-9)
        return {k: (b[k] - a[k]) / wall for k in ("ours", "pg", "others")} | {"seconds": wall}
