"""The dashboard in a real browser (headless Chromium through Selenium) at 1,400 x 900, on the
running web, worker and beat after real jobs ran, one of them failing: the chart counts the
runs the API lists, the failing job comes first, and its run-now button makes a run.

Screenshots go to docs/screenshots/ when SCHED_SCREENSHOTS=1. Where Chromium, its driver or
Selenium is missing or cannot start, the test is skipped, saying why.
"""

from __future__ import annotations

import base64
import os
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from .browser import SCREENSHOTS, WIDTH, start_browser
from .harness import Api, wait_until

pytestmark = pytest.mark.e2e

PASSWORD = "e2e-password"
SCREENSHOT_AFTER = 150  # seconds of runs before the screenshots (SCHED_SCREENSHOTS=1 only)


@pytest.fixture(scope="module")
def erin(e2e_stack) -> Api:
    """A user of her own, so that the charts count only this module's runs."""
    key = (
        e2e_stack.shell(
            "from django.contrib.auth import get_user_model\n"
            "from rest_framework.authtoken.models import Token\n"
            "user = get_user_model().objects.create_user("
            f"'erin', 'erin@example.com', '{PASSWORD}')\n"
            "print(Token.objects.create(user=user).key)\n",
            log="erin",
        )
        .strip()
        .splitlines()[-1]
    )
    client = Api(e2e_stack.base_url, key)
    yield client
    client.close()


@pytest.fixture(scope="module")
def jobs(erin, target) -> dict[str, dict]:
    """Erin's jobs after they ran a few times: one succeeds every 2 s, one fails every 3 s,
    one takes 0.3 s every 4 s; two wait for later. The recurring ones are then paused and
    their runs are over, so the numbers stand still. By name."""
    bodies = {
        "billing-sync": ({"every": "2s"}, "ok"),
        "invoice-webhook": ({"every": "3s"}, "status/503"),
        "report-mailer": ({"every": "4s"}, "slow/0.3"),
        "nightly-backup": ({"cron": "0 3 * * *"}, "ok"),
        "weekly-cleanup": ("in 1h", "ok"),
    }
    made = {}
    for name, (schedule, kind) in bodies.items():
        task = {"method": "POST", "uri": target.url(target.path(kind))}
        made[name] = erin.create_job({"name": name, "task": task, "schedule": schedule})
    erin.wait_runs(
        made["billing-sync"]["id"],
        lambda runs: sum(r["status"] == "succeeded" for r in runs) >= 5,
        timeout=30,
        what="five successes",
    )
    wait_until(
        lambda: erin.job(made["invoice-webhook"]["id"])["consecutive_failures"] >= 2,
        timeout=30,
        interval=0.2,
        what="two failed fires in a row",
    )
    for name in ("billing-sync", "invoice-webhook", "report-mailer"):
        erin.ok(erin.post(f"jobs/{made[name]['id']}/pause"))
    wait_until(lambda: not open_runs(erin), timeout=30, interval=0.2, what="runs to end")
    return {name: erin.job(job["id"]) for name, job in made.items()}


def all_runs(api: Api) -> list[dict]:
    return api.ok(api.get("runs", params={"limit": 500}))["results"]


def open_runs(api: Api) -> list[dict]:
    return [r for r in all_runs(api) if r["status"] in ("pending", "running")]


@pytest.fixture(scope="module")
def browser(e2e_stack):
    driver = start_browser(scrollbars=False)
    yield driver
    driver.quit()


def log_in(driver, base_url: str, username: str = "erin") -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{base_url}/dashboard/")
    assert "/dashboard/login/" in driver.current_url  # anonymous: sent to log in
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_until(lambda: driver.current_url.endswith("/dashboard/"), timeout=10, what="login")


def chart_counts(driver) -> dict[str, Counter]:
    """The runs chart's numbers: bucket start -> status -> runs, from the data attributes."""
    from selenium.webdriver.common.by import By

    found = {}
    for bar in driver.find_elements(By.CSS_SELECTOR, "svg.runs-chart g.bar"):
        counts = Counter(
            {
                rect.get_attribute("data-status"): int(rect.get_attribute("data-count"))
                for rect in bar.find_elements(By.CSS_SELECTOR, "rect")
            }
        )
        assert sum(counts.values()) == int(bar.get_attribute("data-total"))
        if counts:
            found[bar.get_attribute("data-bucket")] = counts
    return found


