"""Who a command or script run runs as, and how far its user may walk into a directory.

Where the worker is root, a run goes to the unprivileged RUN_CODE_AS user unless the
task's run_as (superusers only) says otherwise, with that user's own groups.
"""

from __future__ import annotations

import errno
import os
import pwd
import stat
from dataclasses import dataclass
from typing import Any

from django.conf import settings


class ProcessError(Exception):
    """The process cannot be started: the message says why, for the run's `error`."""


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


MAX_SYMLINKS = 40  # as Linux's path lookup


def reach_directory(path: str, account: Account) -> int:
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
