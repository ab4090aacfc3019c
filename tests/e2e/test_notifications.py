"""End-to-end: notifications through the real web, worker and beat.

A job's failures and recoveries reach a webhook receiver (signed, one message per
notification, each with its own Idempotency-Key) and an SMTP server; a job pauses itself
after N failed fires; a receiver that is down gets everything once it is back; a channel
answers its test; one user's hanging receiver does not hold up another user's messages.

The module runs its own stack: quick retries (NOTIFY_BACKOFF 0.5 s doubling to 2 s), a
short lease and republish delay, two delivery threads of which one owner holds at most
one, and the loopback SMTP server of `mailbox` as the email relay.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections import Counter

import pytest

from ..mailbox import Mailbox
from ..receiver import Hook, Receiver
from . import harness
from .harness import Api, parse_ts, wait_until

pytestmark = [pytest.mark.e2e]

# Seconds (the product's settings, env-driven; see schedsite/settings.py).
NOTIFY_ENV = {
    "NOTIFY_BACKOFF": "0.5",
    "NOTIFY_BACKOFF_MAX": "2",
    "NOTIFY_REPUBLISH_AFTER": "2",
    "NOTIFY_LEASE": "5",
    "NOTIFY_TIMEOUT": "3",
    "NOTIFY_THREADS": "2",
    "NOTIFY_THREADS_PER_OWNER": "1",
}
BACKOFF_MAX = float(NOTIFY_ENV["NOTIFY_BACKOFF_MAX"])
NOTIFY_TIMEOUT = float(NOTIFY_ENV["NOTIFY_TIMEOUT"])


@pytest.fixture(scope="module")
def mailbox():
    with Mailbox() as box:
        yield box


@pytest.fixture(scope="module")
def stack(tmp_path_factory, mailbox):
    env = {**NOTIFY_ENV, "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(mailbox.port)}
    workdir = tmp_path_factory.mktemp("e2e-notify")
    with harness.Stack(workdir, database_url=os.environ.get("DATABASE_URL"), env=env) as product:
        yield product


@pytest.fixture(scope="module")
def alice(stack):
    client = stack.api("alice")
    yield client
    client.close()


@pytest.fixture(scope="module")
def bob(stack):
    client = stack.api("bob")
    yield client
    client.close()


@pytest.fixture
def receiver():
    with Receiver(secret=secrets.token_hex(16)) as hooks:
        yield hooks


# ---------------------------------------------------------------- helpers


def webhook(api: Api, receiver: Receiver, name: str = "hooks") -> dict:
    body = {"name": name, "kind": "webhook", "url": receiver.url, "secret": receiver.secret}
    return api.ok(api.post("channels", body), 201)


def recurring(target, path: str, *, every: str = "1s", **extra) -> dict:
    name = f"notify-{path.rsplit('/', 1)[-1][:12]}"
    task = {"method": "POST", "uri": target.url(path), "expected_range": "200-299"}
    return {"name": name, "task": task, "schedule": {"every": every}, **extra}


def once(target, path: str, **extra) -> dict:
    return {**recurring(target, path, **extra), "schedule": "now"}


def cancel(api: Api, job_id: str) -> None:
    api.ok(api.delete(f"jobs/{job_id}"))


def deliveries(api: Api, channel_id: str) -> list[dict]:
    """Every delivery attempt on the channel, oldest first."""
    page = api.ok(api.get(f"channels/{channel_id}/deliveries", params={"limit": 100}))
    found = list(page["results"])
    while page.get("next"):
        page = api.ok(api.get(page["next"]))
        found += page["results"]
    return sorted(found, key=lambda d: (parse_ts(d["at"]), d["attempt"]))


def delivered_events(hooks: list[Hook]) -> list[str]:
    return [h.event for h in hooks if h.delivered]


def assert_well_formed(hook: Hook, job: dict) -> None:
    """Signed with the channel's secret; the body names itself, the job and its run."""
    assert hook.signature_ok, hook
    assert hook.body["id"] == hook.key, hook
    assert hook.body["event"] == hook.event, hook
    assert hook.body["job"]["id"] == job["id"], hook
    assert hook.body["job"]["link"].endswith(f"/api/v1/jobs/{job['id']}"), hook
    assert hook.body["run"]["link"].endswith(f"/api/v1/runs/{hook.body['run']['id']}"), hook


