"""`sched crontab import FILE`: a crontab's lines as command jobs, shown, then created."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from .. import crontab as cron
from .. import yamlio
from ..context import Context, json_option
from ..output import note, table
from ..spec import Namespace
from .apply import sync

_GROUP = re.compile(r"[^A-Za-z0-9._-]+")


@click.group()
def crontab() -> None:
    """Bring crontabs over as jobs."""


@crontab.command("import")
@click.argument("path", metavar="FILE")
@click.option("--product", default="crontab", show_default=True)
@click.option("--group", help="Default: the file's name (stdin: 'stdin').")
@click.option("--system", is_flag=True, help="/etc/crontab's form: a user before each command.")
@click.option("--yes", is_flag=True, help="Create the jobs (without it, only show them).")
@click.option("-o", "--output", help="Write a job file for `sched apply` instead (no server).")
@json_option
@click.pass_obj
def import_crontab(obj: Context, path, product, group, system, yes, output, as_json) -> None:
    """Turn a crontab into command jobs: show them, and create them with --yes.

    Each job is named after its command, in the product and group given. Importing the
    same crontab again creates nothing (the jobs are found by name, as apply finds them).
    """
    text = sys.stdin.read() if path == "-" else _read(path)
    parsed = cron.parse(text, system=system)
    if parsed.errors:
        raise click.ClickException(
            f"{path}: nothing was imported:\n  " + "\n  ".join(parsed.errors)
        )
    for line in parsed.notes:
        note(f"note: {line}")
    jobs = cron.jobs(parsed.entries)
    group = group or ("stdin" if path == "-" else _GROUP.sub("-", Path(path).name).strip("-"))
    namespace = Namespace(product, group, {job["name"]: job for job in jobs})
    if output:
        document = {"product": product, "group": group, "jobs": jobs}
        Path(output).write_text(yamlio.dump_all([document]), encoding="utf-8")
        note(f"wrote {len(jobs)} jobs to {output}: `sched apply -f {output}` creates them")
        return
    if not as_json:
        _show(parsed.entries, jobs, product, group)
    options = {"prune": False, "dry_run": not yes, "quiet": False, "workers": 8}
    plan = sync(obj.client(), [namespace], as_json=as_json, verbose=False, **options)
    if not yes and plan.writes() and not as_json:
        click.echo("Nothing was written: run again with --yes to create them.")


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None


def _show(entries: list[cron.Entry], jobs: list[dict], product: str, group: str) -> None:
    rows = []
    for entry, job in zip(entries, jobs, strict=True):
        task = job["task"]
        rows.append(
            {
                "line": entry.line,
                "name": job["name"],
                "schedule": job["schedule"]["cron"],
                "timezone": job.get("timezone", "UTC"),
                "command": task["command"],
                "env": ", ".join(sorted(task.get("env", {}))),
            }
        )
    click.echo(f"{len(jobs)} command jobs in {product}/{group}:")
    table(rows, [(key, key) for key in ("line", "name", "schedule", "timezone", "command", "env")])
    click.echo("")
