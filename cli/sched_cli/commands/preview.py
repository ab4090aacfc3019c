"""`sched preview SCHEDULE`: what the API makes of a schedule and when it fires."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

import click

from ..arguments import schedule_value
from ..client import Client
from ..context import json_option, with_client
from ..output import show_json


@click.command()
@click.argument("schedule")
@click.option("--tz", "--timezone", "timezone", default="UTC", show_default=True)
@click.option("--count", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--start-at", help="Recurring: the first fire not before (date-time or delay).")
@click.option("--end-at", help="Recurring: no fire after (date-time or delay).")
@click.option("--max-runs", type=click.IntRange(1))
@json_option
@with_client
def preview(client: Client, schedule, timezone, count, start_at, end_at, max_runs, as_json):
    """Check a schedule and show its next fires; creates nothing.

    \b
    sched preview '*/15 9-17 * * mon-fri' --tz Europe/Paris
    sched preview @daily
    sched preview 'every 90m' --count 3
    sched preview 'in 2h'
    """
    body = {"schedule": schedule_value(schedule), "timezone": timezone, "count": count}
    optional = {"start_at": start_at, "end_at": end_at, "max_runs": max_runs}
    body.update({key: value for key, value in optional.items() if value is not None})
    answer = client.post("/api/v1/schedules/preview", body)
    if as_json:
        show_json(answer)
        return
    click.echo(f"{answer['description']}")
    stored = answer["schedule"]
    shown = {
        "cron": f"cron {stored.get('cron')}",
        "interval": f"every {stored.get('every')}",
        "once": f"once at {stored.get('at')}",
    }[answer["kind"]]
    click.echo(f"{shown}; time zone {answer['timezone']}")
    zone = zoneinfo.ZoneInfo(answer["timezone"])
    for moment in answer["upcoming"]:
        at = datetime.fromisoformat(moment)
        local = at.astimezone(zone).strftime("%a %Y-%m-%d %H:%M:%S %Z")
        click.echo(f"  {moment}  {local}" if answer["timezone"] != "UTC" else f"  {moment}")
    if not answer["upcoming"]:
        click.echo("  (no fire to come)")
