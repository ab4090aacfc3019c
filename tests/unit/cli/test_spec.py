"""Job files: their shape, where each problem is, script files, directories."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from sched_cli.spec import SpecError, load

JOB = "task: {uri: 'https://a.example/'}\n    schedule: {every: 10m}"


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_file_gives_namespaces_of_jobs_by_name(tmp_path):
    path = write(
        tmp_path / "jobs.yaml",
        f"product: vps4\ngroup: dns\njobs:\n  - name: a\n    {JOB}\n"
        f"---\nproduct: vps4\ngroup: mail\njobs: []\n",
    )
    dns, mail = load([path])
    assert (dns.key, list(dns.jobs)) == (("vps4", "dns"), ["a"])
    assert dns.jobs["a"] == {
        "name": "a",
        "task": {"uri": "https://a.example/"},
        "schedule": {"every": "10m"},
    }
    assert (mail.key, mail.jobs) == (("vps4", "mail"), {})  # an empty namespace: prune all


def test_on_is_a_string_key_as_in_yaml_1_2(tmp_path):
    path = write(
        tmp_path / "jobs.yaml",
        f"product: p\ngroup: g\njobs:\n  - name: a\n    {JOB}\n"
        "    notify: [{channel: x, on: [failure]}]\n    start_at: 2030-01-01T00:00:00Z\n",
    )
    (ns,) = load([path])
    assert ns.jobs["a"]["notify"] == [{"channel": "x", "on": ["failure"]}]
    assert ns.jobs["a"]["start_at"] == "2030-01-01T00:00:00Z"  # a string, not a datetime


def test_every_problem_is_named_with_its_place(tmp_path):
    path = write(
        tmp_path / "bad.yaml",
        "product: p\ngroup: g\njobs:\n"
        f"  - name: a\n    {JOB}\n    schedual: x\n"
        "  - task: {uri: x}\n"
        f"  - name: a\n    {JOB}\n"
        f"  - name: b\n    group: other\n    {JOB}\n",
    )
    with pytest.raises(SpecError) as caught:
        load([path])
    problems = caught.value.problems
    assert problems[0].startswith(f"{path}: jobs[0] (a): unknown fields schedual")
    assert (
        problems[1] == f"{path}: jobs[1]: name: every job needs a name (apply finds jobs by name)"
    )
    assert problems[2].startswith(f"{path}: jobs[2] (a): a second job named 'a' in p/g")
    assert problems[3] == f"{path}: jobs[3] (b): group: 'other' is not the document's 'g'"


def test_a_document_needs_a_product_and_a_group(tmp_path):
    path = write(tmp_path / "bad.yaml", "product: p\njobs: []\n")
    with pytest.raises(SpecError, match="group: give a name"):
        load([path])


def test_a_script_file_is_read_relative_to_the_yaml_file(tmp_path):
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "hi.sh").write_bytes(b"#!/bin/sh\necho hi\n")
    path = write(
        tmp_path / "jobs.yaml",
        "product: p\ngroup: g\njobs:\n  - name: s\n"
        "    task: {type: script, content_file: scripts/hi.sh}\n    schedule: {every: 1h}\n",
    )
    (ns,) = load([path])
    task = ns.jobs["s"]["task"]
    assert base64.b64decode(task["content"]) == b"#!/bin/sh\necho hi\n"
    assert "content_file" not in task


def test_a_directory_gives_its_yaml_files_and_merges_a_namespace(tmp_path):
    write(tmp_path / "a.yaml", f"product: p\ngroup: g\njobs:\n  - name: a\n    {JOB}\n")
    write(tmp_path / "b.yml", f"product: p\ngroup: g\njobs:\n  - name: b\n    {JOB}\n")
    write(tmp_path / "notes.txt", "not a job file")
    (ns,) = load([str(tmp_path)])
    assert list(ns.jobs) == ["a", "b"]


def test_a_missing_path_and_bad_yaml_are_named(tmp_path):
    with pytest.raises(SpecError, match="no such file or directory"):
        load([str(tmp_path / "nope.yaml")])
    path = write(tmp_path / "broken.yaml", "product: [\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load([path])


def test_libyamls_reader_and_the_pure_one_read_alike():
    import yaml

    from sched_cli import yamlio

    text = (
        "a: on\nb: 2030-01-01T00:00:00Z\nc: 1:30\nd: yes\ne: true\nf: 0x1f\ng: 010\n"
        "h: ~\ni: 1.5e3\nj: [off, No, 'x']\nk: !!str 12\n---\n- 1\n"
    )
    expected = [
        {
            "a": "on",
            "b": "2030-01-01T00:00:00Z",
            "c": "1:30",
            "d": "yes",
            "e": True,
            "f": 31,
            "g": 10,
            "h": None,
            "i": 1500.0,
            "j": ["off", "No", "x"],
            "k": "12",
        },
        [1],
    ]
    assert yamlio.load_all(text) == expected
    assert list(yaml.load_all(text, Loader=yamlio._PureLoader)) == expected
