"""`sched login` and `sched logout`: keep the server's URL and a token in the config file."""

from __future__ import annotations

import os
import sys

import click

from ..client import ApiError, Client
from ..config import DEFAULT_URL, config_path, read_file, write_file


@click.command(short_help="Keep the server's URL and a token (mode 0600).")
@click.option("--url", "url", help=f"The server (default: SCHED_URL, else {DEFAULT_URL}).")
@click.option("--token-stdin", is_flag=True, help="Read the token from stdin (scripts).")
@click.pass_obj
def login(obj, url: str | None, token_stdin: bool) -> None:
    """Check a token against the server and keep both in the config file (mode 0600).

    The token is an API token (`python manage.py drf_create_token USER` on the server, or
    the one `make run` prints). It is asked for without echo, never taken as an option.
    """
    stored = read_file().get("url")
    url = (url or obj.url_option or os.environ.get("SCHED_URL") or stored or DEFAULT_URL).rstrip(
        "/"
    )
    if token_stdin:
        token = sys.stdin.readline().strip()
    else:
        token = click.prompt(f"API token for {url}", hide_input=True, err=True).strip()
    if not token:
        raise click.UsageError("the token is empty")
    client = Client(url, token, url_source="sched login")
    try:
        client.get("/api/v1/jobs", limit=1)
    except ApiError as exc:
        if exc.status in (401, 403):
            raise click.ClickException(f"{url} refused this token ({exc.status}).") from None
        raise
    path = write_file(url, token)
    click.echo(f"Logged in to {url}; the token is kept in {path} (mode 0600).")


@click.command()
def logout() -> None:
    """Remove the config file `sched login` wrote."""
    path = config_path()
    if path.exists():
        path.unlink()
        click.echo(f"Removed {path}.")
    else:
        click.echo(f"No {path}: nothing to remove.")
