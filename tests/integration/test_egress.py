"""The egress policy of HTTP jobs against real loopback servers: an ordinary owner's run
never reaches the worker's own network; exempt owners' runs do.

These tests set the production default back (the suite's settings open loopback).
"""

from __future__ import annotations

import socket
from base64 import b64encode

import pytest

from jobs import dispatch, owners, runner
from jobs.models import Job, RunStatus
from tests.target import Target
from tests.users import client_for, make_user

pytestmark = [pytest.mark.django_db]

LOOPBACK = (
    "egress policy: 127.0.0.1 is loopback (127.0.0.0/8), which this job's owner may not reach"
)


@pytest.fixture(autouse=True)
def production_policy(settings):
    """The default policy: nothing allowed beyond it, owners' answers asked afresh."""
    settings.SCHED = {**settings.SCHED, "EGRESS_ALLOW": [], "EGRESS_DENY": []}
    owners.forget()
    yield
    owners.forget()


@pytest.fixture
def target6(target):
    """A target on [::1], on the port of `target` (so `localhost` names both)."""
    try:
        server = Target(host="::1", port=target.port)
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    yield server
    server.close()


@pytest.fixture
def opener_user(db):
    """Holds jobs.unrestricted_egress."""
    return make_user("opener", "jobs.unrestricted_egress")


@pytest.fixture
def opener(opener_user):
    return client_for(opener_user)


def create(client, uri: str, **task) -> Job:
    body = {"task": {"method": "POST", "uri": uri, "body": {"a": 1}, **task}, "schedule": "1s"}
    response = client.post("/api/v1/jobs", body, format="json")
    assert response.status_code == 201, response.data
    return Job.objects.get(id=response.json()["id"])


def run(job: Job):
    """Plan the job's fire and execute its run in this thread; the run."""
    dispatch.plan_due_fires()
    runner.execute(str(job.runs.get().id))
    return job.runs.get()


def owned_by(job: Job, user) -> Job:
    """The job now belongs to `user`: one made while its owner could reach anything (a
    permission withdrawn since, or made before this policy), the way to run a literal
    address that creation refuses to an ordinary user."""
    Job.objects.filter(id=job.id).update(owner=user)
    return job


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "[::ffff:127.0.0.1]"],
)
def test_an_ordinary_owners_job_to_loopback_fails_and_the_target_gets_nothing(
    root, alice, broker, target, host
):
    job = owned_by(create(root, f"http://{host}:{target.port}/x"), alice)
    ran = run(job)
    assert ran.status == RunStatus.FAILED
    assert "egress policy: " in ran.error
    assert "is loopback (127.0.0.0/8), which this job's owner may not reach" in ran.error
    assert target.received == []


def test_the_error_names_the_address_and_the_rule(root, alice, broker, target):
    ran = run(owned_by(create(root, f"{target.url}/x"), alice))
    assert ran.error == f"Request to {target.url}/x failed: {LOOPBACK}"
    assert ran.result == {"elapsed_ms": ran.result["elapsed_ms"]}


def test_an_unspecified_address_reaching_this_host_is_refused(root, alice, broker, target):
    """0.0.0.0 as a destination is the host itself on Linux: the target would get it."""
    ran = run(owned_by(create(root, f"http://0.0.0.0:{target.port}/x"), alice))
    assert ran.status == RunStatus.FAILED
    assert "0.0.0.0 is unspecified (0.0.0.0/8)" in ran.error
    assert target.received == []


def test_an_ordinary_owners_job_to_ipv6_loopback_fails(root, alice, broker, target, target6):
    ran = run(owned_by(create(root, f"{target6.url}/x"), alice))
    assert ran.status == RunStatus.FAILED
    assert "egress policy: ::1 is loopback (::1/128)" in ran.error
    assert target6.received == [] and target.received == []


def test_a_name_is_checked_on_the_addresses_it_resolves_to_when_the_run_connects(
    api, broker, target, target6
):
    """`localhost` passes creation (a name: no address to check yet); when the run
    connects, libcurl resolves it to ::1 and 127.0.0.1, and each is refused before a
    socket is made. A name that resolved elsewhere at creation and to loopback later
    (DNS rebinding) meets the same check, made then."""
    ran = run(create(api, f"http://localhost:{target.port}/x"))
    assert ran.status == RunStatus.FAILED
    assert "egress policy: ::1 is loopback (::1/128)" in ran.error
    assert LOOPBACK in ran.error
    assert target.received == [] and target6.received == []


