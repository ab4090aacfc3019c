"""Settings for the test suite: production settings with a fixed secret key.

Each test process (and each pytest-xdist worker) gets a private redis-server on a
free loopback port, so tests that count queued messages see only their own and two
test runs on one machine never meet. Set TEST_REDIS_URL to use a given Redis instead.
"""

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time


def _private_redis() -> str:
    server = shutil.which("redis-server")
    if server is None:
        raise RuntimeError("the tests need redis-server on the PATH (apt-get install redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="sched-test-redis-")
    from tests.processes import redis_argv

    process = subprocess.Popen(
        redis_argv(server, port, workdir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def stop() -> None:
        process.terminate()
        process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)

    atexit.register(stop)
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), 0.1):
                return f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the private redis-server for the tests did not start")


os.environ.setdefault("SECRET_KEY", "test-only-secret-key-" + "0123456789abcdef" * 3)
os.environ["REDIS_URL"] = os.environ.get("TEST_REDIS_URL") or _private_redis()

from .settings import *  # noqa: E402,F403

# The suite creates many jobs quickly: no request rates (tests of throttling set their own).
API_THROTTLE_RATES = dict.fromkeys(API_THROTTLE_RATES)  # noqa: F405

# Test users need no strong hashing.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The suite's ordinary users make jobs that fire every second or faster; tests of the
# limits set their own (tests/integration/test_input_limits.py).
SCHED_LIMITS = {**SCHED_LIMITS, "MIN_INTERVAL": 0.0}  # noqa: F405

# The suite's HTTP targets listen on loopback, which the egress policy denies to ordinary
# users (alice): opened the way an operator opens an internal host. The egress tests
# (tests/integration/test_egress.py) set the production default back and prove it.
SCHED = {**SCHED, "EGRESS_ALLOW": ["127.0.0.0/8", "::1/128"]}  # noqa: F405
