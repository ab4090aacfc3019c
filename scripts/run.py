"""`make run`: everything on one machine with the embedded defaults.

Checks that the web's port (WEB_BIND) is free, makes var/ (0700), a secret key, applies
migrations, starts a private redis-server when nothing answers at REDIS_URL, creates an
admin user and an API token on first run, prints how to log in, then starts web, worker
and beat with honcho, sharing one directory of metrics files (PROMETHEUS_MULTIPROC_DIR,
emptied first) so that the web's /metrics serves the counters of all three. Once the web
answers and the processes' start-up lines have passed, it prints the banner again: it is
the last thing on the screen.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from honcho import environ
from honcho.manager import Manager
from honcho.printer import Message, Printer

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
BIN = Path(sys.executable).parent
DEFAULT_BIND = "127.0.0.1:8000"
# Once the web answers: the banner comes when no process has printed for QUIET seconds
# (the worker's and beat's start-up lines), or after SETTLE_LIMIT seconds at most.
QUIET = 1.0
SETTLE_LIMIT = 15.0
UP_LIMIT = 120.0  # seconds to wait for the web's /api/v1/health before giving up
BANNER = "\0banner"  # the name of the banner's message to the printer (no process's name)


def port_problem(bind: str) -> str | None:
    """Why gunicorn could not listen at `bind` (host:port), or None: checked by binding it
    here first, as gunicorn would (SO_REUSEADDR), so a taken port is a clear message before
    anything starts, not a traceback among the three processes' logs."""
    if bind.startswith(("unix:", "fd://")):
        return None
    host, _, port_text = bind.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    if not port_text.isdigit():
        return f"WEB_BIND={bind} is not host:port (e.g. {DEFAULT_BIND})."
    port = int(port_text)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            other = f"{host if ':' not in host else f'[{host}]'}:{port + 1}"
            return (
                f"Cannot listen on {host} port {port} ({exc.strerror or exc}): another "
                f"`make run` or another server holds it.\n"
                f"Stop it, or set WEB_BIND to a free address, e.g.: WEB_BIND={other} make run"
            )
    return None


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
    bind = os.environ.setdefault("WEB_BIND", DEFAULT_BIND)
    problem = port_problem(bind)
    if problem:
        sys.exit(problem)
    make_var()
    os.environ.setdefault("SECRET_KEY", secret_key())
    os.environ.setdefault("DEBUG", "0")
    redis_url = os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
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
    banner = (
        "\n"
        f"  Admin:     {base}/admin/   user {user}, password {password_note}\n"
        f"  API docs:  {base}/api/v1/docs\n"
        f"  Metrics:   {base}/metrics (Prometheus; from this machine, or METRICS_TOKEN)\n"
        f"  API token: {token}\n"
        f"  Try:       curl -H 'Authorization: Token {token}' \\\n"
        f"               -H 'Content-Type: application/json' \\\n"
        f"               -d '{example}' {base}/api/v1/jobs\n"
    )
    print(banner, flush=True)
    os.chdir(ROOT)
    start(banner, health_url(bind))


def health_url(bind: str) -> str | None:
    """Where this machine reaches the web's /api/v1/health (a wildcard bind: loopback);
    None for a Unix socket."""
    if bind.startswith(("unix:", "fd://")):
        return None
    host, _, port = bind.rpartition(":")
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "[::]": "[::1]"}.get(host, host)
    return f"http://{host}:{port}/api/v1/health"


class BannerPrinter(Printer):
    """honcho's printer, which also prints the banner (a message named BANNER) as it is and
    notes when a process last printed."""

    last_line = 0.0  # time.monotonic() of the processes' last line

    def write(self, message: Message) -> None:
        if message.name == BANNER:
            print(message.data, file=self.output, flush=True)
            return
        self.last_line = time.monotonic()
        super().write(message)


def start(banner: str, health: str | None) -> None:
    """Run the Procfile's processes as `honcho start` does (a process's end stops the
    others; Ctrl-C stops them all), and print the banner again once they are up."""
    printer = BannerPrinter(sys.stdout)
    manager = Manager(printer)
    dotenv = ROOT / ".env"  # honcho's own: KEY=value lines for the processes, if present
    procfile = environ.parse_procfile((ROOT / "Procfile").read_text())
    for process in environ.expand_processes(
        procfile.processes,
        env=environ.parse(dotenv.read_text()) if dotenv.exists() else {},
        port=int(os.environ.get("PORT", "5000")),
    ):
        manager.add_process(process.name, process.cmd, env={**os.environ, **process.env})
    if health is not None:
        threading.Thread(
            target=announce_when_up, args=(manager.events, printer, health, banner), daemon=True
        ).start()
    manager.loop()
    sys.exit(manager.returncode)


def announce_when_up(events, printer: BannerPrinter, health: str, banner: str) -> bool:
    """Put the banner on the printer's queue once `health` answers 200 and the processes
    have been quiet for QUIET seconds (SETTLE_LIMIT at most); False if the web never
    answered within UP_LIMIT (its log says why; the banner above still holds)."""
    deadline = time.monotonic() + UP_LIMIT
    while not web_answers(health):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    settled = time.monotonic() + SETTLE_LIMIT
    while time.monotonic() - printer.last_line < QUIET and time.monotonic() < settled:
        time.sleep(0.1)
    events.put(
        Message(
            type="line",
            data=f"\nweb, worker and beat are up.{banner}",
            time=datetime.now(),
            name=BANNER,
            colour=None,
        )
    )
    return True


# Straight to the web process: never through an http_proxy of the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def web_answers(url: str) -> bool:
    try:
        with _DIRECT.open(url, timeout=2) as response:
            return response.status == 200
    except OSError:  # refused, reset, timed out, or an HTTP error such as 503
        return False


if __name__ == "__main__":
    main()