def test_only_the_allowed_address_of_a_name_is_connected_to(api, broker, target, target6, settings):
    settings.SCHED = {**settings.SCHED, "EGRESS_ALLOW": ["127.0.0.1"]}
    ran = run(create(api, f"http://localhost:{target.port}/four"))
    assert ran.status == RunStatus.SUCCEEDED
    assert [r["path"] for r in target.received] == ["/four"]
    assert target6.received == []
    settings.SCHED = {**settings.SCHED, "EGRESS_ALLOW": ["::1"]}
    ran = run(create(api, f"http://localhost:{target.port}/six"))
    assert ran.status == RunStatus.SUCCEEDED
    assert [r["path"] for r in target6.received] == ["/six"]


def test_a_superusers_job_reaches_loopback(root, broker, target, target6):
    assert run(create(root, f"{target.url}/root")).status == RunStatus.SUCCEEDED
    assert run(create(root, f"{target6.url}/root6")).status == RunStatus.SUCCEEDED
    assert [r["path"] for r in target.received + target6.received] == ["/root", "/root6"]


def test_a_job_of_an_owner_with_unrestricted_egress_reaches_loopback(opener, broker, target):
    ran = run(create(opener, f"http://127.1:{target.port}/opener"))
    assert (ran.status, ran.result["body"]) == (RunStatus.SUCCEEDED, "ok")
    assert [r["path"] for r in target.received] == ["/opener"]


def test_an_allow_entry_opens_a_loopback_port_for_ordinary_owners(api, broker, target, settings):
    settings.SCHED = {**settings.SCHED, "EGRESS_ALLOW": ["127.0.0.1/32"]}
    assert run(create(api, f"{target.url}/allowed")).status == RunStatus.SUCCEEDED
    assert [r["path"] for r in target.received] == ["/allowed"]


def test_a_deny_entry_closes_an_address_to_ordinary_owners(api, root, broker, target, settings):
    settings.SCHED = {
        **settings.SCHED,
        "EGRESS_ALLOW": ["127.0.0.0/8"],
        "EGRESS_DENY": ["127.0.0.1"],
    }
    ran = run(create(api, f"http://localhost:{target.port}/x"))  # a name: checked when run
    assert ran.status == RunStatus.FAILED
    assert "egress policy: 127.0.0.1 is in EGRESS_DENY (127.0.0.1/32)" in ran.error
    assert target.received == []
    assert run(create(root, f"{target.url}/root")).status == RunStatus.SUCCEEDED


def test_a_connection_kept_alive_for_an_exempt_owner_never_serves_an_ordinary_one(
    root, alice, broker, target
):
    """Both runs go out on this thread: the superuser's leaves a kept-alive connection to
    the target, which the ordinary owner's run must not reuse."""
    assert run(create(root, f"{target.url}/first")).status == RunStatus.SUCCEEDED
    ran = run(owned_by(create(root, f"{target.url}/second"), alice))
    assert ran.status == RunStatus.FAILED
    assert LOOPBACK in ran.error
    assert [r["path"] for r in target.received] == ["/first"]


def test_a_withdrawn_permission_holds_once_the_workers_answer_expires(
    opener_user, opener, broker, target, settings
):
    settings.SCHED = {**settings.SCHED, "EGRESS_PERMISSION_CACHE": 0.0}
    assert run(create(opener, f"{target.url}/before")).status == RunStatus.SUCCEEDED
    job = create(opener, f"{target.url}/after")
    opener_user.user_permissions.clear()
    ran = run(job)
    assert ran.status == RunStatus.FAILED and LOOPBACK in ran.error
    assert [r["path"] for r in target.received] == ["/before"]


def test_a_workers_answer_about_an_owner_is_kept_for_the_cache_time(
    opener_user, django_assert_num_queries
):
    assert owners.egress_unrestricted(opener_user.id) is True
    with django_assert_num_queries(0):
        for _ in range(100):
            assert owners.egress_unrestricted(opener_user.id) is True


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "0.0.0.0",
        "169.254.169.254",
        "[fe80::1]",
        "224.0.0.1",
    ],
)
def test_creating_a_job_to_a_denied_address_is_a_400_on_task_uri(api, root, opener, host):
    body = {"task": {"uri": f"http://{host}:8080/x"}, "schedule": "in 1h"}
    response = api.post("/api/v1/jobs", body, format="json")
    assert response.status_code == 400, response.data
    [message] = response.json()["task"]["uri"]
    assert message.startswith("Egress policy: ")
    assert "which this job's owner may not reach" in message
    for exempt in (root, opener):
        assert exempt.post("/api/v1/jobs", body, format="json").status_code == 201


