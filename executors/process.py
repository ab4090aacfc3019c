"""Running a task's process on the worker: shared by the command and script executors.

What a task may hold: executors/process_task.py; who the process runs as: accounts.py.

A run is one process started in a new session (its own process group). Its stdout and
stderr are read by two threads that keep the first OUTPUT_LIMIT bytes of each and
discard the rest, so a chatty child never blocks on a full pipe. A timeout or a stop
request ends the whole group: SIGTERM, then SIGKILL after KILL_GRACE seconds. When the
main process exits, processes it left behind in its group are ended the same way: a
process meant to outlive its run must start its own session (setsid).

The child gets a minimal environment, never the worker's: PATH, HOME, LANG, USER,
LOGNAME and the run's SCHED_* ids, then the task's `env` on top. Where the worker is root
it runs as the unprivileged RUN_CODE_AS user unless the task's run_as says otherwise
(resolve_account), with that user's groups, and no descriptor of the worker's but its
pipes.
"""

from __future__ import annotations

import errno
import os
import select
import signal
import subprocess
import threading
import time
from typing import Any

from django.conf import settings

from jobs.states import RunStatus

from .accounts import Account, ProcessError, reach_directory, resolve_account
from .base import Outcome, RunContext
from .outcomes import exit_outcome, ms_since

# The PATH of every run unless its task's env sets one; the worker's own PATH (a
# virtualenv, deployment tooling) is not passed on.
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_LANG = "C.UTF-8"

# After the process group is gone, how long the pipe readers may wait for EOF (a
# process that left the group with setsid may still hold the pipes open).
DRAIN_WAIT = 1.0
POLL_SLICE = 0.05  # seconds between checks of the stop event and the deadline


def not_started(message: str, elapsed_ms: int = 0) -> Outcome:
    """A failed run whose process never started: the usual result keys, empty."""
    result = {
        "exit_code": None,
        "stdout": "",
        "stderr": "",
        "stdout_truncated": False,
        "stderr_truncated": False,
        "elapsed_ms": elapsed_ms,
    }
    return Outcome(RunStatus.FAILED, result, message)


def build_env(account: Account, context: RunContext, task_env: dict[str, str]) -> dict[str, str]:
    """The run's environment: a minimal base, the run's ids, then the task's env."""
    return {
        "PATH": SAFE_PATH,
        "HOME": account.home,
        "LANG": DEFAULT_LANG,
        "USER": account.name,
        "LOGNAME": account.name,
        "SCHED_JOB_ID": context.job_id,
        "SCHED_RUN_ID": context.run_id,
        "SCHED_ATTEMPT": str(context.attempt),
        "SCHED_IDEMPOTENCY_KEY": context.idempotency_key,
        **task_env,
    }


def run_task(
    argv: list[str],
    task: dict[str, Any],
    context: RunContext,
    *,
    account: Account | None = None,
    workdir: str | None = None,
) -> Outcome:
    """Run argv with the task's env, cwd, timeout and run_as; return the outcome.

    cwd: the task's `cwd`, else `workdir`, else the account's home (or / if it has none).
    timeout: the task's, else the job's, else no limit.
    """
    try:
        if account is None:
            account = resolve_account(task.get("run_as"))
    except ProcessError as exc:
        return not_started(str(exc))
    cwd = task.get("cwd") or workdir or (account.home if os.path.isdir(account.home) else "/")
    return run_process(
        argv,
        env=build_env(account, context, task.get("env") or {}),
        cwd=cwd,
        timeout=task.get("timeout") or context.timeout,
        stop=context.stop,
        account=account,
    )