# ---------------------------------------------------------------- the tests


def test_a_failing_job_sends_one_failure_and_one_recovery(alice, target, receiver):
    channel = webhook(alice, receiver)
    path = target.path("fail/5")  # 500 to the first five fires, then 200
    job = alice.create_job(recurring(target, path, notify=[{"channel": channel["id"]}]))
    assert job["notify"][0]["on"] == ["failure", "recovery"]  # the default

    # Health while it fails: `failing`, the count of failed fires in a row rising to 5.
    seen = Counter()

    def recovered():
        state = alice.job(job["id"])
        seen[(state["health"], state["consecutive_failures"])] += 1
        return state["health"] == "ok" and state

    state = wait_until(recovered, timeout=20, interval=0.05, what="the job healthy again")
    assert state["consecutive_failures"] == 0
    assert {count for health, count in seen if health == "failing"} >= {5}, seen
    assert max(count for _, count in seen) == 5, seen

    receiver.wait(
        lambda hooks: "recovery" in delivered_events(hooks), timeout=10, what="the recovery"
    )
    cancel(alice, job["id"])
    time.sleep(1.5)  # room for a stray repeat or a second message
    hooks = receiver.received()
    assert delivered_events(hooks) == ["failure", "recovery"], hooks
    assert len(hooks) == 2, "each was delivered at its first attempt"
    failure, recovery = hooks
    for hook in hooks:
        assert_well_formed(hook, job)
    assert failure.key != recovery.key

    runs = {run["id"]: run for run in alice.runs(job["id"])}
    failed_run, recovering_run = runs[failure.body["run"]["id"]], runs[recovery.body["run"]["id"]]
    assert failed_run["status"] == "failed"
    assert recovering_run["status"] == "succeeded"
    # The failure tells of the first failed fire; the recovery of the sixth fire.
    fires = sorted(
        (r for r in runs.values() if r["status"] in ("failed", "succeeded")),
        key=lambda r: parse_ts(r["due_at"]),
    )
    assert [r["id"] for r in fires[:6]].index(failed_run["id"]) == 0
    assert [r["id"] for r in fires[:6]].index(recovering_run["id"]) == 5
    assert failure.body["run"]["error"], "a failure says what went wrong"
    assert failure.body["job"]["consecutive_failures"] == 1


def test_a_job_pauses_itself_after_n_failed_fires(alice, target, receiver):
    channel = webhook(alice, receiver)
    path = target.path("status/500")
    body = recurring(
        target,
        path,
        pause_after_failures=3,
        notify=[{"channel": channel["id"], "on": ["failure", "paused"]}],
    )
    job = alice.create_job(body)
    assert job["pause_after_failures"] == 3

    job = alice.wait_job(job["id"], "paused", timeout=15)
    paused_at = time.monotonic()
    assert "3 failed fires" in job["status_reason"], job
    assert job["health"] == "failing"
    assert job["consecutive_failures"] == 3
    assert job["next_run_at"] is None

    hooks = receiver.wait(
        lambda hooks: {"failure", "paused"} <= set(delivered_events(hooks)) and hooks,
        timeout=10,
        what="the failure and the pause",
    )
    # No fourth fire: for a few seconds (fires were every second), three requests only.
    time.sleep(max(0.0, 3.0 - (time.monotonic() - paused_at)))
    target.expect_exactly(path, 3)
    fired = [r for r in alice.runs(job["id"]) if r["status"] != "canceled"]
    assert [r["status"] for r in fired] == ["failed"] * 3, fired

    hooks = receiver.received()
    assert delivered_events(hooks) == ["failure", "paused"], hooks
    failure, paused = hooks
    for hook in hooks:
        assert_well_formed(hook, job)
    assert paused.body["job"]["status"] == "paused"
    assert paused.body["job"]["consecutive_failures"] == 3
    # The pause tells of the third failed fire.
    third = sorted(fired, key=lambda r: parse_ts(r["due_at"]))[2]
    assert paused.body["run"]["id"] == third["id"]

    # Resumed, it counts its failed fires from zero: three more, then paused again, with a
    # failure (the first of the new streak) and a pause.
    job = alice.ok(alice.post(f"jobs/{job['id']}/resume"))
    assert job["status"] == "scheduled" and job["consecutive_failures"] == 0, job
    job = alice.wait_job(job["id"], "paused", timeout=15)
    assert job["consecutive_failures"] == 3
    receiver.wait(
        lambda hooks: delivered_events(hooks).count("paused") == 2,
        timeout=10,
        what="the second pause",
    )
    time.sleep(2)
    target.expect_exactly(path, 6)
    assert delivered_events(receiver.received()) == ["failure", "paused"] * 2