def api_counts(api: Api) -> dict[str, Counter]:
    found: dict[str, Counter] = {}
    for run in all_runs(api):
        due = datetime.fromisoformat(run["due_at"]).astimezone(UTC)
        minute = due.replace(second=0, microsecond=0).isoformat()
        found.setdefault(minute, Counter())[run["status"]] += 1
    return found


def screenshot(driver, name: str) -> None:
    """The whole page, 1,400 px wide, into docs/screenshots/."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1},
        },
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    Path(SCREENSHOTS / name).write_bytes(base64.b64decode(shot["data"]))


def test_the_dashboard_shows_the_runs_and_runs_a_failing_job_now(e2e_stack, browser, erin, jobs):
    from selenium.webdriver.common.by import By

    log_in(browser, e2e_stack.base_url)
    expected = api_counts(erin)
    assert sum(expected.get(m, Counter())["failed"] for m in expected) >= 2

    def chart_agrees():
        browser.get(f"{e2e_stack.base_url}/dashboard/?span=hour")
        return chart_counts(browser) == expected

    # Beat's rollup thread counts them within ROLLUP_INTERVAL (2 s in the e2e stack).
    wait_until(chart_agrees, timeout=20, interval=1, what="the chart to count the API's runs")
    lag_points = browser.find_elements(By.CSS_SELECTOR, "svg.lag-chart g.lag-point")
    assert lag_points and all(float(p.get_attribute("data-p99-ms")) >= 0 for p in lag_points)

    failing = browser.find_elements(By.CSS_SELECTOR, "#failing tr.failing-job")
    assert failing, "no failing job listed"
    invoice = jobs["invoice-webhook"]
    assert failing[0].get_attribute("data-job") == invoice["id"]
    assert "503" in failing[0].text

    before = {r["id"] for r in erin.runs(invoice["id"])}
    failing[0].find_element(By.CSS_SELECTOR, "button[data-action=run]").click()
    wait_until(
        lambda: "A run of invoice-webhook starts now." in browser.page_source,
        timeout=10,
        what="the run-now message",
    )
    manual = [r for r in erin.runs(invoice["id"]) if r["id"] not in before]
    assert [r["trigger"] for r in manual] == ["manual"]
    erin.wait_runs(
        invoice["id"],
        lambda runs: runs[0]["id"] == manual[0]["id"] and runs[0]["status"] == "failed",
        timeout=20,
        what="the manual run to fail as the others did",
    )

    # The job's page: its runs as dots, coloured by status, as many as the API has.
    browser.find_element(
        By.CSS_SELECTOR, f"#failing a[href='/dashboard/jobs/{invoice['id']}/']"
    ).click()
    dots = browser.find_elements(By.CSS_SELECTOR, "svg.dots-chart a.dot")
    runs = erin.runs(invoice["id"])
    assert [d.get_attribute("data-status") for d in dots] == [r["status"] for r in reversed(runs)]
    assert "every 3 seconds" in browser.find_element(By.CSS_SELECTOR, ".schedule").text

    if os.environ.get("SCHED_SCREENSHOTS") != "1":
        return
    # Pictures of the pages with a few minutes of runs: the recurring jobs run again.
    for name in ("billing-sync", "invoice-webhook", "report-mailer"):
        erin.ok(erin.post(f"jobs/{jobs[name]['id']}/resume"))
    time.sleep(SCREENSHOT_AFTER)
    # As an operator (dave, a superuser), who also sees the workers and the broker.
    browser.find_element(By.CSS_SELECTOR, ".topbar button.link").click()
    log_in(browser, e2e_stack.base_url, "dave")
    browser.get(f"{e2e_stack.base_url}/dashboard/?span=hour")
    screenshot(browser, "dashboard.png")
    browser.get(f"{e2e_stack.base_url}/dashboard/jobs/{invoice['id']}/")
    screenshot(browser, "dashboard-job.png")
    for name in ("billing-sync", "invoice-webhook", "report-mailer"):
        erin.ok(erin.post(f"jobs/{jobs[name]['id']}/pause"))
