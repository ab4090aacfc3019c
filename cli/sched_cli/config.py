"""Where the API is and the token to use: options, then the environment, then the file.

`sched login` writes the file: $SCHED_CONFIG, else $XDG_CONFIG_HOME/sched/config.ini
(~/.config/sched/config.ini), mode 0600 in a 0700 directory, since it holds a token.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path

import click

DEFAULT_URL = "http://127.0.0.1:8000"  # where `make run` serves
SECTION = "sched"


@dataclass(frozen=True)
class Settings:
    url: str
    url_source: str  # where the URL came from, named in connection errors
    token: str | None
    token_source: str


def config_path() -> Path:
    explicit = os.environ.get("SCHED_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sched" / "config.ini"


def read_file() -> dict[str, str]:
    path = config_path()
    if not path.exists():
        return {}
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise click.ClickException(f"{path}: cannot read the configuration: {exc}") from None
    return dict(parser[SECTION]) if parser.has_section(SECTION) else {}


def write_file(url: str, token: str) -> Path:
    """Write the URL and token, readable by the user alone; return the file's path."""
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    parser = configparser.ConfigParser(interpolation=None)
    parser[SECTION] = {"url": url, "token": token}
    # Created 0600, and set so if it existed with a looser mode, before the token is written.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        parser.write(handle)
    return path


def resolve(url_option: str | None) -> Settings:
    """--url, SCHED_URL or the file's url (else make run's address); SCHED_TOKEN or the file's."""
    stored = read_file()
    if url_option:
        url, url_source = url_option, "--url"
    elif os.environ.get("SCHED_URL"):
        url, url_source = os.environ["SCHED_URL"], "SCHED_URL"
    elif stored.get("url"):
        url, url_source = stored["url"], str(config_path())
    else:
        url, url_source = DEFAULT_URL, "the default; set SCHED_URL or run `sched login`"
    if os.environ.get("SCHED_TOKEN"):
        token, token_source = os.environ["SCHED_TOKEN"], "SCHED_TOKEN"
    elif stored.get("token"):
        token, token_source = stored["token"], str(config_path())
    else:
        token, token_source = None, ""
    return Settings(url.rstrip("/"), url_source, token, token_source)
