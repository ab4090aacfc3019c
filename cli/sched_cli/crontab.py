"""A crontab as command jobs: what each line means to cron, and the job that does the same.

Read as Vixie cron and cronie read a user's crontab (crontab(5)):

- blank lines and lines starting with `#` are skipped (a `#` later in a line is part of
  the command, as cron passes it to the shell);
- `NAME=value` (spaces around `=` allowed, the value in matching quotes to keep blanks)
  sets a variable for the lines after it: it goes into the `env` of their command tasks,
  which the command task takes (docs/api.md, "Command tasks");
- `CRON_TZ` is the time zone of the schedules after it; `TZ` too when there is no
  CRON_TZ (and, as with cron, the command sees TZ as well);
- `SHELL` is the shell the commands after it run with (cron's default: /bin/sh, which
  is the task's `shell: true`); `MAILTO` and `MAILFROM` are ignored: a job tells of its
  failures through notification channels instead;
- a job line is five time fields, or `@hourly`, `@daily`, `@midnight`, `@weekly`,
  `@monthly`, `@yearly`, `@annually`, then the command (in /etc/crontab, the user
  first, which becomes the task's `run_as`). `@reboot` is refused: no scheduler fire
  means "the machine started". An unescaped `%` (cron's standard input) is refused,
  `\\%` is a `%`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MACROS = ("@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually")
DEFAULT_SHELL = "/bin/sh"
_ENV = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*")
_FIELDS = re.compile(r"\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(.*)")
_UNESCAPED_PERCENT = re.compile(r"(?<!\\)%")
_SLUG = re.compile(r"[^a-z0-9]+")
IGNORED = ("MAILTO", "MAILFROM")
NAME_LENGTH = 40


@dataclass
class Entry:
    """One job line with the settings in force where it stands."""

    line: int
    schedule: str  # five fields or a macro
    command: str
    env: dict[str, str] = field(default_factory=dict)
    timezone: str | None = None
    shell: str = DEFAULT_SHELL
    user: str | None = None


@dataclass
class Parsed:
    entries: list[Entry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "line 4: ..."
    notes: list[str] = field(default_factory=list)


def parse(text: str, *, system: bool = False) -> Parsed:
    """The entries of a crontab; `system`: /etc/crontab's form, a user before the command."""
    parsed = Parsed()
    env: dict[str, str] = {}
    cron_tz: str | None = None
    shell = DEFAULT_SHELL
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        assignment = None if line.startswith("@") else _ENV.fullmatch(line)
        if assignment:
            name, value = assignment[1], _unquote(assignment[2])
            if name == "CRON_TZ":
                cron_tz = value or None
            elif name == "SHELL":
                shell = value or DEFAULT_SHELL
            elif name in IGNORED:
                parsed.notes.append(
                    f"line {number}: {name} is ignored: jobs send their news through "
                    "notification channels (docs/api.md, Notifications)"
                )
            else:
                env = {**env, name: value}
            continue
        entry = _entry(number, line, system, parsed)
        if entry is not None:
            entry.env = {k: v for k, v in env.items()}
            entry.timezone = cron_tz or env.get("TZ") or None
            entry.shell = shell
            parsed.entries.append(entry)
    return parsed


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _entry(number: int, line: str, system: bool, parsed: Parsed) -> Entry | None:
    if line.startswith("@"):
        macro, *more = line.split(None, 1)
        rest = more[0].strip() if more else ""
        if macro.lower() == "@reboot":
            parsed.errors.append(
                f"line {number}: @reboot runs a command when the machine starts, which no "
                "schedule can do: start it from the init system instead (a systemd unit)"
            )
            return None
        if macro.lower() not in MACROS:
            parsed.errors.append(
                f"line {number}: unknown {macro}: use five time fields or {', '.join(MACROS)}"
            )
            return None
        schedule = macro.lower()
    else:
        match = _FIELDS.fullmatch(line)
        if not match:
            parsed.errors.append(
                f"line {number}: not a job line: expected five time fields (minute hour "
                "day-of-month month day-of-week) and a command, or NAME=value"
            )
            return None
        schedule, rest = " ".join(match.groups()[:5]), match[6].strip()
    user = None
    if system:
        user, *more = rest.split(None, 1) or [""]
        rest = more[0].strip() if more else ""
    if _UNESCAPED_PERCENT.search(rest):
        parsed.errors.append(
            f"line {number}: '%' in a cron command starts its standard input, which command "
            "jobs do not have: write \\% for a literal %, or feed the input from a file"
        )
        return None
    command = rest.replace("\\%", "%")
    if not command:
        parsed.errors.append(f"line {number}: the command is missing")
        return None
    return Entry(number, schedule, command, user=user)


def jobs(entries: list[Entry]) -> list[dict[str, Any]]:
    """A command job per entry, named after its command (-2, -3 when two are alike)."""
    taken: dict[str, int] = {}
    out = []
    for entry in entries:
        base = slug(entry.command)
        taken[base] = taken.get(base, 0) + 1
        name = base if taken[base] == 1 else f"{base}-{taken[base]}"
        if entry.shell == DEFAULT_SHELL:
            task: dict[str, Any] = {"type": "command", "command": entry.command, "shell": True}
        else:
            task = {"type": "command", "command": [entry.shell, "-c", entry.command]}
        if entry.env:
            task["env"] = entry.env
        if entry.user:
            task["run_as"] = entry.user
        job: dict[str, Any] = {"name": name, "task": task, "schedule": {"cron": entry.schedule}}
        if entry.timezone:
            job["timezone"] = entry.timezone
        out.append(job)
    return out


def slug(command: str) -> str:
    """`/usr/local/bin/backup.sh --full > /dev/null` -> `backup-sh-full`: the program's
    base name and its words, up to the first redirection, pipe or comment."""
    words = []
    for word in command.split():
        if word[0] in "<>|&;#" or word[:2] in ("2>", "1>"):
            break
        words.append(word.rsplit("/", 1)[-1] if not words else word)
    text = _SLUG.sub("-", " ".join(words).lower()).strip("-")
    return text[:NAME_LENGTH].rstrip("-") or "cron-job"
