"""Fault-injection helpers: a private PostgreSQL cluster, many jobs at once, the checks.

The product runs as a black box (tests/e2e/harness.py): the tests talk to it over
HTTP only, kill or freeze its processes, and restart its Redis and PostgreSQL. The
checks compare three views of every job: the job and its runs (API) and the requests
the loopback target recorded (with their Idempotency-Key and X-Sched-Run-Id headers).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from ..e2e.harness import Api, Received, Stack, Target, free_port, parse_ts, tail, wait_until

# Product settings for the fault suite (seconds): fast heartbeats, reaping and republishing,
# so that a recovery takes seconds instead of the production default of half a minute.
FAULT_ENV = {
    "HEARTBEAT_INTERVAL": "0.5",
    "LOST_AFTER": "3",
    "REAP_INTERVAL": "0.5",
    "REPUBLISH_AFTER": "3",
    "DISPATCH_INTERVAL": "0.1",
    "HTTP_DEFAULT_TIMEOUT": "15",
    # A frozen worker's open transaction is ended (its row locks released) after this long.
    "DB_IDLE_IN_TRANSACTION_TIMEOUT": "5",
    "LOG_LEVEL": "INFO",
    # Notifications: quick retries; a lease a little longer than the receiver's time-out
    # (a lease that runs out mid-send lets a second worker send it too); eight delivery
    # threads, all of which one owner may hold.
    "NOTIFY_BACKOFF": "0.5",
    "NOTIFY_BACKOFF_MAX": "2",
    "NOTIFY_REPUBLISH_AFTER": "2",
    "NOTIFY_TIMEOUT": "4",
    "NOTIFY_LEASE": "6",
    "NOTIFY_THREADS": "8",
    "NOTIFY_THREADS_PER_OWNER": "8",
}
LOST_AFTER = float(FAULT_ENV["LOST_AFTER"])
REPUBLISH_AFTER = float(FAULT_ENV["REPUBLISH_AFTER"])
REAP_INTERVAL = float(FAULT_ENV["REAP_INTERVAL"])
HEARTBEAT_INTERVAL = float(FAULT_ENV["HEARTBEAT_INTERVAL"])
LOOKAHEAD = 2.0  # DISPATCH_LOOKAHEAD, the product's default
WORKER_CONCURRENCY = 40  # threads per worker: hundreds of slow requests in flight

# One figure line per test, printed at the end of the session.
FIGURES: list[str] = []
# Seconds spent creating, waiting for and collecting jobs in the running test.
PHASES: dict[str, float] = {}
# Errors the API answered to creates that were then retried (a database restart).
RETRIED_ERRORS: list[str] = []


def _phase(name: str, started: float) -> float:
    took = time.monotonic() - started
    PHASES[name] = PHASES.get(name, 0.0) + took
    return took


TERMINAL_RUN_STATUSES = {
    "succeeded",
    "failed",
    "timed_out",
    "canceled",
    "vetoed",
    "skipped",
    "missed",
    "lost",
}


# ---------------------------------------------------------------- private PostgreSQL


def postgres_bindir() -> Path | None:
    """The directory of initdb and pg_ctl: $PG_BINDIR, pg_config --bindir, or the newest
    /usr/lib/postgresql/<version>/bin."""
    candidates: list[str] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(os.environ["PG_BINDIR"])
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        candidates.append(
            subprocess.run(
                ["pg_config", "--bindir"], capture_output=True, text=True, timeout=10
            ).stdout.strip()
        )
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: [int(x) for x in Path(p).parent.name.split(".") if x.isdigit()],
        reverse=True,
    )
    for candidate in candidates:
        if candidate and all((Path(candidate) / b).exists() for b in ("initdb", "pg_ctl")):
            return Path(candidate)
    return None


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on a free loopback port, owned by this test session.

    The machine's shared server is never touched: this one can be stopped and restarted
    at will. initdb refuses to run as root, so as root the server runs as `postgres`.
    """

    def __init__(self, bindir: Path):
        self.bindir = bindir
        # Not under pytest's tmp dir: that is private to root, and the server may run as
        # `postgres`. The socket path must stay short.
        self.dir = Path(tempfile.mkdtemp(prefix="sched-faults-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        self.as_user: str | None = None
        if os.geteuid() == 0:
            self.as_user = "postgres"
            pw = pwd.getpwnam(self.as_user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)

    def _run(self, *argv: str, timeout: float = 60) -> str:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        done = subprocess.run(
            command,
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv[:2])} failed ({done.returncode}): {done.stdout}{done.stderr}\n"
                f"{tail(self.log)}"
            )
        return done.stdout

    def init(self) -> PrivatePostgres:
        self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
            "--no-sync", "--no-locale",
        )  # fmt: skip
        return self

    def start(self) -> None:
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {self.dir}",
                "-c listen_addresses=127.0.0.1",
                # Two workers with many threads, each run's heartbeat thread, web, beat.
                "-c max_connections=500",
                # A test server: durability is not what is tested here.
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
            ]
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                  "-t", "60", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        try:
            self._run("pg_ctl", "-D", str(self.data), "status", timeout=10)
            return True
        except RuntimeError:
            return False

    def destroy(self) -> None:
        try:
            if self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- many jobs


