"""Run `sched` as a user would, against a live server: click's runner in this process,
real HTTP on loopback to pytest-django's live_server (a thread serving the test database).

Each request the CLI sends is recorded at the network edge (urllib3's PoolManager),
so a test can say "the second apply wrote nothing" by the requests, not by the output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import urllib3
from click.testing import CliRunner, Result
from django.db import connections
from rest_framework.authtoken.models import Token

from sched_cli.main import cli
from tests.users import make_user

WRITES = ("POST", "PATCH", "PUT", "DELETE")


@dataclass
class Sched:
    """`sched` for one user: run(...) as on a shell, and the requests it sent."""

    url: str
    token: str
    home: Path
    requests: list[tuple[str, str]] = field(default_factory=list)

    def run(self, *args: str, input: str | None = None, ok: bool = True, **env) -> Result:
        self.requests.clear()
        environment = {
            "SCHED_URL": self.url,
            "SCHED_TOKEN": self.token,
            "SCHED_CONFIG": str(self.home / "config.ini"),
            **env,
        }
        result = CliRunner().invoke(cli, list(args), input=input, env=environment)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    def json(self, *args: str) -> object:
        return json.loads(self.run(*args, "--json").stdout)

    def writes(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path in self.requests if method in WRITES]


@pytest.fixture(autouse=True)
def _server_threads_close_their_connections(monkeypatch):
    """The live server answers each client connection on a thread of its own. With the
    settings' CONN_MAX_AGE those threads would keep their PostgreSQL sessions past the
    test, and the test database could not be dropped: they close them after each request."""
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


@pytest.fixture
def record_requests(monkeypatch):
    """Every request of the CLI, as (method, path), into the list this returns."""
    sent: list[tuple[str, str]] = []
    original = urllib3.PoolManager.urlopen

    def urlopen(self, method, url, *args, **kwargs):
        sent.append((method.upper(), urlsplit(url).path))
        return original(self, method, url, *args, **kwargs)

    monkeypatch.setattr(urllib3.PoolManager, "urlopen", urlopen)
    return sent


@pytest.fixture
def sched_for(live_server, tmp_path, record_requests):
    """sched_for(user) -> Sched talking to the live server with a token of `user`."""

    def make(user) -> Sched:
        home = tmp_path / user.username
        home.mkdir(exist_ok=True)
        token = Token.objects.create(user=user).key
        runner = Sched(live_server.url, token, home)
        runner.requests = record_requests
        return runner

    return make


@pytest.fixture
def alice_cli(sched_for, django_user_model) -> Sched:
    """Alice may run code (command and script jobs)."""
    return sched_for(make_user("alice", "jobs.run_code"))


@pytest.fixture
def bob_cli(sched_for, django_user_model) -> Sched:
    return sched_for(make_user("bob", "jobs.run_code"))


@pytest.fixture
def dana_cli(sched_for, django_user_model) -> Sched:
    """Dana sees every job (jobs.view_all_jobs) and may change them."""
    return sched_for(make_user("dana", "jobs.view_all_jobs", "jobs.change_job"))


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)
