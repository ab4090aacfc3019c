"""`sched export`: your jobs as a job file that `sched apply` takes back unchanged."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

from .. import exporting, yamlio
from ..client import Client
from ..context import with_client
from ..output import note
from ..syncing import LIVE_STATUSES

HEADER = (
    "# Written by `sched export`: your jobs that are not canceled, one document per product\n"
    "# and group. `sched apply -f FILE` takes it back unchanged (docs/cli.md).\n"
)


@click.command(short_help="Write your jobs as a job file for apply.")
@click.option("-o", "--output", help="Write to this file (default: stdout).")
@click.option("--product", help="Only this product's jobs.")
@click.option("--group", help="Only this group's jobs.")
@with_client
def export(client: Client, output: str | None, product: str | None, group: str | None) -> None:
    """Write your jobs (not canceled) as YAML documents, one per product and group."""
    params = {"mine": "true", "status": LIVE_STATUSES, "product": product, "group": group}
    params = {key: value for key, value in params.items() if value}
    with ThreadPoolExecutor(max_workers=4) as pool:
        jobs = client.every("/api/v1/jobs", params, pool)
    try:
        documents, notes = exporting.documents(jobs)
    except exporting.ExportProblem as exc:
        raise click.ClickException(str(exc)) from None
    for line in notes:
        note(f"note: {line}")
    text = HEADER + (yamlio.dump_all(documents) if documents else "")
    if output:
        Path(output).write_text(text, encoding="utf-8")
        count = sum(len(doc["jobs"]) for doc in documents)
        note(f"wrote {count} jobs in {len(documents)} namespaces to {output}")
    else:
        click.echo(text, nl=False)
