"""Where the URL and the token come from, and the file `sched login` writes."""

from __future__ import annotations

import stat

import pytest

from sched_cli.config import DEFAULT_URL, config_path, resolve, write_file


@pytest.fixture
def home(tmp_path, monkeypatch):
    for name in ("SCHED_CONFIG", "SCHED_URL", "SCHED_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path


def test_the_file_is_in_the_xdg_config_dir_readable_by_its_user_alone(home):
    path = write_file("https://sched.example.com", "secret-token")
    assert path == home / "config" / "sched" / "config.ini"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    settings = resolve(None)
    assert (settings.url, settings.token) == ("https://sched.example.com", "secret-token")


def test_a_looser_existing_file_is_made_0600(home):
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text("")
    path.chmod(0o644)
    write_file("https://a", "t")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_option_and_the_environment_come_before_the_file(home, monkeypatch):
    write_file("https://from-file", "file-token")
    monkeypatch.setenv("SCHED_URL", "https://from-env/")
    monkeypatch.setenv("SCHED_TOKEN", "env-token")
    assert resolve(None).url == "https://from-env"
    assert resolve(None).url_source == "SCHED_URL"
    assert resolve("https://from-option").url == "https://from-option"
    assert resolve(None).token == "env-token"


def test_without_anything_it_is_make_runs_address_and_no_token(home):
    settings = resolve(None)
    assert (settings.url, settings.token) == (DEFAULT_URL, None)
