"""Parse job schedules (once, interval, cron) and compute their fire times.

Cron runs on wall time in the schedule's zone. A wall time skipped by a DST
change fires once at the end of the gap; a repeated wall time fires once, at
its first occurrence. Intervals are elapsed time and ignore DST.
"""

import difflib
import math
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from cron_descriptor import get_description
from croniter import CroniterBadDateError, croniter

from jobs.durations import describe_duration, format_duration, parse_duration

KINDS = ("once", "interval", "cron")
HELP = (
    'use "now", an ISO 8601 date-time, a delay like "30s", {"every": "10m"}, '
    '{"interval": {...}} or {"cron": "*/5 * * * *"}'
)
CRON_HELP = (
    "use 5 fields (minute hour day-of-month month day-of-week), "
    "6 with seconds first, or a macro like @daily"
)
MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
INTERVAL_KEYS = ("weeks", "days", "hours", "minutes", "seconds")
_DATETIME_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}[tT ]\d{2}:\d{2}")
# croniter's H (hashed) and R (random) fields are not standard cron and R is not repeatable.
_HASH_OR_RANDOM = re.compile(r"(?<![a-z])[hr](?![a-z])", re.IGNORECASE)
_SECOND = timedelta(seconds=1)
_MS = timedelta(milliseconds=1)
# Every instant a schedule holds or computes lies in this range: Python's datetime ends in
# year 9999, so arithmetic near it overflows; a fire past LATEST is a schedule error.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
LONGEST = timedelta(days=100 * 365)  # the longest interval: LATEST + LONGEST stays in range
# Cron fields (seconds first) and their ranges: a step must be smaller than its field's span.
_CRON_FIELDS = (
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 6),
)
_STEP = re.compile(r"/(\d+)")
# Any satisfiable 5/6-field expression matches within 28 years (Feb 29 within 8).
_PROBE = datetime(2000, 1, 1)


class ScheduleError(ValueError):
    """Report a schedule the API user must fix; the message is shown to them."""


@cache
def _zone_names() -> frozenset[str]:
    # "localtime" is the host's zone, not an IANA name.
    return frozenset(zoneinfo.available_timezones() - {"localtime"})


def get_zone(name) -> zoneinfo.ZoneInfo:
    """Return the ZoneInfo for an IANA name or raise ScheduleError (suggesting close names)."""
    if not isinstance(name, str) or name not in _zone_names():
        shown = f"'{name}'" if isinstance(name, str) else repr(name)
        close = close_zones(name) if isinstance(name, str) else []
        hint = (
            f": did you mean {_either(close)}?" if close else " (an IANA name, e.g. 'Europe/Paris')"
        )
        raise ScheduleError(f"unknown time zone {shown}{hint}")
    return zoneinfo.ZoneInfo(name)


def close_zones(name: str, count: int = 3) -> list[str]:
    """IANA names close to `name`: the same but for case ('europe/paris'), a city or last
    part ('Paris', 'new york'), else the most alike by difflib's ratio ('Europe/Pari')."""
    key = name.strip().lower().replace(" ", "_")
    if not key or len(key) > 64:
        return []
    by_lower, by_city = _zone_keys()
    if key in by_lower:
        return [by_lower[key]]
    if key in by_city:
        return sorted(by_city[key])[:count]
    found = difflib.get_close_matches(key, by_lower, n=count, cutoff=0.75)
    return [by_lower[match] for match in found]


@cache
def _zone_keys() -> tuple[dict[str, str], dict[str, list[str]]]:
    """The zone names by their lower case, and by the lower case of their last part."""
    by_lower = {zone.lower(): zone for zone in _zone_names()}
    by_city: dict[str, list[str]] = {}
    for zone in _zone_names():
        by_city.setdefault(zone.rsplit("/", 1)[-1].lower(), []).append(zone)
    return by_lower, by_city