def test_a_receiver_that_is_down_gets_every_message_once_back(alice, target, receiver):
    channel = webhook(alice, receiver)
    receiver.down(status=503)  # first it answers 503 ...
    path = target.path("fail/2")  # two failed fires, then a recovery
    job = alice.create_job(recurring(target, path, notify=[{"channel": channel["id"]}]))
    alice.wait_runs(
        job["id"], lambda runs: any(r["status"] == "succeeded" for r in runs), what="recovery"
    )
    cancel(alice, job["id"])
    time.sleep(4)
    receiver.down()  # ... then refuses connections
    time.sleep(5)
    tried_while_down = len(receiver.received())
    assert tried_while_down >= 4, "both were tried while it answered 503"

    receiver.up()
    back = time.time()
    hooks = receiver.wait(
        lambda hooks: {"failure", "recovery"} <= set(delivered_events(hooks)) and hooks,
        timeout=BACKOFF_MAX + 8,
        what="both messages after the receiver came back",
    )
    arrived = max(h.received_at for h in hooks if h.delivered) - back
    assert arrived < BACKOFF_MAX + 4, f"delivered {arrived:.1f}s after the receiver came back"
    time.sleep(1.5)

    hooks = receiver.received()
    by_key: dict[str, list[Hook]] = {}
    for hook in hooks:
        by_key.setdefault(hook.key, []).append(hook)
    # Two notifications; every attempt of one carries its key and the very same body.
    assert sorted(h.event for h in (group[0] for group in by_key.values())) == [
        "failure",
        "recovery",
    ]
    for key, group in by_key.items():
        assert {h.raw for h in group} == {group[0].raw}, f"{key}: the body changed"
        assert [h.delivered for h in group][-1] and sum(h.delivered for h in group) == 1, group
        for hook in group:
            assert_well_formed(hook, job)

    # The channel's deliveries: failed attempts (503, then refused), then one success each.
    attempts = deliveries(alice, channel["id"])
    for key in by_key:
        mine = [d for d in attempts if d["notification"] == key]
        assert [d["attempt"] for d in mine] == list(range(1, len(mine) + 1)), mine
        assert [d["delivered"] for d in mine] == [False] * (len(mine) - 1) + [True], mine
        assert mine[0]["status_code"] == 503 and "503" in mine[0]["error"], mine[0]
        refused = [d for d in mine if not d["delivered"] and d["status_code"] is None]
        assert refused and all(d["error"] for d in refused), mine
        assert mine[-1]["status_code"] == 200 and mine[-1]["error"] == ""
        assert all(d["job"] == job["id"] for d in mine)
        assert mine[0]["event"] == by_key[key][0].event


def test_an_email_channel_sends_the_failure_through_smtp(alice, target, mailbox):
    address = f"ops-{secrets.token_hex(4)}@example.com"
    channel = alice.ok(
        alice.post("channels", {"name": "ops mail", "kind": "email", "to": [address]}), 201
    )
    assert channel["to"] == [address]
    path = target.path("status/500")
    job = alice.create_job(once(target, path, notify=[{"channel": channel["id"]}]))

    (message,) = mailbox.wait_for(address, timeout=15)
    assert job["name"] in message["Subject"], message["Subject"]
    assert "failed" in message["Subject"]
    assert message["X-Sched-Event"] == "failure"
    text = message.get_body(("plain",)).get_content()
    assert f"/api/v1/jobs/{job['id']}" in text, text
    (run,) = alice.runs(job["id"])
    assert run["id"] in text, text
    time.sleep(1)
    assert len(mailbox.to(address)) == 1


