"""End-to-end harness: the real product (web, worker, beat) as a black box.

Everything here talks to the product only through subprocesses, HTTP and (for
database setup and teardown) a raw psycopg connection to the PostgreSQL server.
The test process never opens the product's database through the Django ORM.

Pieces:
- `RedisServer`: a private, throw-away `redis-server` on a free loopback port.
- `Database`: a fresh PostgreSQL database (dropped at the end) or a SQLite file.
- `Stack`: migrate, create the users alice and bob (ordinary), carol (may run code)
  and dave (superuser), start gunicorn, a Celery
  worker and Celery beat (the Procfile's three processes), wait until ready.
- `Target`: a loopback HTTP server that records every request it gets.
- `Api`: a small `requests` wrapper with a token.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.structures import CaseInsensitiveDict

from tests.processes import redis_argv

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(os.environ.get("E2E_VENV_BIN", ROOT / ".venv" / "bin"))
if not (VENV_BIN / "python").exists():  # e.g. a CI that installed into the running interpreter
    VENV_BIN = Path(sys.executable).parent

# No request rates at all: for loads that create jobs and poll as fast as they can.
UNTHROTTLED = {
    "API_THROTTLE_USER": "off",
    "API_THROTTLE_ANON": "off",
    "API_THROTTLE_CREATE": "off",
    "API_THROTTLE_CREATE_TRUSTED": "off",
    "API_THROTTLE_CHANNEL_TEST": "off",
}

# Env for every product process, on top of the parent's environment.
PRODUCT_ENV = {
    "SECRET_KEY": "e2e-only-secret-key-" + "0123456789abcdef" * 3,
    "DEBUG": "0",
    "DISPATCH_INTERVAL": "0.1",
    "REAP_INTERVAL": "1",
    "REPUBLISH_AFTER": "5",
    # Replaced runs notice at their next heartbeat.
    "HEARTBEAT_INTERVAL": "0.5",
    # The dashboard's charts count runs within seconds (tests/e2e/test_dashboard_browser.py).
    "ROLLUP_INTERVAL": "2",
    "LOG_LEVEL": "INFO",
    # The suite's ordinary users make jobs that fire every second or faster.
    "MIN_INTERVAL": "0",
    "PYTHONUNBUFFERED": "1",
    # The real settings, not the test process's schedsite.test_settings.
    "DJANGO_SETTINGS_MODULE": "schedsite.settings",
    # The target is on loopback, which the egress policy denies to ordinary users: opened
    # the way an operator opens an internal host (tests/e2e/test_egress.py checks the rest).
    "EGRESS_ALLOW": "127.0.0.0/8,::1",
    # Tests create jobs and poll as fast as they can: no request rates.
    **UNTHROTTLED,
}

# Fire lags (seconds, received - due) measured by the running test; conftest moves them to
# the test's report (user_properties, so they reach the xdist controller) for the summary.
FIRE_LAGS: list[tuple[str, float]] = []
# Every lag reported this session, gathered from the test reports.
ALL_LAGS: list[tuple[str, float]] = []
# Figure lines of tests (user_properties "e2e_figure", e.g. the schemathesis run), gathered
# from the test reports and printed in the summary.
ALL_FIGURES: list[str] = []
# Stacks currently up, so a failing test can show their logs.
ACTIVE_STACKS: list[Stack] = []


def record_lag(label: str, lag: float) -> None:
    FIRE_LAGS.append((label, lag))
    print(f"[e2e] fire lag {label}: {lag * 1000:.1f} ms")


def lag_summary() -> str | None:
    if not ALL_LAGS:
        return None

    def stats(lags: list[float]) -> str:
        return (
            f"n={len(lags)} p50 {statistics.median(lags) * 1000:.1f} ms, "
            f"max {max(lags) * 1000:.1f} ms, min {min(lags) * 1000:.1f} ms"
        )

    lines = [f"e2e fire lag (received - due), all fires: {stats([lag for _, lag in ALL_LAGS])}"]
    for label in dict.fromkeys(label for label, _ in ALL_LAGS):
        lines.append(f"  {label}: {stats([lag for name, lag in ALL_LAGS if name == label])}")
    return "\n".join(lines)


# ---------------------------------------------------------------- small helpers


WORKER_QUEUES = "http,command,script,docker,catalog,housekeeping,notifications"


def celery_worker_argv(
    hostname: str, *, app: str = "schedsite", concurrency: int, queues: str = WORKER_QUEUES
) -> list[str]:
    """A worker as the Procfile starts it: threads pool, INFO logging, no gossip/mingle."""
    return [
        str(VENV_BIN / "celery"),
        "-A",
        app,
        "worker",
        "--loglevel",
        "INFO",
        "--pool",
        "threads",
        "--concurrency",
        str(concurrency),
        "--queues",
        queues,
        "--without-gossip",
        "--without-mingle",
        "--hostname",
        hostname,
    ]


_PROCFILE_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)")


def procfile_argv(name: str, env: dict[str, str], procfile: Path | None = None) -> list[str]:
    """The argv of the Procfile's `name` line, its ${VAR:-default} filled from `env` (as a
    shell would), its program taken from this checkout's virtualenv."""
    path = procfile or ROOT / "Procfile"
    for line in path.read_text().splitlines():
        key, sep, command = line.partition(":")
        if sep and key.strip() == name:
            break
    else:
        raise KeyError(f"no {name!r} line in {path}")

    def value(match: re.Match) -> str:
        var = match.group(1) or match.group(3)
        found = env.get(var)
        if found:
            return found
        return match.group(2) or ""

    argv = shlex.split(_PROCFILE_VARIABLE.sub(value, command))
    if (VENV_BIN / argv[0]).exists():
        argv[0] = str(VENV_BIN / argv[0])
    return argv


