"""Processes as the tests see them: is a pid still alive."""

from __future__ import annotations


def alive(pid: int) -> bool:
    """Is pid a live process here (not gone, not a zombie)?"""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False