def test_changing_a_jobs_uri_to_a_denied_address_is_a_400(api, broker):
    job = create(api, "http://10.1.2.3/x")  # private: allowed by default
    response = api.patch(
        f"/api/v1/jobs/{job.id}", {"task": {"uri": "http://2130706433/x"}}, format="json"
    )
    assert response.status_code == 400
    assert "loopback" in response.json()["task"]["uri"][0]


def test_a_name_or_an_allowed_address_is_accepted_at_creation(api, settings):
    for uri in ("http://localhost:8080/x", "http://10.1.2.3/x", "http://svc.internal/x"):
        assert create(api, uri).task["uri"] == uri
    settings.SCHED = {**settings.SCHED, "EGRESS_DENY_PRIVATE": True}
    response = api.post(
        "/api/v1/jobs", {"task": {"uri": "http://10.1.2.3/x"}, "schedule": "1h"}, format="json"
    )
    assert response.status_code == 400
    assert "private (EGRESS_DENY_PRIVATE)" in response.json()["task"]["uri"][0]


@pytest.fixture
def proxy_env(monkeypatch):
    """The worker's environment names a proxy (read when a new client is made)."""
    from executors import http

    def start_worker_with(**env: str) -> None:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(http, "_client", None)

    yield start_worker_with
    monkeypatch.setattr(http, "_client", None)


def test_a_proxy_the_operator_names_is_connected_to_and_rules_the_names(
    api, broker, target, proxy_env
):
    """The target plays a proxy on loopback: the worker connects to it for an ordinary
    owner's job (the operator chose it); the name it is asked for is its business."""
    proxy_env(HTTP_PROXY=target.url.replace("http://", "http://pu:pw@"), NO_PROXY="")
    ran = run(create(api, "http://jobs.example.test/hook"))
    assert ran.status == RunStatus.SUCCEEDED
    [request] = target.received
    assert request["path"] == "http://jobs.example.test/hook"
    assert request["headers"]["Proxy-Authorization"] == "Basic " + b64encode(b"pu:pw").decode()


def test_a_denied_address_is_never_sent_to_the_proxy(root, alice, broker, target, proxy_env):
    proxy_env(HTTP_PROXY=target.url, NO_PROXY="")
    ran = run(owned_by(create(root, "http://169.254.169.254/latest/meta-data/"), alice))
    assert ran.status == RunStatus.FAILED
    assert "egress policy: 169.254.169.254 is link-local (169.254.0.0/16)" in ran.error
    assert target.received == []


def test_a_request_bypassing_the_proxy_is_checked_on_its_own_connection(
    root, alice, broker, target, proxy_env
):
    proxy_env(HTTP_PROXY="http://10.255.255.1:9", NO_PROXY="localhost")
    ran = run(owned_by(create(root, f"http://localhost:{target.port}/x"), alice))
    assert ran.status == RunStatus.FAILED
    assert LOOPBACK in ran.error
    assert target.received == []


def test_nothing_listens_where_a_refused_run_would_have_connected(root, alice, broker):
    """A refusal is the policy's, not a connection error: the same error whatever listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ran = run(owned_by(create(root, f"http://127.0.0.1:{port}/x"), alice))
    assert ran.error == f"Request to http://127.0.0.1:{port}/x failed: {LOOPBACK}"


def test_when_the_allowed_address_of_a_name_fails_the_error_says_both(api, broker, settings):
    """`localhost`: ::1 refused by the policy, 127.0.0.1 allowed but nothing listens."""
    settings.SCHED = {**settings.SCHED, "EGRESS_ALLOW": ["127.0.0.1"]}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ran = run(create(api, f"http://localhost:{port}/x"))
    assert ran.status == RunStatus.FAILED
    assert f"connection error to localhost:{port}" in ran.error
    assert "egress policy: ::1 is loopback (::1/128)" in ran.error