class _Capture(threading.Thread):
    """Read one pipe to EOF; keep the first `limit` bytes, drop the rest."""

    def __init__(self, pipe, limit: int, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.pipe = pipe
        self.limit = limit
        self.data = bytearray()
        self.truncated = False
        self.abandon = threading.Event()

    def run(self) -> None:
        fd = self.pipe.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        while not self.abandon.is_set():
            if not poller.poll(100):
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            room = self.limit - len(self.data)
            if room > 0:
                self.data += chunk[:room]
            if len(chunk) > room:
                self.truncated = True

    def text(self) -> str:
        # A NUL is made U+FFFD when the outcome is recorded (jobs.runner.storable).
        return self.data.decode("utf-8", errors="replace")


def run_process(
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: str,
    timeout: float | None,
    stop: threading.Event,
    account: Account,
) -> Outcome:
    """Start argv in its own session, capture its output, enforce timeout and stop."""
    started = time.monotonic()
    try:
        proc = _start(argv, env=env, cwd=cwd, account=account)
    except OSError as exc:
        return not_started(_start_error(argv[0], cwd, env, account, exc), ms_since(started))
    limit = settings.SCHED["OUTPUT_LIMIT"]
    readers = [
        _Capture(proc.stdout, limit, f"stdout-{proc.pid}"),
        _Capture(proc.stderr, limit, f"stderr-{proc.pid}"),
    ]
    for reader in readers:
        reader.start()
    pgid = proc.pid  # start_new_session: the child leads its own group
    grace = settings.SCHED["KILL_GRACE"]
    deadline = None if not timeout else started + timeout
    ended_by = None
    try:
        while True:
            slice_ = POLL_SLICE
            if deadline is not None:
                slice_ = min(slice_, max(deadline - time.monotonic(), 0))
            try:
                proc.wait(timeout=slice_)
                break
            except subprocess.TimeoutExpired:
                pass
            if stop.is_set():
                ended_by = RunStatus.CANCELED
                break
            if deadline is not None and time.monotonic() >= deadline:
                ended_by = RunStatus.TIMED_OUT
                break
        # Also after a normal exit: what the process left behind in its group goes too.
        _stop_group(proc, pgid, grace)
    except BaseException:
        _signal_group(pgid, signal.SIGKILL)
        raise
    finally:
        proc.wait()
        drained_by = time.monotonic() + DRAIN_WAIT
        for reader in readers:
            reader.join(max(drained_by - time.monotonic(), 0))
            reader.abandon.set()
        for reader in readers:
            reader.join()
        proc.stdout.close()
        proc.stderr.close()
    out, err = readers
    code = proc.returncode
    result = {
        "exit_code": code,
        "stdout": out.text(),
        "stderr": err.text(),
        "stdout_truncated": out.truncated,
        "stderr_truncated": err.truncated,
        "elapsed_ms": ms_since(started),
    }
    if code < 0:
        failure = f"Killed by signal {_signal_name(-code)}"
    else:
        failure = f"Exited with code {code}"
    return exit_outcome(
        result,
        ended_by=ended_by,
        timeout=timeout,
        killed="the process group was stopped",
        stopped="the process group was ended",
        failure=failure,
    )


def _start(argv: list[str], *, env, cwd: str, account: Account) -> subprocess.Popen:
    """Popen, entering cwd only as far as the account itself may.

    subprocess changes directory before it switches users, that is as root: a run could
    start inside a directory its user may not reach (below a 0700 parent). So where the
    user is switched, the directory is first reached here one component at a time,
    checking that the account may search each, and the child enters the very directory
    that was checked (/proc/self/fd/N), whatever is renamed meanwhile.
    """
    if not account.switch or not os.path.isdir("/proc/self/fd"):
        return _popen(argv, env=env, cwd=cwd, account=account)
    fd = reach_directory(cwd, account)
    via = f"/proc/self/fd/{fd}"
    try:
        return _popen(argv, env=env, cwd=via, account=account)
    except OSError as exc:
        if exc.filename == via:
            exc.filename = cwd
        raise
    finally:
        os.close(fd)


def _popen(argv: list[str], *, env, cwd, account: Account) -> subprocess.Popen:
    # ETXTBSY: a file just written (a script) can be briefly held open for writing by a
    # child another worker thread forked meanwhile; it clears within moments.
    for attempt in range(10):
        try:
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                cwd=cwd,
                close_fds=True,
                start_new_session=True,
                **account.popen_kwargs(),
            )
        except OSError as exc:
            if exc.errno != errno.ETXTBSY or attempt == 9:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def _start_error(program: str, cwd: str, env, account: Account, exc: OSError) -> str:
    """A clear message for a process that could not start."""
    if exc.filename is not None and exc.filename == cwd and program != cwd:
        if exc.errno == errno.ENOENT:
            return f"Cannot start {program!r}: the working directory {cwd!r} does not exist."
        return (
            f"Cannot start {program!r}: cannot enter the working directory {cwd!r} "
            f"as {account.name}: {exc.strerror}."
        )
    if exc.errno == errno.ENOENT:
        if "/" in program:
            return f"Cannot start {program!r}: no such file."
        return f"Cannot start {program!r}: command not found in PATH={env.get('PATH', '')}."
    if exc.errno == errno.EACCES:
        return f"Cannot start {program!r}: permission denied (not executable by {account.name})."
    if exc.errno == errno.ENOEXEC:
        return (
            f"Cannot start {program!r}: exec format error (not a binary for this host, "
            "or a script without a '#!' line)."
        )
    if exc.filename is None and account.switch:
        return f"Cannot start {program!r} as {account.name!r}: {exc.strerror or exc}."
    return f"Cannot start {program!r}: {exc.strerror or exc}."


def _signal_group(pgid: int, sig: int) -> bool:
    """Signal a process group; False when it no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_alive(pgid: int) -> bool:
    """Does any live (non-zombie) process remain in the group?"""
    if not _signal_group(pgid, 0):
        return False
    try:
        entries = os.listdir("/proc")
    except OSError:  # no procfs: trust kill(0)
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # After "pid (comm)": state, ppid, pgrp, ...
        if len(fields) > 2 and fields[2] == str(pgid).encode() and fields[0] != b"Z":
            return True
    return False


def _stop_group(proc: subprocess.Popen, pgid: int, grace: float) -> None:
    """SIGTERM the group; SIGKILL what is left after `grace` seconds."""
    if proc.poll() is not None and not _group_alive(pgid):
        return  # the common case: the process exited and left nothing behind
    if not _signal_group(pgid, signal.SIGTERM):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if proc.poll() is not None and not _group_alive(pgid):
            return
        time.sleep(0.02)
    _signal_group(pgid, signal.SIGKILL)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