def beat_argv(schedule: Path, *, app: str = "schedsite", scheduler: str | None = None) -> list[str]:
    """Celery beat as the Procfile starts it, keeping its schedule file at `schedule`."""
    argv = [
        str(VENV_BIN / "celery"),
        "-A",
        app,
        "beat",
        "--loglevel",
        "INFO",
        "--pidfile=",
        "--schedule",
        str(schedule),
    ]
    if scheduler:
        argv += ["--scheduler", scheduler]
    return argv


def web_argv(bind: str, *, workers: int = 2, threads: int = 4, **options: str) -> list[str]:
    """The web process exactly as the Procfile starts it, on `bind`; `options` are gunicorn
    options added after it (`graceful_timeout="5"` -> `--graceful-timeout 5`), which win."""
    env = {"WEB_BIND": bind, "WEB_CONCURRENCY": str(workers), "WEB_THREADS": str(threads)}
    argv = procfile_argv("web", env)
    for option, value in options.items():
        argv += [f"--{option.replace('_', '-')}", value]
    return argv


def process_env(
    workdir: Path, overrides: dict[str, str], *, database_url: str, redis_url: str
) -> dict[str, str]:
    """The environment of a product process: this one's, `overrides`, the database and Redis
    URLs, var/ under `workdir`, and this checkout's virtualenv first on the PATH.

    The processes share one directory of metrics files under `workdir` (as `make run`'s do:
    PROMETHEUS_MULTIPROC_DIR), so the web's /metrics serves the worker's and beat's counters
    too; `overrides` may name another, or "" for none."""
    var = workdir / "var"
    var.mkdir(exist_ok=True)
    metrics = workdir / "metrics"
    metrics.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        **overrides,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "VAR_DIR": str(var),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    if not env["PROMETHEUS_MULTIPROC_DIR"]:  # "": each process keeps its own metrics
        del env["PROMETHEUS_MULTIPROC_DIR"]
    return env


