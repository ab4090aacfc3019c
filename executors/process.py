"""Running a task's process on the worker: shared by the command and script executors.

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
import pwd
import re
import select
import shlex
import signal
import stat
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from rest_framework import serializers

from jobs.fields import DurationSecondsField, StrictSerializer
from jobs.states import RunStatus

from .base import Executor, Outcome, RunContext
from .outcomes import exit_outcome, ms_since

# The PATH of every run unless its task's env sets one; the worker's own PATH (a
# virtualenv, deployment tooling) is not passed on.
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_LANG = "C.UTF-8"

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
USER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?")
MAX_ARG_BYTES = 128 * 1024  # Linux's limit on one argument or environment string
MAX_ARGS = 4096
MAX_ENV = 256

# After the process group is gone, how long the pipe readers may wait for EOF (a
# process that left the group with setsid may still hold the pipes open).
DRAIN_WAIT = 1.0
POLL_SLICE = 0.05  # seconds between checks of the stop event and the deadline


class ProcessError(Exception):
    """The process cannot be started: the message says why, for the run's `error`."""


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


def check_string(value: str, what: str) -> str:
    """A string for exec or a container (an argument, a value): no NUL, at most
    MAX_ARG_BYTES; the errors start with `what`."""
    if "\x00" in value:
        raise serializers.ValidationError(f"{what} may not contain a NUL character.")
    if len(value.encode("utf-8", "surrogatepass")) > MAX_ARG_BYTES:
        raise serializers.ValidationError(f"{what} is longer than {MAX_ARG_BYTES} bytes.")
    return value


def check_env(value: dict[str, str]) -> dict[str, str]:
    """A task's `env` (process or container): at most MAX_ENV variables, valid names,
    values that check_string accepts; the errors are keyed by variable name."""
    if len(value) > MAX_ENV:
        raise serializers.ValidationError(f"At most {MAX_ENV} variables.")
    errors = {}
    for name, text in value.items():
        if not ENV_NAME.fullmatch(name):
            errors[name] = [
                "Not a valid variable name: letters, digits and _, not starting with a digit."
            ]
            continue
        try:
            check_string(text, "A value")
        except serializers.ValidationError as exc:
            errors[name] = exc.detail
    if errors:
        raise serializers.ValidationError(errors)
    return value


def split_command(value: str) -> list[str]:
    """A command string split like a shell would: a non-empty argument list of at most
    MAX_ARGS arguments."""
    try:
        argv = shlex.split(value)
    except ValueError as exc:
        raise serializers.ValidationError(f"Cannot split the command: {exc}.") from None
    if not argv:
        raise serializers.ValidationError("The command is empty.")
    if len(argv) > MAX_ARGS:
        raise serializers.ValidationError(f"At most {MAX_ARGS} arguments.")
    return argv


def check_argv(value: list[Any], *, program: bool) -> list[str]:
    """A command given as a list: 1 to MAX_ARGS strings that check_string accepts; with
    `program`, argument 0 (the program to run) may not be empty."""
    if not value:
        raise serializers.ValidationError("The argument list is empty.")
    if len(value) > MAX_ARGS:
        raise serializers.ValidationError(f"At most {MAX_ARGS} arguments.")
    for index, arg in enumerate(value):
        if not isinstance(arg, str):
            raise serializers.ValidationError(f"Argument {index} is not a string.")
        check_string(arg, f"Argument {index}")
    if program and not value[0]:
        raise serializers.ValidationError("The program (argument 0) is empty.")
    return value


class StringField(serializers.CharField):
    """A JSON string, as is: no number or boolean turned into one, no trimming."""

    default_error_messages = {"not_a_string": "Expected a string."}

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class ProcessTaskSerializer(StrictSerializer):
    """The fields every process task has: env, cwd, timeout, run_as."""

    env = serializers.DictField(
        child=StringField(allow_blank=True),
        default=dict,
        help_text="Variables added to the run's minimal environment.",
    )
    cwd = StringField(
        required=False,
        max_length=4096,
        help_text="Absolute working directory on the worker.",
    )
    timeout = DurationSecondsField(required=False)
    run_as = StringField(
        required=False,
        max_length=33,
        help_text="Run as this user of the worker host (superusers only).",
    )

    def validate_env(self, value: dict[str, str]) -> dict[str, str]:
        return check_env(value)

    def validate_cwd(self, value: str) -> str:
        check_string(value, "The directory")
        if not value.startswith("/"):
            raise serializers.ValidationError("Give an absolute path (starting with /).")
        return value

    def validate_run_as(self, value: str) -> str:
        if not USER_NAME.fullmatch(value):
            raise serializers.ValidationError(f"Not a valid user name: {value!r}.")
        return value

    def to_representation(self, instance):
        return instance


class ProcessExecutor(Executor):
    """An executor that runs a process on the worker (command, script): it runs code, and
    run_as switches users on the worker host, so only superusers may ask for it."""

    runs_code = True

    def permission_denied(self, task: dict[str, Any], user) -> str | None:
        reason = super().permission_denied(task, user)
        if reason:
            return reason
        if isinstance(task, dict) and task.get("run_as") and not user.is_superuser:
            return "Only superusers may set run_as."
        return None


