"""Plans: create what is missing, PATCH what differs, leave equal jobs, prune the rest."""

from __future__ import annotations

from sched_cli.plan import CANCEL, CREATE, UNCHANGED, UPDATE, diff_lines, make_plan
from sched_cli.spec import Namespace

TASK = {
    "type": "http",
    "uri": "https://a.example/",
    "method": "GET",
    "headers": {},
    "body": None,
    "expected_range": "200-299",
}
RETRY = {
    "max_attempts": 1,
    "backoff": "exponential",
    "delay": "10s",
    "max_delay": "10m",
    "jitter": 0.1,
}


def server_job(name: str, **fields) -> dict:
    """A job as the API answers it, with every default."""
    job = {
        "id": f"id-{name}",
        "name": name,
        "product": "vps4",
        "group": "dns",
        "task": TASK,
        "payload": {},
        "schedule": {"kind": "interval", "every": "10m"},
        "timezone": "UTC",
        "start_at": None,
        "end_at": None,
        "max_runs": None,
        "timeout": None,
        "retry": RETRY,
        "concurrency": "allow",
        "misfire_grace": None,
        "pause_after_failures": None,
        "notify": [],
    }
    return {**job, **fields}


def namespace(**jobs) -> Namespace:
    specs = {name: {"name": name, **spec} for name, spec in jobs.items()}
    return Namespace("vps4", "dns", specs)


def kinds(plan) -> dict[str, str]:
    return {action.name: action.kind for action in plan.actions}


BASE = {"task": {"uri": "https://a.example/"}, "schedule": {"every": "10m"}}


def test_it_creates_the_missing_changes_the_different_and_leaves_the_equal():
    wanted = namespace(same=BASE, new=BASE, other={**BASE, "timeout": "1m"})
    plan = make_plan([wanted], {("vps4", "dns"): [server_job("same"), server_job("other")]})
    assert kinds(plan) == {"same": UNCHANGED, "new": CREATE, "other": UPDATE}
    (update,) = plan.of(UPDATE)
    assert update.body == {"timeout": "1m"}  # only what differs, as the file writes it
    assert update.job_id == "id-other"
    (create,) = plan.of(CREATE)
    assert create.body == {"name": "new", **BASE}


def test_a_field_the_file_dropped_is_patched_back_to_its_default():
    current = server_job("a", timeout="5m", retry={**RETRY, "max_attempts": 3}, max_runs=4)
    plan = make_plan([namespace(a=BASE)], {("vps4", "dns"): [current]})
    (update,) = plan.of(UPDATE)
    assert update.body == {"max_runs": None, "timeout": None, "retry": None}


def test_prune_cancels_the_jobs_the_files_no_longer_name_and_only_with_prune():
    current = [server_job("kept"), server_job("gone"), server_job("")]
    wanted = namespace(kept=BASE)
    assert make_plan([wanted], {("vps4", "dns"): current}).writes() == []
    plan = make_plan([wanted], {("vps4", "dns"): current}, prune=True)
    assert sorted(action.job_id for action in plan.of(CANCEL)) == ["id-", "id-gone"]


def test_two_server_jobs_of_one_name_are_a_problem_not_a_guess():
    current = [server_job("twin", id="one"), server_job("twin", id="two")]
    plan = make_plan([namespace(twin=BASE)], {("vps4", "dns"): current})
    assert plan.actions == []
    assert "2 jobs have this name (one, two)" in plan.problems[0]


def test_a_script_known_by_its_digest_only_cannot_be_written():
    task = {"type": "script", "sha256": "ab" * 32, "size": 10}
    plan = make_plan([namespace(s={**BASE, "task": task})], {})
    assert plan.actions == []
    assert "give content_file" in plan.problems[0]


def test_a_script_with_content_is_sent_without_the_digest():
    task = {"type": "script", "sha256": "ab" * 32, "size": 10, "content": "IyEvYmluL3NoCg=="}
    plan = make_plan([namespace(s={**BASE, "task": task})], {})
    assert plan.of(CREATE)[0].body["task"] == {"type": "script", "content": "IyEvYmluL3NoCg=="}


def test_catalog_payload_defaults_count_as_given():
    task = {"type": "catalog", "name": "sched.echo"}
    current = server_job("echo", task=task, payload={"message": ""})
    wanted = namespace(echo={**BASE, "task": task})
    defaults = {"sched.echo": {"message": ""}}
    plan = make_plan([wanted], {("vps4", "dns"): [current]}, payload_defaults=defaults)
    assert kinds(plan) == {"echo": UNCHANGED}
    assert kinds(make_plan([wanted], {("vps4", "dns"): [current]})) == {"echo": UPDATE}


def test_the_diff_names_each_changed_field_with_its_values():
    current = server_job("a", retry={**RETRY, "max_attempts": 3})
    wanted = namespace(a={**BASE, "schedule": {"cron": "0 4 * * *"}, "retry": {"max_attempts": 5}})
    plan = make_plan([wanted], {("vps4", "dns"): [current]}, prune=True)
    assert diff_lines(plan, verbose=True) == [
        "~ vps4/dns/a",
        '    schedule: {"every": "10m"} -> {"cron": "0 4 * * *"}',
        "    retry.max_attempts: 3 -> 5",
    ]