def manage(env: dict[str, str], *args: str, timeout: float) -> subprocess.CompletedProcess:
    """`python manage.py ARGS` of this checkout with `env`, output captured."""
    return subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(
    check: Callable[[], Any], *, timeout: float, interval: float = 0.05, what: str = "condition"
) -> Any:
    """Poll `check` until it returns something truthy; return that, or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


def tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


def web_healthy(base_url: str) -> bool:
    """Whether the web process at `base_url` answers its health check with 200."""
    try:
        return requests.get(f"{base_url}/api/v1/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def parse_ts(value: str) -> float:
    """An API date-time as a POSIX timestamp."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class Process:
    """A subprocess in its own session, logging to a file; stopped with its whole group."""

    def __init__(self, name: str, argv: list[str], *, env: dict, cwd: Path, log: Path):
        self.name = name
        self.log = log
        # A restarted process appends to the same log: its own output starts here.
        self.log_offset = log.stat().st_size if log.exists() else 0
        self._log_file = open(log, "ab")  # noqa: SIM115 - closed in stop()
        try:
            self.proc = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except BaseException:
            self._log_file.close()
            raise

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def own_log_text(self) -> str:
        """The log written by this process (not by an earlier one of the same name)."""
        try:
            with open(self.log, "rb") as f:
                f.seek(self.log_offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def signal(self, sig: int) -> None:
        """Send `sig` to the process's whole group (e.g. SIGKILL, SIGSTOP, SIGCONT)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def stop(self, grace: float = 10.0) -> None:
        try:
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(grace)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(5)
            # Children left behind in the group (e.g. gunicorn workers): kill them too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        finally:
            self._log_file.close()


def wait_logged(
    process: Process, marks: Iterable[str], *, timeout: float, interval: float = 0.1
) -> None:
    """Wait until `process` writes one of `marks` into its own log; fail at once if it exits."""

    def ready() -> bool:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited:\n{tail(process.log)}")
        return any(mark in process.own_log_text() for mark in marks)

    wait_until(ready, timeout=timeout, interval=interval, what=f"{process.name} to be ready")


# ---------------------------------------------------------------- backing services


class RedisServer:
    """A private redis-server on a free loopback port, no persistence."""

    def __init__(self, workdir: Path):
        self.dir = workdir / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: Process | None = None

    def start(self) -> RedisServer:
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError("redis-server is not on the PATH")
        self.process = Process(
            "redis",
            [*redis_argv(server, self.port, str(self.dir)), "--daemonize", "no"],
            env=dict(os.environ),
            cwd=self.dir,
            log=self.dir / "redis.log",
        )
        wait_until(self._pong, timeout=10, what=f"redis-server on port {self.port}")
        return self

    def _pong(self) -> bool:
        if self.process is not None and not self.process.alive():
            raise RuntimeError(f"redis-server exited:\n{tail(self.process.log)}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server; `kill=True` sends SIGKILL first, like a crash."""
        if self.process is not None:
            if kill:
                self.process.signal(signal.SIGKILL)
                self.process.proc.wait(5)
            self.process.stop(grace=5)

    def restart(self, *, down_for: float = 0.0) -> None:
        """Kill the server and start an empty one on the same port (no persistence: all
        keys are gone, as after a crash of a Redis without AOF/RDB)."""
        self.stop(kill=True)
        time.sleep(down_for)
        self.start()


class Database:
    """A fresh database: PostgreSQL when `source_url` says so (a server, its database name
    replaced by `prefix`_<random>), else SQLite. The prefix is by default the name of
    `source_url`'s own database (`sched_e2e` for `postgres`), so that the databases of
    checkouts sharing one server tell whose they are."""

    def __init__(self, workdir: Path, source_url: str | None, *, prefix: str | None = None):
        self.source_url = source_url or ""
        self.is_postgres = self.source_url.startswith(("postgres://", "postgresql://"))
        self.name: str | None = None
        if self.is_postgres:
            parts = urlsplit(self.source_url)
            own = parts.path.strip("/")
            prefix = prefix or (own if own and own != "postgres" else "sched_e2e")
            self.name = f"{prefix}_{secrets.token_hex(4)}"
            self.url = urlunsplit(parts._replace(path=f"/{self.name}"))
            self.admin_url = urlunsplit(parts._replace(path="/postgres", query=""))
        else:
            self.path = workdir / "sched-e2e.sqlite3"
            self.url = f"sqlite:///{self.path}"  # an absolute path: four slashes

    @property
    def vendor(self) -> str:
        return "postgresql" if self.is_postgres else "sqlite"

    def create(self) -> Database:
        if self.is_postgres:
            self._admin(f'CREATE DATABASE "{self.name}"')
        return self

    def drop(self) -> None:
        if self.is_postgres:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)


# ---------------------------------------------------------------- the product


