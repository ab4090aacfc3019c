"""/dashboard/: a session's pages over the jobs the user sees, their charts' numbers, the
failing jobs first, and the run-now, pause and resume buttons."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboard import charts
from dashboard.rollup import floor_to, rollup
from jobs.models import Health, Job, JobStatus, Run, RunStatus, Trigger, WorkerProcess
from tests.users import make_user

from .helpers import http_job

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


class Marks(HTMLParser):
    """Every start tag of a page with its attributes, in order."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def having(self, tag: str, cls: str | None = None, **attrs) -> list[dict]:
        return [
            a
            for t, a in self.tags
            if t == tag
            and (cls is None or cls in (a.get("class") or "").split())
            and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]


def page(client, url: str = "/dashboard/") -> tuple[str, Marks]:
    response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    html = response.content.decode()
    return html, Marks(html)


def create(api, name: str, schedule="in 1h", **extra) -> Job:
    response = api.post("/api/v1/jobs", http_job(schedule, name=name, **extra), format="json")
    assert response.status_code == 201, response.data
    return Job.objects.get(pk=response.json()["id"])


def add_run(job, due_at, status=RunStatus.SUCCEEDED, *, lag_ms=5.0, seconds=0.5, **extra):
    started = due_at + timedelta(milliseconds=lag_ms) if status != RunStatus.PENDING else None
    finished = started + timedelta(seconds=seconds) if started and status != "running" else None
    return Run.objects.create(
        job=job,
        job_revision=job.revision,
        due_at=due_at,
        trigger=Trigger.SCHEDULE,
        idempotency_key=uuid.uuid4(),
        status=status,
        started_at=started,
        finished_at=finished,
        **extra,
    )


def catch_up() -> None:
    for _ in range(5):
        if rollup() <= 3:
            return


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice(django_user_model):
    return make_user("alice")


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_superuser("root-user", "r@x.org", "pw")


@pytest.fixture
def minute():
    """The start of the minute before this one: its runs are all in the past."""
    return floor_to(timezone.now(), 60) - timedelta(minutes=1)


