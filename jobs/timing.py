"""Schedule arithmetic on a Job row (first fire, next fire, limits), and a schedule's
preview before there is a job."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from .models import Job
from .schedules import Schedule, ScheduleError


def schedule_of(job: Job) -> Schedule:
    """The job's parsed schedule (a frozen Schedule, shared between jobs that have the same).

    The dispatcher asks for it twice per fire (`_fire_for`, `following_fire`), for schedules
    that thousands of jobs share: parsing (croniter's validation of a cron expression, a
    duration, the zone) was a tenth of its time.
    """
    data = job.schedule
    try:
        return _parsed(tuple(data.items()), job.timezone)
    except (AttributeError, TypeError):  # not a dict of plain values: parse it as it is
        return Schedule.from_json(data, timezone=job.timezone)


@lru_cache(maxsize=4096)
def _parsed(items: tuple, timezone: str) -> Schedule:
    return Schedule.from_json(dict(items), timezone=timezone)


def within_limits(job: Job, moment: datetime | None, *, fires: int | None = None) -> bool:
    """Whether a fire at `moment` is allowed by end_at and max_runs."""
    if moment is None:
        return False
    if job.end_at is not None and moment > job.end_at:
        return False
    fired = job.fire_count if fires is None else fires
    return job.max_runs is None or fired < job.max_runs


def following_fire(job: Job, after: datetime) -> datetime | None:
    """The job's next fire strictly after `after`, or None when it is done."""
    nxt = schedule_of(job).next_fire(after, anchor=job.anchor_at)
    return nxt if within_limits(job, nxt) else None


def upcoming(job: Job, *, after: datetime, count: int) -> list[datetime]:
    """The next `count` fires the dispatcher will plan, in order."""
    if job.next_run_at is None:
        return []
    remaining = None if job.max_runs is None else max(job.max_runs - job.fire_count, 0)
    if remaining == 0:
        return []
    times = [job.next_run_at]
    if count > 1 and job.is_recurring:
        try:
            schedule = schedule_of(job)
        except ScheduleError:  # a stored schedule that cannot be read: the dispatcher ends it
            return times
        times += schedule.upcoming(
            after=job.next_run_at,
            anchor=job.anchor_at,
            count=count - 1,
            end_at=job.end_at,
            remaining=None if remaining is None else remaining - 1,
        )
    return times[:count]


def preview(
    schedule: Schedule,
    *,
    now: datetime,
    start_at: datetime | None,
    end_at: datetime | None,
    max_runs: int | None,
    count: int,
) -> list[datetime]:
    """The first `count` fires a job with this schedule would have if created `now`."""
    first = schedule.first_fire(now=now, start_at=start_at)
    times = [first] if first is not None else []
    if schedule.recurring and first is not None:
        times += schedule.upcoming(
            after=first,
            anchor=first,
            count=count - 1,
            end_at=end_at,
            remaining=None if max_runs is None else max_runs - 1,
        )
    return [t for t in times if end_at is None or t <= end_at][:count]
