"""`make run`: everything on one machine with the embedded defaults.

Makes var/ (0700), a secret key, applies migrations, starts a private redis-server when
nothing answers at REDIS_URL, creates an admin user and an API token on first
run, prints how to log in, then starts web, worker and beat with honcho, sharing one
directory of metrics files (PROMETHEUS_MULTIPROC_DIR, emptied first) so that the web's
/metrics serves the counters of all three.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
BIN = Path(sys.executable).parent


def make_var() -> None:
    """var/ holds the secret key, the SQLite database, the stored scripts and Redis's
    files: readable by this user only (0700), so code jobs of another user cannot."""
    VAR.mkdir(mode=0o700, exist_ok=True)
    VAR.chmod(0o700)


def secret_key() -> str:
    path = VAR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as key:
            key.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def metrics_dir() -> Path:
    """The processes' metrics files (prometheus_client's multiprocess mode): var/metrics
    unless PROMETHEUS_MULTIPROC_DIR names another, emptied of the files of the last run
    (counters start again from zero, as each process does; a file of a dead process
    would be summed forever)."""
    path = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(VAR / "metrics")))
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    return path


def redis_answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def ensure_redis(url: str) -> None:
    if redis_answers(url):
        return
    server = shutil.which("redis-server")
    parts = urlsplit(url)
    if server is None or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(
            f"Nothing answers at REDIS_URL={url}.\n"
            "Start Redis (Debian/Ubuntu: `sudo apt-get install redis-server`; macOS: "
            "`brew install redis`), or point REDIS_URL at one."
        )
    port = str(parts.port or 6379)
    print(f"Starting a private redis-server on port {port} (data in var/redis)")
    (VAR / "redis").mkdir(exist_ok=True)
    subprocess.run(
        [
            server,
            "--port",
            port,
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "yes",
            "--dir",
            str(VAR / "redis"),
            "--pidfile",
            str(VAR / "redis" / "redis.pid"),
            "--logfile",
            str(VAR / "redis" / "redis.log"),
            "--appendonly",
            "yes",
        ],
        check=True,
    )
    for _ in range(50):
        if redis_answers(url):
            return
        time.sleep(0.1)
    sys.exit("redis-server did not start: see var/redis/redis.log")


def manage(*args: str, capture: bool = False) -> str:
    done = subprocess.run(
        [str(BIN / "python"), str(ROOT / "manage.py"), *args],
        check=True,
        text=True,
        capture_output=capture,
        cwd=ROOT,
    )
    return done.stdout if capture else ""


def ensure_admin() -> tuple[str, str | None, str]:
    """Create the `admin` superuser once; return (user, new password or None, token)."""
    password_file = VAR / "admin-password"
    script = (
        "from django.contrib.auth import get_user_model\n"
        "from rest_framework.authtoken.models import Token\n"
        "import sys\n"
        "U = get_user_model()\n"
        "u = U.objects.filter(username='admin').first()\n"
        "created = u is None\n"
        "if created:\n"
        "    u = U.objects.create_superuser('admin', 'admin@localhost', sys.argv[-1])\n"
        "print(Token.objects.get_or_create(user=u)[0].key, created)\n"
    )
    password = secrets.token_urlsafe(12)
    out = manage("shell", "-c", script.replace("sys.argv[-1]", repr(password)), capture=True)
    token, created = out.split()[-2:]
    if created == "True":
        password_file.write_text(password)
        password_file.chmod(0o600)
        return "admin", password, token
    return "admin", None, token


def main() -> None:
    make_var()
    os.environ.setdefault("SECRET_KEY", secret_key())
    os.environ.setdefault("DEBUG", "0")
    redis_url = os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    bind = os.environ.setdefault("WEB_BIND", "127.0.0.1:8000")
    os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    ensure_redis(redis_url)
    metrics_dir()
    manage("migrate", "--noinput", "-v", "0")
    manage("collectstatic", "--noinput", "-v", "0")
    user, password, token = ensure_admin()
    base = f"http://{bind}"
    password_note = password or "(set on first run; see var/admin-password)"
    example = json.dumps(
        {"task": {"uri": f"{base}/api/v1/health", "method": "GET"}, "schedule": "now"}
    )
    print(
        "\n"
        f"  Admin:     {base}/admin/   user {user}, password {password_note}\n"
        f"  API docs:  {base}/api/v1/docs\n"
        f"  Metrics:   {base}/metrics (Prometheus; from this machine, or METRICS_TOKEN)\n"
        f"  API token: {token}\n"
        f"  Try:       curl -H 'Authorization: Token {token}' \\\n"
        f"               -H 'Content-Type: application/json' \\\n"
        f"               -d '{example}' {base}/api/v1/jobs\n"
    )
    os.chdir(ROOT)
    os.execv(str(BIN / "honcho"), [str(BIN / "honcho"), "start", "-f", "Procfile"])


if __name__ == "__main__":
    main()