def _either(names: list[str]) -> str:
    quoted = [f"'{name}'" for name in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _utc(value, name: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


def _in_range(moment: datetime, shown: str) -> datetime:
    """`moment` in UTC, or ScheduleError when it lies outside EARLIEST..LATEST."""
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # a local time in year 1 or 9999 whose UTC instant does not exist
        moment = None
    if moment is None or not EARLIEST <= moment < LATEST:
        raise ScheduleError(
            f"{shown} is out of range: use a time from {EARLIEST.year} to {LATEST.year - 1}"
        )
    return moment


def _checked(moment: datetime | None) -> datetime | None:
    """A computed fire, or ScheduleError when it is past LATEST."""
    if moment is not None and moment >= LATEST:
        raise ScheduleError(f"the next fire would be past the year {LATEST.year - 1}")
    return moment


def _check_steps(fields: list[str]) -> None:
    """Refuse a step as long as its field's span or longer (`*/100` in minutes): cron
    fires such a field only at its first value, which no description would say."""
    named = _CRON_FIELDS if len(fields) == 6 else _CRON_FIELDS[1:]
    for (name, low, high), field in zip(named, fields, strict=True):
        for step in _STEP.findall(field):
            if len(step) > 6 or not 0 < int(step) <= high - low:
                raise ScheduleError(
                    f"the step '/{step}' of the {name} field must be from 1 to {high - low}"
                )


def _transition(zone, before: datetime, after: datetime) -> datetime:
    """Return the first whole-second instant in (before, after] with after's UTC offset."""
    target = after.astimezone(zone).utcoffset()
    while after - before > _SECOND:
        mid = (before + (after - before) / 2).replace(microsecond=0)
        if mid.astimezone(zone).utcoffset() == target:
            after = mid
        else:
            before = mid
    return after


def to_instant(wall: datetime, zone) -> datetime:
    """Return the UTC instant of a naive wall time under the DST rules above."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # In a gap fold=0 lands after the gap and fold=1 before it; the gap's end is between.
    before = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return _transition(zone, before.replace(microsecond=0), first.replace(microsecond=0))


def _wall_floor(instant: datetime, zone) -> datetime:
    """Return the latest whole-second wall time whose instant is <= `instant`."""
    local = instant.astimezone(zone)
    wall = local.replace(tzinfo=None, microsecond=0)
    if local.fold and local.utcoffset() != local.replace(fold=0).utcoffset():
        # In a repeat's second pass every repeated wall time has already had its first
        # occurrence, so the bound is the end of the repeat, not the clock reading.
        first_pass = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
        end = _transition(zone, first_pass, instant.replace(microsecond=0))
        wall = (end - _SECOND).astimezone(zone).replace(tzinfo=None)
    return wall


def _normalize_cron(expr) -> str:
    if not isinstance(expr, str):
        raise ScheduleError(f'"cron" must be a string like "*/5 * * * *", not {expr!r}')
    fields = expr.split()
    if len(fields) == 1 and fields[0].startswith("@"):
        macro = fields[0].lower()
        if macro not in MACROS:
            raise ScheduleError(f"unknown cron macro '{fields[0]}': use one of {', '.join(MACROS)}")
        return macro
    if len(fields) not in (5, 6):
        raise ScheduleError(
            f"'{expr.strip()}' has {len(fields)} fields, not a valid cron expression: {CRON_HELP}"
        )
    normalized = " ".join(fields)
    _check_steps(fields)
    if _HASH_OR_RANDOM.search(normalized) or not croniter.is_valid(
        normalized, second_at_beginning=True
    ):
        raise ScheduleError(f"'{normalized}' is not a valid cron expression: {CRON_HELP}")
    try:
        croniter(normalized, _PROBE, second_at_beginning=True).get_next(datetime)
    except CroniterBadDateError:
        raise ScheduleError(f"'{normalized}' never fires: no date matches it") from None
    return normalized


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Schedule:
    """Hold one validated schedule; build it with parse_schedule or from_json."""

    kind: str
    timezone: str = "UTC"
    at: datetime | None = None
    every: timedelta | None = None
    cron: str | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ScheduleError(f"unknown schedule kind {self.kind!r}")
        get_zone(self.timezone)
        wanted = {"once": "at", "interval": "every", "cron": "cron"}[self.kind]
        for name in ("at", "every", "cron"):
            if (getattr(self, name) is None) == (name == wanted):
                raise ScheduleError(f"a {self.kind} schedule needs '{wanted}' and nothing else")
        if self.kind == "once":
            _utc(self.at, "at")
            object.__setattr__(self, "at", _in_range(self.at, f"'{self.at.isoformat()}'"))
        elif self.kind == "interval":
            if not isinstance(self.every, timedelta) or self.every <= timedelta(0):
                raise ScheduleError("the interval must be greater than zero")
            if self.every > LONGEST:
                raise ScheduleError(f"the interval is longer than {LONGEST.days} days")
            if self.every % _MS:
                # to_json keeps milliseconds; finer intervals would not survive a round trip.
                raise ScheduleError("the interval must be a whole number of milliseconds")
        else:
            object.__setattr__(self, "cron", _normalize_cron(self.cron))

    @property
    def recurring(self) -> bool:
        """Return whether the schedule fires more than once."""
        return self.kind != "once"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """Return the ZoneInfo of the schedule's time zone."""
        return zoneinfo.ZoneInfo(self.timezone)

    def to_json(self) -> dict:
        """Return the stored form; the time zone is stored separately."""
        if self.kind == "once":
            return {"kind": "once", "at": _iso(self.at)}
        if self.kind == "interval":
            return {"kind": "interval", "every": format_duration(self.every)}
        return {"kind": "cron", "cron": self.cron}

    @classmethod
    def from_json(cls, data: dict, timezone: str = "UTC") -> "Schedule":
        """Rebuild a schedule from to_json() output."""
        try:
            kind = data["kind"]
            if kind == "once":
                return cls(kind="once", timezone=timezone, at=datetime.fromisoformat(data["at"]))
            if kind == "interval":
                return cls(kind="interval", timezone=timezone, every=parse_duration(data["every"]))
            return cls(kind=kind, timezone=timezone, cron=data.get("cron"))
        except ScheduleError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ScheduleError(f"invalid stored schedule {data!r}") from exc

    def describe(self) -> str:
        """Return the schedule in words, e.g. "every 10 minutes"."""
        if self.kind == "once":
            local = self.at.astimezone(self.zone)
            return f"once at {local:%Y-%m-%d %H:%M:%S} {self.timezone}"
        if self.kind == "interval":
            return f"every {describe_duration(self.every)}"
        try:
            text = get_description(MACROS.get(self.cron, self.cron))
        except Exception:  # cron-descriptor lags croniter's syntax; fall back to the raw text.
            text = f"cron '{self.cron}'"
        return f"{text} ({self.timezone})"

    def first_fire(self, *, now: datetime, start_at: datetime | None = None) -> datetime | None:
        """Return the first fire time of a new job (a past `at` is returned as is)."""
        now = _utc(now, "now")
        if start_at is not None:
            start_at = _utc(start_at, "start_at")
        if self.kind == "once":
            return self.at
        if self.kind == "interval":
            return start_at if start_at is not None else _checked(now + self.every)
        if start_at is not None and start_at > now:
            return self.next_fire(start_at - timedelta(microseconds=1))
        return self.next_fire(now)

    def next_fire(self, after: datetime, *, anchor: datetime | None = None) -> datetime | None:
        """Return the first fire strictly after `after` (None for once)."""
        after = _utc(after, "after")
        if self.kind == "once":
            return None
        _checked(after)  # a fire after it would be past LATEST too
        if self.kind == "interval":
            anchor = _utc(anchor, "anchor")
            if after < anchor:
                return _checked(anchor)
            return _checked(anchor + ((after - anchor) // self.every + 1) * self.every)
        zone = self.zone
        start = _wall_floor(after, zone)
        try:
            wall = croniter(self.cron, start, second_at_beginning=True).get_next(datetime)
        except CroniterBadDateError:
            return None
        return _checked(to_instant(wall, zone))

    def last_fire_at_or_before(
        self, moment: datetime, *, anchor: datetime | None = None
    ) -> datetime | None:
        """Return the latest fire <= `moment`, or None if there is none."""
        moment = _utc(moment, "moment")
        if self.kind == "once":
            return self.at if self.at <= moment else None
        if self.kind == "interval":
            anchor = _utc(anchor, "anchor")
            if moment < anchor:
                return None
            return anchor + ((moment - anchor) // self.every) * self.every
        zone = self.zone
        # croniter's get_prev is strict, so start one second past the inclusive bound.
        start = _wall_floor(moment, zone) + _SECOND
        try:
            wall = croniter(self.cron, start, second_at_beginning=True).get_prev(datetime)
        except CroniterBadDateError:
            return None
        return to_instant(wall, zone)

    def upcoming(
        self,
        *,
        after: datetime,
        anchor: datetime | None = None,
        count: int = 10,
        end_at: datetime | None = None,
        remaining: int | None = None,
    ) -> list[datetime]:
        """Return up to `count` fires after `after`, none past end_at or beyond `remaining`."""
        after = _utc(after, "after")
        if end_at is not None:
            end_at = _utc(end_at, "end_at")
        limit = count if remaining is None else min(count, remaining)
        fires: list[datetime] = []
        if self.kind == "once":
            fire = self.at if self.at > after else None
        else:
            fire = self._next_in_range(after, anchor)
        while fire is not None and len(fires) < limit and (end_at is None or fire <= end_at):
            fires.append(fire)
            fire = None if self.kind == "once" else self._next_in_range(fire, anchor)
        return fires

    def _next_in_range(self, after: datetime, anchor: datetime | None) -> datetime | None:
        """next_fire, or None where the next fire would be past the supported years."""
        try:
            return self.next_fire(after, anchor=anchor)
        except ScheduleError:
            return None


def parse_schedule(value, *, timezone: str = "UTC", now: datetime) -> Schedule:
    """Return the Schedule for an API value or raise ScheduleError."""
    get_zone(timezone)
    now = _utc(now, "now")
    if isinstance(value, str):
        return _parse_text(value, timezone, now)
    if isinstance(value, dict):
        return _parse_object(value, timezone)
    raise ScheduleError(f"{type(value).__name__} is not a schedule: {HELP}")


def _parse_text(value: str, timezone: str, now: datetime) -> Schedule:
    text = value.strip()
    if not text:
        raise ScheduleError(f"the schedule is empty: {HELP}")
    if text.lower() == "now":
        return Schedule(kind="once", timezone=timezone, at=now)
    if _DATETIME_SHAPE.match(text):
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ScheduleError(f"'{text}' is not a valid date-time: {exc}") from None
        if parsed.utcoffset() is None:
            if not EARLIEST.year < parsed.year < LATEST.year:
                _in_range(parsed.replace(tzinfo=UTC), f"'{text}'")
            parsed = to_instant(parsed, get_zone(timezone))
        return Schedule(kind="once", timezone=timezone, at=_in_range(parsed, f"'{text}'"))
    try:
        delay = parse_duration(text)
    except ValueError:
        raise ScheduleError(f"'{text}' is not a schedule: {HELP}") from None
    if delay <= timedelta(0):
        raise ScheduleError(f"the delay '{text}' must be greater than zero")
    if delay >= LATEST - now:
        raise ScheduleError(f"the delay '{text}' is too long")
    return Schedule(kind="once", timezone=timezone, at=now + delay)


def _parse_object(value: dict, timezone: str) -> Schedule:
    if len(value) != 1:
        raise ScheduleError(
            f'a schedule object needs exactly one key, "every", "interval" or "cron": {HELP}'
        )
    ((key, arg),) = value.items()
    if key == "cron":
        return Schedule(kind="cron", timezone=timezone, cron=arg)
    if key == "every":
        every = _parse_every(arg)
    elif key == "interval":
        every = _parse_interval(arg)
    else:
        raise ScheduleError(f"unknown schedule key {key!r}: {HELP}")
    if every > LONGEST:
        raise ScheduleError(f"the interval is longer than {LONGEST.days} days")
    every = round(every / _MS) * _MS
    if every <= timedelta(0):
        raise ScheduleError("the interval must be greater than zero")
    return Schedule(kind="interval", timezone=timezone, every=every)


def _parse_every(arg) -> timedelta:
    if isinstance(arg, bool) or not isinstance(arg, str | int | float):
        raise ScheduleError('"every" must be a duration like "10m" or a number of seconds')
    try:
        return parse_duration(arg)
    except ValueError as exc:
        raise ScheduleError(f'"every": {exc}') from None


def _parse_interval(arg) -> timedelta:
    if not isinstance(arg, dict):
        raise ScheduleError('"interval" must be an object like {"hours": 1, "minutes": 30}')
    for key, number in arg.items():
        if key not in INTERVAL_KEYS:
            raise ScheduleError(f"unknown interval key {key!r}: use {', '.join(INTERVAL_KEYS)}")
        if (
            isinstance(number, bool)
            or not isinstance(number, int | float)
            or not math.isfinite(number)
            or number < 0
        ):
            raise ScheduleError(f'interval "{key}" must be a number of at least 0')
    try:
        return timedelta(**arg)
    except OverflowError:
        raise ScheduleError("the interval is too long") from None
