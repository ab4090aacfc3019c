"""Podman serving the Docker Engine API, for the tests that run docker tasks.

The integration and end-to-end tests both call docker_host(), which runs
scripts/podman-setup.sh (installs Podman if missing and allowed, imports the static
busybox test image, starts `podman system service`) in SCHED_PODMAN_DIR.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETUP = ROOT / "scripts" / "podman-setup.sh"
DEFAULT_DIR = "/tmp/sched-podman"


def docker_host() -> tuple[str | None, str]:
    """(DOCKER_HOST of the Podman service, "") or (None, why Podman is not available)."""
    directory = os.environ.get("SCHED_PODMAN_DIR", DEFAULT_DIR)
    try:
        done = subprocess.run(
            [str(SETUP), directory],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=900,  # a first run may install the packages
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"scripts/podman-setup.sh did not run: {exc}"
    lines = done.stdout.strip().splitlines()
    if done.returncode == 0 and lines and lines[-1].startswith("DOCKER_HOST="):
        return lines[-1].removeprefix("DOCKER_HOST="), ""
    return None, (
        f"Podman is not available here (scripts/podman-setup.sh {directory} exited "
        f"{done.returncode}): {done.stderr.strip()[-800:]}"
    )
