"""Settings for the test suite: production settings with a fixed secret key.

Each pytest-xdist worker publishes to its own Redis database so that tests that
count queued messages do not see each other's.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_db_number = 15 - int(_worker.removeprefix("gw") or 0) % 8
os.environ.setdefault("REDIS_URL", f"redis://127.0.0.1:6379/{_db_number}")

from .settings import *  # noqa: E402,F403

# Test users need no strong hashing.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
