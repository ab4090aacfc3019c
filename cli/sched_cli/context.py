"""What every command shares: the settings and one API client, made when first needed."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import wraps

import click

from .client import Client
from .config import resolve


@dataclass
class Context:
    url_option: str | None = None
    _client: Client | None = field(default=None, repr=False)

    def client(self) -> Client:
        if self._client is None:
            settings = resolve(self.url_option)
            if not settings.token:
                raise click.ClickException(
                    f"no API token for {settings.url}: set SCHED_TOKEN, or run `sched login` "
                    "(an admin makes one with `python manage.py drf_create_token USER`)"
                )
            self._client = Client(settings.url, settings.token, url_source=settings.url_source)
        return self._client


def json_option(command):
    """--json: print the API's JSON instead of a table."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON, not a table.")(command)


def with_client(command):
    """Pass the API client as the first argument."""

    @click.pass_obj
    @wraps(command)
    def wrapper(obj: Context, *args, **kwargs):
        return command(obj.client(), *args, **kwargs)

    return wrapper
