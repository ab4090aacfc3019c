"""The CLI is a client of the API only: it imports nothing of the server, not even Django."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CLI = Path(__file__).resolve().parents[3] / "cli"


def test_importing_every_command_loads_no_server_module():
    code = (
        "import sys, sched_cli.main\n"
        "server = ('django', 'rest_framework', 'celery', 'jobs', 'executors', 'catalog',"
        " 'notifications', 'dashboard', 'schedsite')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(server)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(CLI)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=CLI, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
