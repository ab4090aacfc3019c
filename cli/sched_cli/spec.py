"""Job files: YAML documents of jobs keyed by name within a product and group.

    product: vps4
    group: backups
    jobs:
      - name: nightly-backup
        task: {type: http, method: POST, uri: "https://backup.internal/run"}
        schedule: {cron: "0 3 * * *"}
        timezone: Europe/Paris

A file may hold several documents (`---`), a directory every *.yaml and *.yml file in
it. Documents of one namespace are merged; a name given twice in one namespace is an
error. A script task may name its file (`content_file`, relative to the YAML file)
instead of giving its base64 `content`.
"""

from __future__ import annotations

import base64
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import yaml

from . import yamlio
from .normal import MANAGED

DOCUMENT_KEYS = ("product", "group", "jobs")
JOB_KEYS = ("product", "group", *MANAGED)


class SpecError(click.ClickException):
    """A job file that cannot be applied; every problem, each with where it is."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class Namespace:
    """The jobs a set of files wants in one product and group, by name."""

    product: str
    group: str
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    where: dict[str, str] = field(default_factory=dict)  # name -> "file: jobs[3]"

    @property
    def key(self) -> tuple[str, str]:
        return self.product, self.group

    def __str__(self) -> str:
        return f"{self.product}/{self.group}"


def files_of(paths: list[str]) -> list[Path | None]:
    """Each path, a directory's *.yaml and *.yml files (sorted); None stands for stdin."""
    found: list[Path | None] = []
    for name in paths:
        if name == "-":
            found.append(None)
            continue
        path = Path(name)
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml")))
        elif path.exists():
            found.append(path)
        else:
            raise SpecError([f"{name}: no such file or directory"])
    return found


def load(paths: list[str]) -> list[Namespace]:
    """The namespaces the files at `paths` describe; SpecError naming every problem."""
    namespaces: dict[tuple[str, str], Namespace] = {}
    problems: list[str] = []
    for path in files_of(paths):
        shown = "<stdin>" if path is None else str(path)
        text = sys.stdin.read() if path is None else path.read_text(encoding="utf-8")
        try:
            documents = yamlio.load_all(text)
        except yaml.YAMLError as exc:
            problems.append(f"{shown}: not valid YAML: {exc}")
            continue
        base = Path.cwd() if path is None else path.parent
        for index, document in enumerate(documents, 1):
            if document is None:
                continue
            where = shown if len(documents) == 1 else f"{shown} (document {index})"
            _read_document(document, where, base, namespaces, problems)
    if problems:
        raise SpecError(problems)
    return list(namespaces.values())


def _read_document(document, where, base, namespaces, problems) -> None:
    if not isinstance(document, dict):
        problems.append(f"{where}: expected a mapping with product, group and jobs")
        return
    unknown = sorted(set(document) - set(DOCUMENT_KEYS))
    if unknown:
        problems.append(
            f"{where}: unknown keys {', '.join(unknown)} (use {', '.join(DOCUMENT_KEYS)})"
        )
    product, group = document.get("product"), document.get("group")
    for key, value in (("product", product), ("group", group)):
        if not isinstance(value, str) or not value or "/" in value:
            problems.append(
                f"{where}: {key}: give a name without '/' "
                "(jobs are kept by name within a product and group)"
            )
    jobs = document.get("jobs", [])
    if not isinstance(jobs, list):
        problems.append(f"{where}: jobs: expected a list of jobs")
        return
    if problems:
        return
    namespace = namespaces.setdefault((product, group), Namespace(product, group))
    for index, job in enumerate(jobs):
        _read_job(job, f"{where}: jobs[{index}]", base, namespace, problems)


def _read_job(job, where, base, namespace: Namespace, problems) -> None:
    if not isinstance(job, dict):
        problems.append(f"{where}: expected a mapping with the job's fields")
        return
    name = job.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{where}: name: every job needs a name (apply finds jobs by name)")
        return
    where = f"{where} ({name})"
    unknown = sorted(set(job) - set(JOB_KEYS))
    if unknown:
        problems.append(
            f"{where}: unknown fields {', '.join(unknown)}; a job has {', '.join(JOB_KEYS)}"
        )
    for key in ("product", "group"):
        if key in job and job[key] != getattr(namespace, key):
            problems.append(
                f"{where}: {key}: {job[key]!r} is not the document's {getattr(namespace, key)!r}"
            )
    if "task" not in job or "schedule" not in job:
        problems.append(f"{where}: a job needs a task and a schedule")
    if name in namespace.jobs:
        problems.append(
            f"{where}: a second job named {name!r} in {namespace} "
            f"(the first is at {namespace.where[name]})"
        )
        return
    spec = {key: value for key, value in job.items() if key not in ("product", "group")}
    task = spec.get("task")
    if isinstance(task, dict) and "content_file" in task:
        spec["task"] = _with_content(task, base, where, problems)
    namespace.jobs[name] = spec
    namespace.where[name] = where


def _with_content(task: dict, base: Path, where: str, problems: list[str]) -> dict:
    """A script task whose `content_file` is read and sent as base64 `content`."""
    path = base / str(task["content_file"])
    rest = {key: value for key, value in task.items() if key != "content_file"}
    if "content" in task:
        problems.append(f"{where}: task: give content or content_file, not both")
        return rest
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(f"{where}: task.content_file: cannot read {path}: {exc.strerror}")
        return rest
    return {**rest, "content": base64.b64encode(data).decode("ascii")}