def test_a_channel_test_reaches_the_receiver_signed(alice, receiver):
    channel = webhook(alice, receiver)
    answer = alice.ok(alice.post(f"channels/{channel['id']}/test"))
    assert answer["delivered"] is True, answer
    assert answer["status_code"] == 200
    assert not answer["error"]
    (hook,) = receiver.received()
    assert hook.signature_ok
    assert hook.event == "test"
    assert hook.key == answer["notification"]

    receiver.down()
    answer = alice.ok(alice.post(f"channels/{channel['id']}/test"))
    assert answer["delivered"] is False, answer
    assert answer["error"], answer


def test_channel_tests_to_a_hanging_receiver_do_not_hold_up_the_api(stack, bob):
    hanging = Receiver(secret="hostile-secret")
    channels = []
    for user in ("carol", "dave"):
        client = stack.api(user)
        channels.append((user, webhook(client, hanging, f"{user}-hangs")["id"]))
        client.close()

    statuses: list[int] = []

    def test_once(user: str, channel_id: str) -> None:
        client = stack.api(user)
        try:
            response = client.post(f"channels/{channel_id}/test", timeout=NOTIFY_TIMEOUT + 10)
            statuses.append(response.status_code)
        finally:
            client.close()

    # Each user's whole rate (API_THROTTLE_CHANNEL_TEST, 10/min) at once: more than the web
    # processes' 2 x 4 threads, however the connections are shared between them.
    testers = [
        threading.Thread(target=test_once, args=channel) for channel in channels for _ in range(10)
    ]
    try:
        hanging.stall(600)
        for thread in testers:
            thread.start()
        hanging.wait(lambda hooks: len(hooks) >= 1, timeout=NOTIFY_TIMEOUT, what="a test hanging")
        time.sleep(1)  # the other tests come in meanwhile, and are refused
        started = time.monotonic()
        bob.ok(bob.get("jobs"))
        took = time.monotonic() - started
        assert took < 1.0, f"bob's job list took {took:.1f}s while the tests hung"
        # CHANNEL_TESTS_AT_ONCE (1) per web process: at most one hanging test each.
        assert len(hanging.received()) <= 2, f"{len(hanging.received())} tests hung at once"
    finally:
        hanging.up()
        for thread in testers:
            thread.join()
        hanging.stop()
    assert statuses.count(429) >= 10, statuses
    assert set(statuses) <= {200, 429}, statuses


def test_a_hanging_receiver_does_not_hold_up_another_users_messages(alice, bob, target, receiver):
    hanging = Receiver(secret="bob-secret")
    try:
        hanging.stall(600)  # never answers: each attempt lasts until NOTIFY_TIMEOUT
        bobs = webhook(bob, hanging, "bob-hangs")
        bob_jobs = [
            bob.create_job(
                once(target, target.path("status/500"), notify=[{"channel": bobs["id"]}])
            )
            for _ in range(6)
        ]
        hanging.wait(lambda hooks: len(hooks) >= 1, timeout=15, what="bob's first attempt")

        alices = webhook(alice, receiver)
        path = target.path("status/500")
        job = alice.create_job(once(target, path, notify=[{"channel": alices["id"]}]))
        (hook,) = receiver.wait(
            lambda hooks: [h for h in hooks if h.delivered], timeout=15, what="alice's failure"
        )
        (run,) = alice.runs(job["id"])
        late = hook.received_at - parse_ts(run["finished_at"])
        print(f"[e2e] alice's failure delivered {late:.2f}s after her run ended")
        assert late < 1.5, f"alice's message came {late:.1f}s after her run's end"
        # Bob's receiver was hanging all along: his six messages were still being tried.
        assert not any(h.delivered for h in hanging.received())
        assert len({h.key for h in hanging.received()}) < len(bob_jobs)
    finally:
        hanging.up()  # bob's messages go through, and stop taking a delivery thread
        try:
            hanging.wait(
                lambda hooks: len({h.key for h in hooks if h.delivered}) >= 6,
                timeout=BACKOFF_MAX + 6 * NOTIFY_TIMEOUT + 10,
                what="bob's messages once his receiver answers",
            )
        finally:
            hanging.stop()