def test_anonymous_visitors_are_sent_to_the_login_page(alice, api):
    job = create(api, "backup")
    client = Client()
    for url in ("/dashboard/", f"/dashboard/jobs/{job.pk}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"/dashboard/login/?next={url}"
    response = client.post(f"/dashboard/jobs/{job.pk}/run")
    assert response.status_code == 302
    assert response["Location"].startswith("/dashboard/login/")
    assert not job.runs.exists()


def test_an_ordinary_user_logs_in_on_the_dashboards_own_page(alice):
    client = Client(enforce_csrf_checks=True)
    login = client.get("/dashboard/login/?next=/dashboard/")
    assert login.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.content.decode())[1]
    response = client.post(
        "/dashboard/login/",
        {
            "username": "alice",
            "password": "pw",
            "next": "/dashboard/",
            "csrfmiddlewaretoken": token,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    html, _ = page(client)
    assert "Your jobs" in html
    overview = client.get("/dashboard/")
    assert "script-src" not in overview["Content-Security-Policy"]
    assert "default-src 'none'" in overview["Content-Security-Policy"]


def test_the_runs_chart_counts_a_minutes_runs_by_outcome(alice, api, minute):
    job = create(api, "backup")
    for i, lag in enumerate((10, 12, 14)):
        add_run(job, minute + timedelta(seconds=i), lag_ms=lag)
    for i, lag in enumerate((16, 900)):
        add_run(job, minute + timedelta(seconds=20 + i), RunStatus.FAILED, lag_ms=lag)
    catch_up()

    _, marks = page(browser(alice), "/dashboard/?span=hour")

    (bar,) = marks.having("g", "bar", data_bucket=minute.isoformat())
    assert bar["data-total"] == "5"
    segments = {
        a["data-status"]: int(a["data-count"])
        for t, a in marks.tags[marks.tags.index(("g", bar)) :][:12]
        if t == "rect" and "data-status" in a
    }
    assert segments == {"succeeded": 3, "failed": 2}
    assert len(marks.having("g", "bar")) == 60
    (point,) = marks.having("g", "lag-point", data_bucket=minute.isoformat())
    assert float(point["data-p50-ms"]) == pytest.approx(14, rel=0.1)
    assert float(point["data-p99-ms"]) == pytest.approx(900, rel=0.1)
    # The day's chart (quarter hours) and the week's (hours) count the same runs.
    for span, seconds, bars in (("day", 900, 96), ("week", 3600, 168)):
        _, marks = page(browser(alice), f"/dashboard/?span={span}")
        assert len(marks.having("g", "bar")) == bars
        (bar,) = marks.having("g", "bar", data_bucket=floor_to(minute, seconds).isoformat())
        assert bar["data-total"] == "5"


def test_an_ordinary_user_sees_only_their_own_jobs_and_runs(alice, api, bob_api, operator, minute):
    mine = create(api, "alices-backup")
    theirs = create(bob_api, "bobs-secret-report")
    Job.objects.filter(pk=theirs.pk).update(health=Health.FAILING, consecutive_failures=3)
    add_run(mine, minute, RunStatus.SUCCEEDED)
    for i in range(4):
        add_run(theirs, minute + timedelta(seconds=i), RunStatus.FAILED, error="bob's error")
    catch_up()

    html, marks = page(browser(alice))
    assert "bobs-secret-report" not in html
    assert str(theirs.pk) not in html
    assert "bob&#x27;s error" not in html
    (bar,) = marks.having("g", "bar", data_bucket=minute.isoformat())
    assert bar["data-total"] == "1"
    assert 'id="workers"' not in html  # workers are the operators' view
    assert browser(alice).get(f"/dashboard/jobs/{theirs.pk}/").status_code == 404
    response = browser(alice).post(f"/dashboard/jobs/{theirs.pk}/run")
    assert response.status_code == 404
    assert theirs.runs.count() == 4

    html, marks = page(browser(operator))
    assert "All jobs" in html
    assert "bobs-secret-report" in html and "alices-backup" in html
    (bar,) = marks.having("g", "bar", data_bucket=minute.isoformat())
    assert bar["data-total"] == "5"
    assert page(browser(operator), f"/dashboard/jobs/{theirs.pk}/")[0].count("bobs-secret-report")


def test_failing_jobs_come_first_most_failures_in_a_row_first(alice, api, minute):
    healthy = create(api, "healthy")
    some = create(api, "failing-twice")
    many = create(api, "failing-five-times")
    for job, failures in ((some, 2), (many, 5)):
        run = add_run(job, minute, RunStatus.FAILED, error=f"HTTP 503 from {job.name}")
        Job.objects.filter(pk=job.pk).update(
            health=Health.FAILING, consecutive_failures=failures, last_run=run
        )
    add_run(healthy, minute, RunStatus.SUCCEEDED)

    html, marks = page(browser(alice))

    rows = marks.having("tr", "failing-job")
    assert [r["data-job"] for r in rows] == [str(many.pk), str(some.pk)]
    assert "HTTP 503 from failing-five-times" in html
    # The failing section is the page's first list, before the charts and the other lists.
    assert html.index('id="failing"') < html.index("runs-chart") < html.index('id="upcoming"')
    assert html.index('id="upcoming"') < html.index('id="recent"')
    assert html.index('id="failing"') < html.index(str(healthy.pk))


def csrf_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def post_button(client, job, action: str, on: str = "/dashboard/"):
    """Press the button `action` of `job` on the page `on`, as a browser would (its form,
    its CSRF token)."""
    html = client.get(on).content.decode()
    form = re.search(
        rf'<form method="post" action="(/dashboard/jobs/{job.pk}/{action})">'
        r'<input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)">'
        r'<input type="hidden" name="next" value="([^"]*)">',
        html,
    )
    assert form, f"no {action} button for {job.name} on {on}"
    url, token, back = form.groups()
    return client.post(url, {"csrfmiddlewaretoken": token, "next": back})


def test_the_run_now_button_creates_a_manual_run(alice, api, minute):
    job = create(api, "flaky")
    run = add_run(job, minute, RunStatus.FAILED, error="boom")
    Job.objects.filter(pk=job.pk).update(
        health=Health.FAILING, consecutive_failures=1, last_run=run
    )
    client = csrf_client(alice)

    response = post_button(client, job, "run")

    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    manual = job.runs.get(trigger=Trigger.MANUAL)
    assert manual.status == RunStatus.PENDING
    assert "A run of flaky starts now." in client.get("/dashboard/").content.decode()


def test_pause_and_resume_buttons_pause_and_resume_the_job(alice, api):
    job = create(api, "every-minute", schedule={"every": "1m"})
    client = csrf_client(alice)
    job_page = f"/dashboard/jobs/{job.pk}/"

    assert post_button(client, job, "pause", on=job_page)["Location"] == job_page
    job.refresh_from_db()
    assert job.status == JobStatus.PAUSED and job.next_run_at is None

    assert post_button(client, job, "resume", on=job_page).status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.SCHEDULED and job.next_run_at is not None


def test_a_button_without_the_csrf_token_changes_nothing(alice, api):
    job = create(api, "backup")
    response = csrf_client(alice).post(f"/dashboard/jobs/{job.pk}/run")
    assert response.status_code == 403
    assert not job.runs.exists()


def test_an_action_jobs_access_refuses_is_a_403(django_user_model, bob_api):
    """A viewer of every job (jobs.view_all_jobs) may not run another user's job."""
    viewer = make_user("viewer", "jobs.view_all_jobs")
    job = create(bob_api, "bobs")
    response = browser(viewer).post(f"/dashboard/jobs/{job.pk}/run")
    assert response.status_code == 403
    assert b"jobs.change_job" in response.content
    assert not job.runs.exists()


def test_a_redirect_after_an_action_stays_on_this_site(alice, api):
    job = create(api, "backup")
    response = browser(alice).post(
        f"/dashboard/jobs/{job.pk}/pause", {"next": "https://evil.example/"}
    )
    assert response["Location"] == f"/dashboard/jobs/{job.pk}/"


def test_a_bad_span_is_a_400_naming_the_field(alice):
    response = browser(alice).get("/dashboard/?span=year")
    assert response.status_code == 400
    assert b'data-field="span"' in response.content
    assert b"span: must be one of hour, day, week" in response.content


def test_the_job_page_shows_runs_as_dots_durations_next_fires_and_the_schedule(alice, api, minute):
    job = create(api, "five-minutely", schedule={"cron": "*/5 * * * *"})
    statuses = [RunStatus.SUCCEEDED] * 6 + [RunStatus.FAILED, RunStatus.TIMED_OUT]
    for i, status in enumerate(statuses):
        add_run(job, minute - timedelta(minutes=5 * (8 - i)), status, seconds=1 + i)
    add_run(job, minute + timedelta(seconds=30), RunStatus.RUNNING)

    html, marks = page(browser(alice), f"/dashboard/jobs/{job.pk}/")

    dots = marks.having("a", "dot")
    assert [d["data-status"] for d in dots] == [*statuses, "running"]
    assert [float(d["data-duration-s"]) for d in dots[:8]] == pytest.approx(
        [1 + i for i in range(8)]
    )
    assert "data-duration-s" not in dots[-1]
    assert len(marks.having("circle", data_run=str(dots[0]["data-run"]))) == 1  # the trend
    assert "every 5 minutes" in html.lower()
    fires = re.findall(r'<li><span class="mono">[\d-]+ \d\d:(\d\d):(\d\d)</span>', html)
    assert len(fires) == 10
    assert all(int(minutes) % 5 == 0 and seconds == "00" for minutes, seconds in fires)
    assert 'data-action="pause"' in html and 'data-action="run"' in html
    # p50 and p95 of the 8 finished runs' durations (1-8 s): 4.5 s and 7.65 s.
    assert "4.50 s / 7.65 s" in html


def test_workers_and_queues_show_what_runs_and_what_waits(alice, api, operator, minute, broker):
    job = create(api, "backup")
    now = timezone.now()
    for host, seen in (("host-a", now), ("host-gone", now - timedelta(minutes=5))):
        WorkerProcess.objects.create(
            host=host,
            pid=4242,
            queues=["http", "housekeeping"],
            concurrency=16,
            started_at=now - timedelta(hours=1),
            last_seen=seen,
        )
    add_run(job, minute, RunStatus.RUNNING, worker="host-a:4242:run-1", heartbeat_at=now)
    add_run(job, minute + timedelta(seconds=1), RunStatus.RUNNING, worker="host-a:4242:run-2")
    add_run(job, minute + timedelta(seconds=2), RunStatus.PENDING)
    add_run(job, now + timedelta(minutes=5), RunStatus.PENDING)

    html, marks = page(browser(operator))
    (worker,) = marks.having("tr", "worker")  # host-gone was last seen 5 minutes ago
    assert (worker["data-host"], worker["data-pid"], worker["data-running"]) == (
        "host-a",
        "4242",
        "2",
    )
    assert '<td>http, housekeeping</td><td class="num">16</td>' in html
    (http,) = marks.having("tr", "queue", data_queue="http")
    assert http["data-due"] == "1"
    # The broker's list of a queue (kombu's Redis transport), as operators see it.
    broker.rpush("http", "a message", "another")
    html, marks = page(browser(operator))
    assert re.search(r'data-queue="http" data-due="1">.*?<td class="num">2</td></tr>', html)

    html, marks = page(browser(alice))
    assert 'id="workers"' not in html
    assert marks.having("tr", "queue", data_queue="http")[0]["data-due"] == "1"


def test_each_page_is_a_fixed_number_of_queries(alice, api, operator, minute):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite reads each job's durations with a query of its own (10 at most)")

    def queries(user, url) -> int:
        client = browser(user)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    first = create(api, "first")
    add_run(first, minute, RunStatus.FAILED)
    catch_up()
    few = {u: queries(u, "/dashboard/") for u in (alice, operator)}
    job_few = queries(alice, f"/dashboard/jobs/{first.pk}/")

    for i in range(12):
        job = create(api, f"job-{i}", schedule={"every": f"{i + 1}m"})
        Job.objects.filter(pk=job.pk).update(health=Health.FAILING, consecutive_failures=i)
        for k in range(5):
            add_run(job, minute + timedelta(seconds=k), RunStatus.FAILED, error="x")
        add_run(first, minute - timedelta(minutes=i + 1), RunStatus.SUCCEEDED)
    catch_up()

    assert {u: queries(u, "/dashboard/") for u in (alice, operator)} == few
    assert queries(alice, f"/dashboard/jobs/{first.pk}/") == job_few
    assert max(few.values()) <= 12


def test_the_badges_and_the_charts_paint_each_status_alike():
    css = (Path(charts.__file__).parent / "static/dashboard/dashboard.css").read_text()
    for status, colour in charts.STATUS_COLOURS.items():
        assert re.search(rf"\.st-{status} \{{ background: {colour};", css), status


def test_the_pages_load_nothing_from_elsewhere(alice, api, minute):
    job = create(api, "backup")
    add_run(job, minute)
    catch_up()
    for url in ("/dashboard/", f"/dashboard/jobs/{job.pk}/", "/dashboard/login/"):
        client = browser(alice) if "login" not in url else Client()
        _, marks = page(client, url)
        assert not [a for t, a in marks.tags if t in ("script", "iframe", "img")]
        links = [a["href"] for t, a in marks.tags if t in ("a", "link") and "href" in a]
        assert links and all(href.startswith(("/", "?")) for href in links), links
        sheets = {a["href"] for t, a in marks.tags if t == "link"}
        assert sheets == {"/static/dashboard/dashboard.css"}
    served = Client().get("/static/dashboard/dashboard.css")  # here, by WhiteNoise
    assert served.status_code == 200
    served.close()  # last: closing it ends the request, and Django's database connection
