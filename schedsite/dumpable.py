"""The worker's environment and memory kept from the code it runs: the non-dumpable flag.

A Linux process made non-dumpable (prctl PR_SET_DUMPABLE 0) has its /proc/<pid>/environ,
mem, maps, fd and the like owned by root, and cannot be read or ptraced by another
process without CAP_SYS_PTRACE, even one of the same user. The worker holds SECRET_KEY
and the database credentials in its environment and memory, and the command and script
runs it starts are its children: made non-dumpable at start-up, it keeps them from those
runs whoever they run as. The flag is inherited by fork and reset by exec, so a run's
own program is an ordinary process again.

Only the standard library here: the tests load this module in a process of another user.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4


def _prctl():
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    prctl = libc.prctl
    prctl.restype = ctypes.c_int
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return prctl


def make_non_dumpable() -> bool:
    """Make this process non-dumpable; False where the platform has no such flag."""
    if not sys.platform.startswith("linux"):
        return False
    if _prctl()(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_DUMPABLE, 0) failed: errno {errno}")
    return True


def is_dumpable() -> bool | None:
    """This process's flag; None where the platform has none."""
    if not sys.platform.startswith("linux"):
        return None
    return _prctl()(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0
