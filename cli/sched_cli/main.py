"""The `sched` command: its options, its subcommands, and how it fails."""

from __future__ import annotations

import logging

import click

from . import __version__
from .commands import apply, crontab, export, jobs, login, preview, runs
from .context import Context


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--url",
    metavar="URL",
    help="The server, e.g. https://sched.example.com (else SCHED_URL, else `sched login`'s).",
)
@click.version_option(__version__, prog_name="sched")
@click.pass_context
def cli(ctx: click.Context, url: str | None) -> None:
    """The job scheduler's command line: a client of its REST API.

    The server and token come from --url, SCHED_URL and SCHED_TOKEN, or from the file
    `sched login` writes. Listings print tables; --json prints the API's JSON.
    """
    ctx.obj = Context(url_option=url)


for group in (jobs.jobs, runs.runs, crontab.crontab):
    cli.add_command(group)
for command in (preview.preview, apply.apply, export.export, login.login, login.logout):
    cli.add_command(command)


def main() -> None:
    # urllib3 logs each connection it tries again; the error, if it comes, says enough.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    cli(prog_name="sched")