class Stack:
    """Redis, a fresh database, migrations, users, and the web, worker and beat processes."""

    def __init__(
        self,
        workdir: Path,
        *,
        database_url: str | None = None,
        env: dict[str, str] | None = None,
        worker_concurrency: int = 8,
    ):
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.redis = RedisServer(workdir)
        self.db = Database(workdir, database_url)
        self.web_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.web_port}"
        self.processes: dict[str, Process] = {}
        self.extra: dict[str, Process] = {}  # started by a test, stopped by it
        self.tokens: dict[str, str] = {}
        self.env: dict[str, str] = {}
        self.env_overrides = dict(env or {})  # on top of PRODUCT_ENV
        self.worker_concurrency = worker_concurrency
        self.argv: dict[str, list[str]] = {}  # how each process in `processes` was started
        self._exit = contextlib.ExitStack()

    # -- lifecycle

    def __enter__(self) -> Stack:
        try:
            self._start()
        except BaseException as exc:
            logs = self.log_tails()
            self._exit.close()
            if isinstance(exc, Exception):
                raise RuntimeError(f"the e2e stack did not start: {exc}\n{logs}") from exc
            raise
        ACTIVE_STACKS.append(self)
        return self

    def __exit__(self, *exc_info) -> None:
        if self in ACTIVE_STACKS:
            ACTIVE_STACKS.remove(self)
        self._exit.close()

    def _start(self) -> None:
        started = time.monotonic()
        self.redis.start()
        self._exit.callback(self.redis.stop)
        self.db.create()
        self._exit.callback(self.db.drop)
        self.env = process_env(
            self.workdir,
            {**PRODUCT_ENV, **self.env_overrides},
            database_url=self.db.url,
            redis_url=self.redis.url,
        )
        for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_CURRENT_TEST"):
            self.env.pop(name, None)
        self._manage("migrate", "--noinput", "-v", "0", log="migrate")
        # The processes boot while the users are made.
        self._spawn_all()
        self._exit.callback(lambda: [self.stop_extra(name) for name in list(self.extra)])
        self.tokens = self._make_users()
        self._wait_ready()
        print(
            f"\n[e2e] stack up on {self.db.vendor} in {time.monotonic() - started:.1f}s: "
            f"web {self.base_url}, redis {self.redis.url}, db {self.db.url}, "
            f"tokens {self.tokens}, logs in {self.workdir}"
        )

    def shell(self, script: str, *, log: str = "shell") -> str:
        """Run Python in `manage.py shell` against the stack's database; its stdout."""
        return self._manage("shell", "-c", script, log=log)

    def _manage(self, *args: str, log: str) -> str:
        done = manage(self.env, *args, timeout=120)
        (self.workdir / f"{log}.log").write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            raise RuntimeError(
                f"manage.py {' '.join(args)} failed ({done.returncode}):\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done.stdout

    def _make_users(self) -> dict[str, str]:
        script = (
            "import json\n"
            "from django.contrib.auth import get_user_model\n"
            "from rest_framework.authtoken.models import Token\n"
            "User = get_user_model()\n"
            "tokens = {}\n"
            "from django.contrib.auth.models import Permission\n"
            "for name in ('alice', 'bob', 'carol'):\n"
            "    user = User.objects.create_user(name, f'{name}@example.com', 'e2e-password')\n"
            "    tokens[name] = Token.objects.create(user=user).key\n"
            "User.objects.get(username='carol').user_permissions.add(\n"
            "    Permission.objects.get(codename='run_code', content_type__app_label='jobs'))\n"
            "dave = User.objects.create_superuser('dave', 'dave@example.com', 'e2e-password')\n"
            "tokens['dave'] = Token.objects.create(user=dave).key\n"
            "print('E2E-TOKENS ' + json.dumps(tokens))\n"
        )
        out = self._manage("shell", "-c", script, log="users")
        for line in out.splitlines():
            if line.startswith("E2E-TOKENS "):
                return json.loads(line.removeprefix("E2E-TOKENS "))
        raise RuntimeError(f"no tokens in the output of manage.py shell:\n{out}")

    def _spawn(self, name: str, argv: list[str]) -> None:
        process = Process(name, argv, env=self.env, cwd=ROOT, log=self.workdir / f"{name}.log")
        self.processes[name] = process
        self.argv[name] = argv
        self._exit.callback(process.stop)

    def restart_process(self, name: str, *, wait: bool = True) -> Process:
        """Stop one of the stack's processes (if still running) and start it again."""
        self.processes[name].stop()
        self._spawn(name, self.argv[name])
        if wait:
            self.wait_process_ready(self.processes[name])
        return self.processes[name]

    @staticmethod
    def wait_process_ready(process: Process, timeout: float = 30) -> None:
        """Wait until a (re)started web, worker or beat process says it is ready."""
        wait_logged(process, ("beat: Starting", " ready.", "Booting worker"), timeout=timeout)

    def beat_argv(self, name: str = "beat") -> list[str]:
        return beat_argv(self.workdir / f"{name}-schedule")

    def worker_argv(self, hostname: str = "e2e-worker@%h") -> list[str]:
        return celery_worker_argv(hostname, concurrency=self.worker_concurrency)

    def start_extra(self, name: str, argv: list[str]) -> Process:
        """Start one more product process (e.g. a second beat); the caller stops it."""
        process = Process(name, argv, env=self.env, cwd=ROOT, log=self.workdir / f"{name}.log")
        self.extra[name] = process
        return process

    def stop_extra(self, name: str) -> None:
        process = self.extra.pop(name, None)
        if process is not None:
            process.stop()

    def _spawn_all(self) -> None:
        # The Procfile's own `web` line; a shorter graceful stop for the tests.
        self._spawn("web", web_argv(f"127.0.0.1:{self.web_port}", graceful_timeout="5"))
        self._spawn("worker", self.worker_argv())
        self._spawn("beat", self.beat_argv("beat"))

    def _wait_ready(self) -> None:
        def ready() -> bool:
            for process in self.processes.values():
                if not process.alive():
                    raise RuntimeError(f"{process.name} exited with {process.proc.returncode}")
            return (
                web_healthy(self.base_url)
                and " ready." in self.processes["worker"].log_text()
                and "beat: Starting" in self.processes["beat"].log_text()
            )

        wait_until(ready, timeout=60, interval=0.1, what="web health 200, worker ready, beat up")

    # -- while running

    def assert_alive(self) -> None:
        dead = {n: p.proc.returncode for n, p in self.processes.items() if not p.alive()}
        assert not dead, f"product processes exited: {dead}"

    def log_paths(self) -> dict[str, Path]:
        paths = {name: p.log for name, p in {**self.processes, **self.extra}.items()}
        if self.redis.process is not None:
            paths["redis"] = self.redis.process.log
        for extra in ("migrate", "users"):
            path = self.workdir / f"{extra}.log"
            if path.exists():
                paths[extra] = path
        return paths

    def log_tails(self, lines: int = 40) -> str:
        return "\n".join(
            f"----- {name} ({path}) -----\n{tail(path, lines)}"
            for name, path in self.log_paths().items()
        )

    def api(self, user: str | None) -> Api:
        return Api(self.base_url, self.tokens[user] if user else None)


# ---------------------------------------------------------------- HTTP target


@dataclass
class Received:
    method: str
    path: str
    headers: CaseInsensitiveDict
    body: bytes
    received_at: float  # time.time()
    thread: str = ""

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class _Handler(BaseHTTPRequestHandler):
    server: _TargetServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def _handle(self) -> None:
        received_at = time.time()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        seen = self.server.target._record(
            Received(
                method=self.command,
                path=path,
                headers=CaseInsensitiveDict(self.headers.items()),
                body=body,
                received_at=received_at,
                thread=threading.current_thread().name,
            )
        )
        status, delay = _route(path, seen)
        if delay and self.server.stopping.wait(delay):
            return
        payload = json.dumps({"path": path, "status": status}).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except OSError:  # the client gave up (e.g. its timeout): nothing to answer
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


def _route(path: str, seen: int) -> tuple[int, float]:
    """/ok/... -> 200; /status/503/... -> 503; /slow/3/... -> 200 after 3 s;
    /fail/5/... -> 500 to the first 5 requests of the path, then 200 (`seen`: the path's
    requests so far, this one included); else 404."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["ok"]:
        return 200, 0.0
    if parts[:1] == ["fail"] and len(parts) > 1 and parts[1].isdigit():
        return (500 if seen <= int(parts[1]) else 200), 0.0
    if parts[:1] == ["status"] and len(parts) > 1 and parts[1].isdigit():
        return int(parts[1]), 0.0
    if parts[:1] == ["slow"] and len(parts) > 1:
        return 200, float(parts[1])
    return 404, 0.0


class _TargetServer(ThreadingHTTPServer):
    daemon_threads = True
    # A listen backlog as a real target's (hundreds or more), not socketserver's 5: a burst
    # of new connections must not overflow it, or the kernel resets connections the worker
    # believes open and runs fail without a request.
    request_queue_size = 1024
    target: Target
    stopping: threading.Event

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hung up mid-request is not the target's problem


class Target:
    """A loopback HTTP server recording every request; answers by path (see _route)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._counts: dict[str, int] = {}  # path -> requests
        self._cond = threading.Condition()
        self._server = _TargetServer(("127.0.0.1", 0), _Handler)
        self._server.target = self
        self._server.stopping = threading.Event()
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="e2e-target",
            daemon=True,
        )
        # path -> exact number of requests it must have received by the end of the session
        self.expected: dict[str, int] = {}

    def start(self) -> Target:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _record(self, request: Received) -> int:
        """Keep `request`; return how many requests its path got, this one included."""
        with self._cond:
            self.requests.append(request)
            self._cond.notify_all()
            self._counts[request.path] = self._counts.get(request.path, 0) + 1
            return self._counts[request.path]

    # -- for tests

    def path(self, kind: str = "ok") -> str:
        """A fresh path no other test uses, e.g. /ok/3f2a... or /status/503/3f2a..."""
        return f"/{kind.strip('/')}/{uuid.uuid4().hex}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def received(self, path: str) -> list[Received]:
        with self._cond:
            return [r for r in self.requests if r.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Received]:
        """Wait until `path` got at least `count` requests; return them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [r for r in self.requests if r.path == path]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{path}: got {len(got)} requests within {timeout:g}s, wanted {count}"
                    )
                self._cond.wait(left)

    def expect_exactly(self, path: str, count: int) -> None:
        """Check now, and again at the end of the session, that `path` got `count` requests."""
        got = self.received(path)
        assert len(got) == count, f"{path}: {len(got)} requests, expected {count}: {got}"
        self.expected[path] = count

    def late_surprises(self) -> dict[str, int]:
        """Paths that got more (or fewer) requests than expect_exactly() said."""
        return {
            path: len(self.received(path))
            for path, count in self.expected.items()
            if len(self.received(path)) != count
        }


# ---------------------------------------------------------------- API client


class ApiError(AssertionError):
    pass


@dataclass
class Api:
    base_url: str
    token: str | None = None
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        if self.token:
            self.session.headers["Authorization"] = f"Token {self.token}"
        self.session.headers["Accept"] = "application/json"

    def close(self) -> None:
        self.session.close()

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        url = path if path.startswith("http") else f"{self.base_url}/api/v1/{path.lstrip('/')}"
        return self.session.request(method, url, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs) -> requests.Response:
        return self.request("POST", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs) -> requests.Response:
        return self.request("PATCH", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    # -- typed helpers that assert the status code

    @staticmethod
    def ok(response: requests.Response, status: int = 200) -> Any:
        if response.status_code != status:
            raise ApiError(
                f"{response.request.method} {response.url}: {response.status_code}, "
                f"expected {status}: {response.text[:2000]}"
            )
        return response.json()

    def create_job(self, body: dict) -> dict:
        return self.ok(self.post("jobs", body), 201)

    def job(self, job_id: str) -> dict:
        return self.ok(self.get(f"jobs/{job_id}"))

    def runs(self, job_id: str) -> list[dict]:
        """The job's runs, newest first (every page)."""
        page = self.ok(self.get(f"jobs/{job_id}/runs", params={"limit": 100}))
        runs = list(page["results"])
        while page.get("next"):
            page = self.ok(self.get(page["next"]))
            runs += page["results"]
        return runs

    def run(self, run_id: str) -> dict:
        return self.ok(self.get(f"runs/{run_id}"))

    def wait_job(self, job_id: str, statuses: str | Iterable[str], timeout: float = 10) -> dict:
        wanted = {statuses} if isinstance(statuses, str) else set(statuses)
        last: dict = {}

        def check():
            nonlocal last
            last = self.job(job_id)
            return last if last["status"] in wanted else None

        try:
            return wait_until(
                check,
                timeout=timeout,
                interval=0.1,
                what=f"job {job_id} status in {sorted(wanted)}",
            )
        except AssertionError:
            raise AssertionError(
                f"job {job_id} is {last.get('status')!r}, wanted {sorted(wanted)}: {last}"
            ) from None

    def wait_runs(
        self,
        job_id: str,
        check: Callable[[list[dict]], bool],
        timeout: float = 10,
        what: str = "runs",
    ) -> list[dict]:
        last: list[dict] = []

        def poll():
            nonlocal last
            last = self.runs(job_id)
            return last if check(last) else None

        try:
            return wait_until(poll, timeout=timeout, interval=0.1, what=what)
        except AssertionError:
            raise AssertionError(
                f"job {job_id}: timed out waiting for {what}; runs: {last}"
            ) from None