@dataclass
class JobCase:
    """One job of a scenario: what to create, and what it must end as."""

    name: str  # unique; also the job's name, so a retried create can be looked up
    path: str  # the job's own target path
    body: dict[str, Any]
    expect: set[str]  # job statuses it may end in
    check: Callable[[JobCase], str | None] | None = None  # a scenario's own check
    job: dict[str, Any] | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)

    @property
    def id(self) -> str:
        assert self.job is not None, f"{self.name} was not created"
        return self.job["id"]


def http_case(
    target: Target,
    group: str,
    schedule: Any,
    *,
    kind: str = "ok",
    expect: Iterable[str] = ("succeeded",),
    check: Callable[[JobCase], str | None] | None = None,
    **extra: Any,
) -> JobCase:
    """A job that POSTs to its own target path (`ok`, `slow/2`, `status/503`...)."""
    path = target.path(kind)
    name = f"{group}-{path.rsplit('/', 1)[-1][:16]}"
    body = {
        "name": name,
        "group": group,
        "task": {"method": "POST", "uri": target.url(path), "body": {"name": name}},
        "schedule": schedule,
        **extra,
    }
    return JobCase(name=name, path=path, body=body, expect=set(expect), check=check)


class Clients:
    """One API client per thread (a requests.Session is not shared between threads)."""

    def __init__(self, stack: Stack, user: str = "alice"):
        self.stack = stack
        self.user = user
        self._local = threading.local()
        self._all: list[Api] = []
        self._lock = threading.Lock()

    def get(self) -> Api:
        api = getattr(self._local, "api", None)
        if api is None:
            api = self._local.api = self.stack.api(self.user)
            with self._lock:
                self._all.append(api)
        return api

    def close(self) -> None:
        for api in self._all:
            api.close()


def create_job(clients: Clients, case: JobCase, *, patient: float = 0.0) -> dict[str, Any]:
    """POST the job; with `patient` > 0, retry for that long through errors (a database
    restart), looking the job up by its unique name first so it is never created twice."""
    deadline = time.monotonic() + patient
    # Times given as callables are decided now (see not_before), and kept.
    case.body = {k: (v() if callable(v) else v) for k, v in case.body.items()}
    tried = False
    errors = []
    while True:
        api = clients.get()
        try:
            if tried:  # an earlier attempt may have been committed before its answer failed
                found = api.get("jobs", params={"name": case.name})
                if found.status_code == 200 and found.json()["count"]:
                    (job,) = found.json()["results"]
                    return job
                if found.status_code != 200:
                    raise requests.HTTPError(f"lookup: {found.status_code}")
            tried = True
            response = api.post("jobs", case.body)
            if response.status_code == 201:
                return response.json()
            if response.status_code < 500 or time.monotonic() > deadline:
                raise AssertionError(
                    f"create {case.name}: {response.status_code} {response.text[:500]}"
                )
            errors.append(str(response.status_code))
        except (requests.RequestException, ValueError) as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"create {case.name}: {exc!r} after {errors}") from exc
            errors.append(str(exc) if isinstance(exc, requests.HTTPError) else type(exc).__name__)
        RETRIED_ERRORS.append(errors[-1])
        time.sleep(0.2)


