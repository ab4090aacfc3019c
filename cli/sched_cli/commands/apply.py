"""`sched apply -f FILE|DIR`: make the server's jobs what the files say."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import click

from .. import spec as specs
from ..applying import DEFAULT_WORKERS, Outcome, execute
from ..client import Client
from ..context import json_option, with_client
from ..output import note, show_json
from ..plan import CANCEL, CREATE, UNCHANGED, UPDATE, Action, Plan, diff_lines, make_plan
from ..syncing import current_jobs, payload_defaults

VERBS = {CREATE: "created", UPDATE: "changed", CANCEL: "canceled"}
PRESENT = {CREATE: "create", UPDATE: "change", CANCEL: "cancel"}


@click.command(short_help="Make the server's jobs what job files say.")
@click.option(
    "-f",
    "--file",
    "paths",
    multiple=True,
    required=True,
    help="A job file, a directory of *.yaml and *.yml files, or - for stdin; repeatable.",
)
@click.option("--prune", is_flag=True, help="Cancel your jobs of these namespaces the files lack.")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option("-q", "--quiet", is_flag=True, help="Only the summary and the errors.")
@click.option(
    "--workers",
    default=DEFAULT_WORKERS,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Requests sent at once.",
)
@json_option
@with_client
def apply(client: Client, paths, prune, dry_run, quiet, workers, as_json) -> None:
    """Create the files' missing jobs, change those that differ, leave equal ones alone.

    Jobs are found by name within their product and group, among your jobs that are not
    canceled. A field a file leaves out is set back to its default. Applying the same
    files again writes nothing. See docs/cli.md for the file format.
    """
    namespaces = specs.load(list(paths))
    options = {"prune": prune, "dry_run": dry_run, "quiet": quiet, "workers": workers}
    sync(client, namespaces, as_json=as_json, **options)


def sync(
    client: Client, namespaces, *, prune, dry_run, quiet, workers, as_json, verbose=True
) -> Plan:
    """Plan against the server, print it, and (unless dry_run) carry it out."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        existing = current_jobs(client, namespaces, pool)
    plan = make_plan(
        namespaces, existing, prune=prune, payload_defaults=payload_defaults(client, namespaces)
    )
    if plan.problems:
        raise click.ClickException("nothing was written:\n  " + "\n  ".join(plan.problems))
    if dry_run:
        if as_json:
            show_json(_summary(plan, None, dry_run=True))
        else:
            for line in diff_lines(plan, verbose=verbose):
                click.echo(line)
            click.echo(_counts(plan, None))
        return plan
    printer = None if (quiet or as_json) else _print_done
    outcome = execute(client, plan, workers=workers, on_done=printer)
    for drift in outcome.drift:
        note(f"note: {drift}")
    if as_json:
        show_json(_summary(plan, outcome, dry_run=False))
    else:
        for action, message in outcome.failed:
            note(f"! {action.label} was not {VERBS[action.kind]}:")
            note("    " + message.replace("\n", "\n    "))
        click.echo(_counts(plan, outcome))
    if outcome.failed:
        raise SystemExit(1)
    return plan


def _print_done(action: Action, error: str | None) -> None:
    if error is None:
        mark = {CREATE: "+", UPDATE: "~", CANCEL: "-"}[action.kind]
        fields = f": {', '.join(key for key, _, _ in action.changes)}" if action.changes else ""
        click.echo(f"{mark} {VERBS[action.kind]} {action.label}{fields}")


def _counts(plan: Plan, outcome: Outcome | None) -> str:
    """`created 3, changed 1, canceled 0; 12 unchanged`, or `would create 3, change 1, ...`."""
    if outcome is None:
        text = "would " + ", ".join(f"{PRESENT[kind]} {len(plan.of(kind))}" for kind in VERBS)
    else:
        done = [action.kind for action, _ in outcome.done]
        text = ", ".join(f"{verb} {done.count(kind)}" for kind, verb in VERBS.items())
    text += f"; {len(plan.of(UNCHANGED))} unchanged"
    return text + (f"; {len(outcome.failed)} failed" if outcome and outcome.failed else "")


def _summary(plan: Plan, outcome: Outcome | None, *, dry_run: bool) -> dict[str, Any]:
    failed = {id(action): message for action, message in (outcome.failed if outcome else [])}
    done_ids = {id(action): answer for action, answer in (outcome.done if outcome else [])}

    def item(action: Action) -> dict[str, Any]:
        answer = done_ids.get(id(action)) or {}
        out = {"product": action.product, "group": action.group, "name": action.name}
        out["id"] = action.job_id or answer.get("id")
        if action.changes:
            out["fields"] = [key for key, _, _ in action.changes]
        if id(action) in failed:
            out["error"] = failed[id(action)]
        return out

    return {
        "dry_run": dry_run,
        "created": [item(a) for a in plan.of(CREATE)],
        "changed": [item(a) for a in plan.of(UPDATE)],
        "canceled": [item(a) for a in plan.of(CANCEL)],
        "unchanged": len(plan.of(UNCHANGED)),
        "failed": len(failed),
    }
