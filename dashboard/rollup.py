"""The rollup pass: runs counted per minute, owner and status, run by beat in a thread.

Each pass recomputes, from the runs themselves (by their due time, through run_due_idx):
- the current minute and the RECENT ones before it (runs still being planned, claimed
  and finished),
- every older minute (within KEEP) whose pending or running runs are not what the rollup
  last counted (a long run that finished, a pending run claimed at last): found through
  the partial indexes of pending and running runs, so a run stuck there costs nothing,
- after a stop of beat, the minutes since the last pass, CATCH_UP at a time, oldest first.
A minute's rows are replaced whole, in one transaction; the quarter hours and hours that
hold it change by the difference, so a pass reads only the runs of the minutes it redoes.
Passes are idempotent (a pass right after another changes nothing) and two beats never
run one at once (an advisory lock on PostgreSQL; SQLite's write lock there).

The worker's hot path pays nothing: no statement of a claim or a finish touches this.
What the pass misses: a run recorded more than a minute after its due time that ended
before a pass saw it pending or running (fires run late, or recorded `missed`, after a
downtime of every beat); they stay out of the charts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import close_old_connections, connection, transaction
from django.db.models import Count, Max, Q
from django.db.models.functions import TruncMinute
from django.utils import timezone

from jobs.models import Run, RunStatus

from . import histogram
from .models import EVERYONE, HOUR, MINUTE, QUARTER, TOTAL, RunBucket

log = logging.getLogger(__name__)

RECENT = 1  # minutes before the current one that every pass recomputes
CATCH_UP = 60  # minutes at most per pass when catching up after a stop (or a first start)
# How long buckets are kept: the minutes the open-run check may still redo, the day's
# chart (quarter hours), the week's (hours).
KEEP = {MINUTE: timedelta(hours=3), QUARTER: timedelta(hours=26), HOUR: timedelta(days=8)}
OPEN = (RunStatus.PENDING, RunStatus.RUNNING)
# Two beats: one pass at a time (pg_try_advisory_xact_lock's key, "dashrollup").
LOCK_KEY = 0x64617368726F6C6C

Key = tuple[datetime, int, str]  # bucket, owner id, status


@dataclass
class Cell:
    count: int = 0
    lag: Counter = field(default_factory=Counter)
    pk: int | None = field(default=None, compare=False)  # its stored row's

    def add(self, count: int, lag: Counter | None = None) -> None:
        self.count += count
        if lag:
            self.lag.update(lag)

    def minus(self, other: Cell) -> Cell:
        lag = Counter(self.lag)
        lag.subtract(other.lag)
        return Cell(self.count - other.count, Counter({k: v for k, v in lag.items() if v}))

    def is_empty(self) -> bool:
        return self.count == 0 and not any(self.lag.values())


def floor_to(moment: datetime, seconds: int) -> datetime:
    stamp = int(moment.timestamp())
    return datetime.fromtimestamp(stamp - stamp % seconds, UTC)


def rollup(now: datetime | None = None) -> int:
    """Bring the rollup up to date with the runs; answer how many minutes were redone."""
    now = now or timezone.now()
    with transaction.atomic():
        if not _lock():
            return 0  # another beat's pass is under way
        minutes = minutes_to_redo(now)
        if minutes:
            new = _count_runs(minutes)
            old = _stored(MINUTE, minutes)
            changed = {key for key in new.keys() | old.keys() if new.get(key) != old.get(key)}
            _replace(changed, new, old)
            difference = _difference(changed, new, old)
            for grain in (QUARTER, HOUR):
                _apply(grain, difference)
        _prune(now)
    return len(minutes)


def _lock() -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite: the transaction holds the database's write lock
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY])
        return cursor.fetchone()[0]


def minutes_to_redo(now: datetime) -> list[datetime]:
    """The minutes this pass recomputes, oldest first."""
    current = floor_to(now, MINUTE)
    oldest = floor_to(now - KEEP[MINUTE], MINUTE) + timedelta(minutes=1)
    last = RunBucket.objects.filter(owner_id=EVERYONE, seconds=MINUTE, status=TOTAL).aggregate(
        last=Max("bucket")
    )["last"]
    start = current - timedelta(minutes=RECENT)
    if last is None or last < oldest:
        start = oldest
    elif last < start:
        start = last
    span = int((current - start).total_seconds() // 60) + 1
    if span > CATCH_UP + RECENT + 1:  # behind: the oldest first, the recent ones later
        return [start + timedelta(minutes=i) for i in range(CATCH_UP)]
    recent = [start + timedelta(minutes=i) for i in range(span)]
    return sorted(set(recent) | _changed_open_minutes(oldest, start))


def _changed_open_minutes(oldest: datetime, before: datetime) -> set[datetime]:
    """Minutes in [oldest, before) whose pending or running runs differ from the rollup's."""
    actual: Counter = Counter()
    for status in OPEN:  # each through its partial index (run_pending_idx, run_running_idx)
        rows = (
            Run.objects.filter(status=status, due_at__gte=oldest, due_at__lt=before)
            .annotate(minute=TruncMinute("due_at"))
            .order_by()
            .values_list("minute")
            .annotate(n=Count("id"))
        )
        actual.update({(minute, status): n for minute, n in rows})
    stored = Counter(
        {
            (bucket, status): count
            for bucket, status, count in RunBucket.objects.filter(
                owner_id=EVERYONE,
                seconds=MINUTE,
                status__in=OPEN,
                bucket__gte=oldest,
                bucket__lt=before,
            ).values_list("bucket", "status", "count")
        }
    )
    return {
        minute
        for minute, status in actual.keys() | stored.keys()
        if actual[(minute, status)] != stored[(minute, status)]
    }