def create_many(
    clients: Clients, cases: list[JobCase], *, threads: int = 8, patient: float = 0.0
) -> float:
    """Create every job, `threads` requests at a time; return the seconds it took."""
    started = time.monotonic()
    with futures.ThreadPoolExecutor(threads, thread_name_prefix="create") as pool:
        for case, job in zip(
            cases, pool.map(lambda c: create_job(clients, c, patient=patient), cases), strict=True
        ):
            case.job = job
    return _phase("create", started)


def active_count(api: Api, group: str) -> int:
    """Jobs of the group that may still fire or are running."""
    response = api.get(
        "jobs", params={"group": group, "status": ["scheduled", "running"], "limit": 1}
    )
    return api.ok(response)["count"]


def wait_settled(api: Api, group: str, *, timeout: float, still_active: int = 0) -> None:
    """Wait until at most `still_active` jobs of the group are scheduled or running."""
    last = -1

    def settled() -> bool:
        nonlocal last
        last = active_count(api, group)
        return last <= still_active

    started = time.monotonic()
    try:
        wait_until(settled, timeout=timeout, interval=0.25, what=f"jobs of {group} to settle")
    except AssertionError:
        raise AssertionError(
            f"{last} jobs of {group} still scheduled or running after {timeout:g}s"
        ) from None
    _phase("settle", started)


def collect(clients: Clients, target: Target, cases: list[JobCase], threads: int = 8) -> None:
    """Fetch every job and its runs (API) and its requests (target)."""
    started = time.monotonic()
    jobs: dict[str, dict] = {}
    api = clients.get()
    for group in {case.body["group"] for case in cases}:
        page = api.ok(api.get("jobs", params={"group": group, "limit": 500}))
        while True:
            jobs.update((job["id"], job) for job in page["results"])
            if not page.get("next"):
                break
            page = api.ok(api.get(page["next"]))

    def fetch(case: JobCase) -> None:
        api = clients.get()
        case.job = jobs.get(case.id) or api.job(case.id)
        case.runs = api.runs(case.id)
        for run in case.runs:
            if run["attempt"] > 1:  # its fire is named by its idempotency key
                run["idempotency_key"] = api.run(run["id"])["idempotency_key"]
        case.requests = target.received(case.path)

    with futures.ThreadPoolExecutor(threads, thread_name_prefix="collect") as pool:
        list(pool.map(fetch, cases))
    _phase("collect", started)


# ---------------------------------------------------------------- the checks


@dataclass
class Analysis:
    jobs: int = 0
    runs: int = 0
    lost: int = 0
    recovery: int = 0
    retry: int = 0
    missed: int = 0
    duplicate_fires: int = 0  # two runs for one (job, due time, attempt)
    double_requests: int = 0  # one run executed twice, or an unexplained second request
    repeats: int = 0  # second requests of one fire by a recovery or retry attempt (same key)
    requests: int = 0
    max_lag: float = 0.0  # the latest first request of a fire after its due time
    problems: list[str] = field(default_factory=list)

    def problem(self, case: JobCase, text: str) -> None:
        self.problems.append(f"{case.name} ({case.job and case.job['id']}): {text}")


def analyze(cases: list[JobCase]) -> Analysis:
    """Check every job against its runs and the requests its target path got."""
    out = Analysis(jobs=len(cases))
    for case in cases:
        _analyze_one(case, out)
    return out


