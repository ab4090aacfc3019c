"""Processes as the tests see them: a private Redis's command line, is a pid still alive,
what a run can read of others."""

from __future__ import annotations


def redis_argv(server: str, port: int, workdir: str) -> list[str]:
    """A throw-away redis-server on loopback: this port, nothing kept on disk."""
    return [
        server,
        *("--port", str(port), "--bind", "127.0.0.1"),
        *("--save", "", "--appendonly", "no", "--dir", workdir),
    ]


def alive(pid: int) -> bool:
    """Is pid a live process here (not gone, not a zombie)?"""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False


# A shell script that prints every environ a run can reach: its ancestors' (by the ppid in
# /proc/<pid>/stat, the worker's first), then every process's; and its parent's memory
# map. It starts with the run's uid and ends with "probe-done" once it ran to its end.
SECRETS_PROBE = r"""
id -u
p=$PPID
while [ "$p" -gt 1 ]; do
    cat /proc/$p/environ
    p=$(sed 's/.*) //' /proc/$p/stat | cut -d' ' -f2)
done
cat /proc/[0-9]*/environ
head -c 200 /proc/$PPID/maps
echo probe-done
"""