def _ranges(minutes: list[datetime]) -> list[tuple[datetime, datetime]]:
    """Sorted minutes as [start, end) ranges of consecutive ones."""
    ranges: list[tuple[datetime, datetime]] = []
    for minute in minutes:
        end = minute + timedelta(minutes=1)
        if ranges and ranges[-1][1] == minute:
            ranges[-1] = (ranges[-1][0], end)
        else:
            ranges.append((minute, end))
    return ranges


# The runs of some time ranges grouped by minute, owner, status and lag bucket; the lag
# bucket as dashboard.histogram.index_of computes it (NULL: the run has not started).
_COUNT_SQL = """
SELECT date_trunc('minute', r.due_at) AS minute, j.owner_id, r.status,
       CASE WHEN r.started_at IS NULL THEN NULL
            WHEN lag_ms < 1 THEN 0
            ELSE LEAST(1 + floor(ln(lag_ms) / ln(2) * %(steps)s)::int, %(last)s)
       END AS lag_bucket,
       count(*)
FROM jobs_run r
JOIN jobs_job j ON j.id = r.job_id
CROSS JOIN LATERAL (
    SELECT date_part('epoch', r.started_at - r.due_at) * 1000 AS lag_ms
) l
WHERE {ranges}
GROUP BY 1, 2, 3, 4
"""


def _count_runs(minutes: list[datetime]) -> dict[Key, Cell]:
    """Every owner's and EVERYONE's status and TOTAL cells of these minutes; EVERYONE has a
    TOTAL row for each minute, even an empty one (the last of them says where the last
    pass got to)."""
    cells: dict[Key, Cell] = {(minute, EVERYONE, TOTAL): Cell() for minute in minutes}
    for minute, owner, status, lag_bucket, n in _grouped_runs(_ranges(minutes)):
        lag = Counter({lag_bucket: n}) if lag_bucket is not None else None
        for key in (
            (minute, owner, status),
            (minute, owner, TOTAL),
            (minute, EVERYONE, status),
            (minute, EVERYONE, TOTAL),
        ):
            cells.setdefault(key, Cell()).add(n, lag if key[2] == TOTAL else None)
    return cells


def _grouped_runs(ranges: list[tuple[datetime, datetime]]) -> Iterable[tuple]:
    if connection.vendor == "postgresql":
        where = " OR ".join(
            f"(r.due_at >= %(start{i})s AND r.due_at < %(end{i})s)" for i in range(len(ranges))
        )
        params: dict = {"steps": histogram.STEPS_PER_DOUBLING, "last": histogram.LAST}
        for i, (start, end) in enumerate(ranges):
            params[f"start{i}"], params[f"end{i}"] = start, end
        with connection.cursor() as cursor:
            cursor.execute(_COUNT_SQL.format(ranges=where), params)
            yield from cursor.fetchall()
        return
    # SQLite (one machine, few runs): the same grouping, made here.
    within = Q()
    for start, end in ranges:
        within |= Q(due_at__gte=start, due_at__lt=end)
    groups: Counter = Counter()
    for due_at, owner, status, started_at in Run.objects.filter(within).values_list(
        "due_at", "job__owner_id", "status", "started_at"
    ):
        lag_bucket = None
        if started_at is not None:
            lag_bucket = histogram.index_of((started_at - due_at).total_seconds() * 1000)
        groups[(floor_to(due_at, MINUTE), owner, status, lag_bucket)] += 1
    for key, n in groups.items():
        yield (*key, n)