def _analyze_one(case: JobCase, out: Analysis) -> None:
    job, runs, reqs = case.job or {}, case.runs, case.requests
    out.runs += len(runs)
    out.requests += len(reqs)
    status_of = Counter(run["status"] for run in runs)
    out.lost += status_of["lost"]
    out.missed += status_of["missed"]
    out.recovery += sum(run["trigger"] == "recovery" for run in runs)
    out.retry += sum(run["trigger"] == "retry" for run in runs)

    if job.get("status") not in case.expect:
        out.problem(case, f"job is {job.get('status')!r}, expected {sorted(case.expect)}")
    unfinished = [r for r in runs if r["status"] not in TERMINAL_RUN_STATUSES]
    if unfinished and job.get("status") not in ("scheduled", "running"):
        out.problem(case, f"runs not finished: {[(r['id'], r['status']) for r in unfinished]}")

    # A fire is its first attempt; later attempts (retry, recovery) carry its id as their
    # idempotency key (collect() reads it for them). One run per fire and attempt.
    by_id = {run["id"]: run for run in runs}
    key_of = {run["id"]: run.get("idempotency_key") or run["id"] for run in runs}
    firsts = Counter(parse_ts(run["due_at"]) for run in runs if run["attempt"] == 1)
    for due, count in firsts.items():
        if count > 1:
            out.duplicate_fires += count - 1
            out.problem(case, f"{count} runs (attempt 1) for the fire due {due}")
    attempts = Counter((key_of[run["id"]], run["attempt"]) for run in runs)
    for (key, attempt), count in attempts.items():
        if count > 1 and attempt > 1:
            out.duplicate_fires += count - 1
            out.problem(case, f"{count} runs for attempt {attempt} of the fire {key}")
    for run in runs:
        key = key_of[run["id"]]
        if run["attempt"] > 1:
            root = by_id.get(key)
            if root is None or root["attempt"] != 1:
                out.problem(case, f"run {run['id']}: key {key} is not a first attempt of the job")
            elif (key, run["attempt"] - 1) not in attempts:
                out.problem(case, f"run {run['id']}: attempt {run['attempt'] - 1} is missing")
            if run["trigger"] not in ("retry", "recovery"):
                out.problem(case, f"run {run['id']}: attempt {run['attempt']} by {run['trigger']}")
        if run["status"] == "lost" and (key, run["attempt"] + 1) not in attempts:
            if job.get("status") not in ("canceled", "paused"):
                out.problem(case, f"lost run {run['id']} has no recovery attempt")

    # Requests: a run sends at most one, with its fire's key; a second request for a fire
    # is explained only by a later attempt (recovery after `lost`, retry after a failure).
    per_run = Counter(req.headers.get("X-Sched-Run-Id") for req in reqs)
    for run_id, count in per_run.items():
        if count > 1:
            out.double_requests += count - 1
            out.problem(case, f"run {run_id} sent {count} requests")
    per_key: dict[str, list[dict]] = defaultdict(list)
    for req in reqs:
        run_id = req.headers.get("X-Sched-Run-Id")
        run = by_id.get(run_id)
        if run is None:
            out.double_requests += 1
            out.problem(case, f"a request from run {run_id}, which is not one of the job's runs")
            continue
        key = req.headers.get("Idempotency-Key")
        if key != key_of[run_id]:
            out.problem(case, f"run {run_id} sent the key {key}, expected {key_of[run_id]}")
        if req.headers.get("X-Sched-Attempt") != str(run["attempt"]):
            out.problem(case, f"run {run_id} sent X-Sched-Attempt {req.headers['X-Sched-Attempt']}")
        if per_run[run_id] == 1:
            per_key[key].append(run)
    for key, senders in per_key.items():
        if len(senders) > 1:
            out.repeats += len(senders) - 1  # distinct attempts of one fire, checked above
        root = by_id.get(key)
        if root is not None:
            first = min(r.received_at for r in reqs if r.headers.get("Idempotency-Key") == key)
            out.max_lag = max(out.max_lag, first - parse_ts(root["due_at"]))

    # A run with an HTTP outcome sent its request; a run that never started sent none.
    for run in runs:
        if run["status"] in ("succeeded", "failed") and run["id"] not in per_run:
            out.problem(
                case,
                f"run {run['id']} is {run['status']} but the target never saw it "
                f"(error: {run.get('error')!r})",
            )
        if run["status"] in ("missed", "canceled", "skipped", "pending") and run["id"] in per_run:
            out.problem(case, f"run {run['id']} is {run['status']} but sent a request")

    if case.check is not None:
        text = case.check(case)
        if text:
            out.problem(case, text)