@dataclass(frozen=True)
class Account:
    """Who the process runs as: the worker's own user, run_as, or RUN_CODE_AS."""

    name: str
    uid: int
    gid: int
    home: str
    groups: tuple[int, ...] = ()
    switch: bool = False  # False: the worker's own user, no switch

    def popen_kwargs(self) -> dict[str, Any]:
        if not self.switch:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": list(self.groups)}


# RUN_CODE_AS set to this (or empty) runs code as the worker's own user.
WORKER_USER = "worker"


def resolve_account(run_as: str | None) -> Account:
    """The account a run uses; ProcessError when it cannot be honored here.

    The task's run_as (superusers only) wins. Otherwise, where the worker is root, runs
    go to the unprivileged RUN_CODE_AS user (default nobody): as root they could read
    every file and process of the host, the worker's secrets included. A worker that is
    not root cannot switch users: runs keep its user, and its non-dumpable flag
    (schedsite/dumpable.py) keeps its environment and memory from them.
    """
    if run_as:
        return _switch_to(run_as, "run_as")
    default = settings.SCHED["RUN_CODE_AS"]
    if default in ("", WORKER_USER) or os.geteuid() != 0:
        return _own_account()
    return _switch_to(default, "RUN_CODE_AS")


def _own_account() -> Account:
    euid = os.geteuid()
    try:
        entry = pwd.getpwuid(euid)
    except KeyError:  # an arbitrary uid without a passwd entry (containers)
        return Account(name=str(euid), uid=euid, gid=os.getegid(), home="/")
    return Account(name=entry.pw_name, uid=euid, gid=os.getegid(), home=entry.pw_dir)


def _switch_to(name: str, source: str) -> Account:
    """The account of user `name` (from `source`: run_as or RUN_CODE_AS), with its own
    primary and supplementary groups: the worker's groups are never kept."""
    euid = os.geteuid()
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ProcessError(f"{source}: there is no user {name!r} on this worker host.") from None
    if entry.pw_uid == euid:  # already that user: nothing to switch
        return Account(name=entry.pw_name, uid=euid, gid=os.getegid(), home=entry.pw_dir)
    if euid != 0:
        raise ProcessError(
            f"{source}: cannot switch to user {name!r}: the worker runs as uid {euid}, not root."
        )
    return Account(
        name=entry.pw_name,
        uid=entry.pw_uid,
        gid=entry.pw_gid,
        home=entry.pw_dir,
        groups=tuple(os.getgrouplist(entry.pw_name, entry.pw_gid)),
        switch=True,
    )


def describe_code_account() -> tuple[str, bool]:
    """What the worker's start-up log says about the user runs get without run_as, and
    whether that is a warning (they run as a non-root worker's own user)."""
    try:
        account = resolve_account(None)
    except ProcessError as exc:
        return f"command and script runs cannot start: {exc}", True
    if account.switch:
        return f"command and script runs run as {account.name} (uid {account.uid})", False
    if account.uid == 0:
        return "command and script runs run as root (RUN_CODE_AS is set to the worker's user)", True
    return (
        f"command and script runs run as the worker's own user {account.name} "
        f"(uid {account.uid}), which cannot switch users: they cannot read the worker's "
        "environment or memory, but can read that user's files and its other processes "
        "(see docs/security.md)",
        True,
    )


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
    fd = _reach_directory(cwd, account)
    via = f"/proc/self/fd/{fd}"
    try:
        return _popen(argv, env=env, cwd=via, account=account)
    except OSError as exc:
        if exc.filename == via:
            exc.filename = cwd
        raise
    finally:
        os.close(fd)


MAX_SYMLINKS = 40  # as Linux's path lookup


def _reach_directory(path: str, account: Account) -> int:
    """An O_PATH descriptor of directory `path`, each directory on the way (the last
    included) searchable by `account` by its mode bits; OSError naming `path` if not.

    Symlinks are followed like the kernel does, their targets walked the same way. ACLs
    are not read: a directory that only an ACL opens to the account is refused.
    """
    flags = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    pending = [part for part in path.split("/") if part not in ("", ".")]
    current = os.open("/", flags)
    hops = 0
    try:
        while True:
            if not _may_search(os.fstat(current), account):
                raise OSError(errno.EACCES, os.strerror(errno.EACCES), path)
            if not pending:
                return current
            part = pending.pop(0)
            try:
                following = os.open(part, flags, dir_fd=current)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise OSError(exc.errno, exc.strerror, path) from None
                try:  # a symlink (else: not a directory)
                    target = os.readlink(part, dir_fd=current)
                except OSError:
                    raise OSError(exc.errno, exc.strerror, path) from None
                hops += 1
                if hops > MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path) from None
                pending[:0] = [p for p in target.split("/") if p not in ("", ".")]
                if target.startswith("/"):
                    os.close(current)
                    current = os.open("/", flags)
                continue
            os.close(current)
            current = following
    except BaseException:
        os.close(current)
        raise


def _may_search(st: os.stat_result, account: Account) -> bool:
    """May `account` search (x) a directory with this owner, group and mode?"""
    if account.uid == 0:
        return True
    if st.st_uid == account.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == account.gid or st.st_gid in account.groups:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


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