def _stored(seconds: int, buckets: Iterable[datetime]) -> dict[Key, Cell]:
    rows = RunBucket.objects.filter(seconds=seconds, bucket__in=list(buckets))
    return {
        (row.bucket, row.owner_id, row.status): Cell(
            row.count, histogram.merge([row.lag]), pk=row.pk
        )
        for row in rows
    }


def _replace(changed: set[Key], new: dict[Key, Cell], old: dict[Key, Cell]) -> None:
    """Write the minutes' rows that changed (most of a recent minute's did not)."""
    RunBucket.objects.filter(pk__in=[old[key].pk for key in changed if key in old]).delete()
    RunBucket.objects.bulk_create(
        [
            RunBucket(
                seconds=MINUTE,
                bucket=bucket,
                owner_id=owner,
                status=status,
                count=new[(bucket, owner, status)].count,
                lag=histogram.as_json(new[(bucket, owner, status)].lag),
            )
            for bucket, owner, status in changed
            if (bucket, owner, status) in new
        ],
        batch_size=1000,
    )


def _difference(changed: set[Key], new: dict[Key, Cell], old: dict[Key, Cell]) -> dict[Key, Cell]:
    difference = {}
    for key in changed:
        change = new.get(key, Cell()).minus(old.get(key, Cell()))
        if not change.is_empty():
            difference[key] = change
    return difference


def _apply(seconds: int, difference: dict[Key, Cell]) -> None:
    """Add the minutes' changes to the buckets of `seconds` that hold them."""
    changes: dict[Key, Cell] = {}
    for (minute, owner, status), change in difference.items():
        key = (floor_to(minute, seconds), owner, status)
        changes.setdefault(key, Cell()).add(change.count, change.lag)
    if not changes:
        return
    rows = RunBucket.objects.filter(
        seconds=seconds,
        bucket__in={bucket for bucket, _, _ in changes},
        owner_id__in={owner for _, owner, _ in changes},
    )
    existing = {(row.bucket, row.owner_id, row.status): row for row in rows}
    kept, emptied = [], []
    for key, change in changes.items():
        row = existing.get(key)
        lag = histogram.merge([row.lag]) if row else Counter()
        lag.update(change.lag)
        count = (row.count if row else 0) + change.count
        if count <= 0 and not any(v > 0 for v in lag.values()):
            if row:
                emptied.append(row.pk)
            continue
        bucket, owner, status = key
        kept.append(
            RunBucket(
                seconds=seconds,
                bucket=bucket,
                owner_id=owner,
                status=status,
                count=max(count, 0),
                lag=histogram.as_json(+lag),
            )
        )
    RunBucket.objects.filter(pk__in=emptied).delete()
    RunBucket.objects.bulk_create(
        kept,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["owner_id", "seconds", "bucket", "status"],
        update_fields=["count", "lag"],
    )


def _prune(now: datetime) -> None:
    for seconds, keep in KEEP.items():
        RunBucket.objects.filter(
            seconds=seconds, bucket__lt=now - keep - timedelta(seconds=seconds)
        ).delete()


def start_thread(interval: float) -> threading.Thread:
    """Run a pass every `interval` seconds in a daemon thread of this process (beat), so
    that planning fires never waits for one."""
    thread = threading.Thread(target=_loop, args=(interval,), name="dashboard-rollup", daemon=True)
    thread.start()
    return thread


def _loop(interval: float) -> None:
    while True:
        started = time.monotonic()
        try:
            close_old_connections()
            redone = rollup()
            log.debug("rollup: %d minutes in %.0f ms", redone, (time.monotonic() - started) * 1000)
        except Exception:  # the database is away: try again at the next interval
            log.exception("the dashboard's rollup pass failed; retrying in ROLLUP_INTERVAL")
            close_old_connections()
        time.sleep(max(interval - (time.monotonic() - started), 1.0))