def figure_line(title: str, analysis: Analysis, recovery: str, took: float) -> str:
    line = (
        f"[faults] {title}: jobs {analysis.jobs}, runs {analysis.runs}, "
        f"lost {analysis.lost} (recovery attempts {analysis.recovery}), "
        f"missed {analysis.missed}, duplicate fires {analysis.duplicate_fires}, "
        f"double requests {analysis.double_requests} "
        f"(+{analysis.repeats} repeats by recovery/retry with the same key), "
        f"longest recovery {recovery}, max first-request lag {analysis.max_lag:.2f}s, "
        f"took {took:.1f}s ("
        + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in PHASES.items())
        + ")"
    )
    PHASES.clear()
    FIGURES.append(line)
    print("\n" + line)
    return line


def assert_clean(analysis: Analysis) -> None:
    assert not analysis.problems, f"{len(analysis.problems)} problems:\n" + "\n".join(
        analysis.problems[:40]
    )
    assert analysis.duplicate_fires == 0
    assert analysis.double_requests == 0


class FaultRun:
    """One fault test's jobs: a group of their own, settled, collected and reported.

    Made by the `fault_run` fixture when the test starts (the figure line's `took`
    counts from then).
    """

    def __init__(self, clients: Clients, target: Target, api: Api, label: str):
        self.started = time.monotonic()
        self.group = unique_group(label)
        self.clients = clients
        self.target = target
        self.api = api

    def settle(self, cases: list[JobCase], *, timeout: float = 60, quiet: float = 1.0) -> Analysis:
        """Wait for the group's jobs to settle, then `quiet` more seconds (room for a late
        duplicate to show up); collect and analyze every case."""
        wait_settled(self.api, self.group, timeout=timeout)
        time.sleep(quiet)
        return self.analyze(cases)

    def analyze(self, cases: list[JobCase]) -> Analysis:
        """Collect every case (API and target) and analyze them."""
        collect(self.clients, self.target, cases)
        return analyze(cases)

    def report(self, title: str, analysis: Analysis, recovery: str) -> str:
        """The test's figure line (see figure_line), timed from the test's start."""
        return figure_line(title, analysis, recovery, time.monotonic() - self.started)


def request_at(case: JobCase, run_id: str) -> float | None:
    """When the target got the request of this run (None if it never did)."""
    times = [r.received_at for r in case.requests if r.headers.get("X-Sched-Run-Id") == run_id]
    return min(times) if times else None


def unique_group(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:6]}"


def start_worker(stack: Stack, name: str):
    """One more worker process, consuming every queue; the test's teardown stops it."""
    process = stack.start_extra(name, stack.worker_argv(f"{name}@%h"))
    stack.wait_process_ready(process)
    return process


def iso(ts: float) -> str:
    """A POSIX time as an API date-time (UTC, millisecond precision)."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(round(ts, 3), UTC).isoformat()


def not_before(ts: float, lead: float = LOOKAHEAD + 1.0) -> Callable[[], str]:
    """A due time decided when the job is created: `ts`, or later if creating hundreds of
    jobs on a busy machine took so long that `ts` is less than `lead` seconds away (the
    next whole second after that, so late jobs still fall due together)."""
    return lambda: iso(max(ts, whole_second(time.time() + lead)))


def due_of(case: JobCase) -> float:
    """The due time the job was created with (a one-off job's schedule)."""
    return parse_ts(case.body["schedule"])


def whole_second(ts: float) -> float:
    """The next whole second at or after `ts`."""
    return float(int(ts) + (0 if ts == int(ts) else 1))


def worker_pid(run_detail: dict[str, Any]) -> int | None:
    """The pid in a run's `worker` field (host:pid:thread)."""
    parts = (run_detail.get("worker") or "").split(":")
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
