"""The admin in a real browser (headless Chromium through Selenium), logged into the running
web process after real jobs ran, one of them failing and notifying a webhook: at 1,400 x
900 the lists fit without a horizontal scrollbar, states are coloured badges, runs are
read-only pages titled with their job, and a job's delete cancels it.

Screenshots of the pages (and of the question before a job's cancel) go into this test's
temporary directory, and into docs/screenshots/ when SCHED_SCREENSHOTS=1. Where Chromium,
its driver or Selenium is missing or cannot start, these tests are skipped, saying why
(`make test` installs Chromium when it runs as root: scripts/browser-setup.sh).
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from .browser import MISSING, SCREENSHOTS, WIDTH, start_browser
from .harness import parse_ts

TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$")
# The badges' fills (jobs/static/jobs/admin.css) as the browser computes them.
GREEN, RED, GREY = "rgba(46, 125, 50, 1)", "rgba(198, 40, 40, 1)", "rgba(107, 114, 128, 1)"
CANCELED = "(jobs are kept with their runs; the API's DELETE does the same)"
LONG_NAME = "nightly-backup-of-the-customer-database-of-the-eu-west-region-with-retention"
# Wide letters (as wide scripts have): 24 of them are cut by width too (no CJK font here).
WIDE_NAME = "WEEKLY-WAREHOUSE-MEMBERSHIP-MIGRATION"


pytestmark = [pytest.mark.e2e, pytest.mark.skipif(MISSING is not None, reason=str(MISSING))]


@pytest.fixture(scope="module")
def jobs(alice, target) -> dict[str, dict]:
    """Real jobs that ran on the stack's worker: two succeeded (one recurring), one failed;
    one waits for a fire in an hour. By name, as the API shows them at the end."""
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    bodies = {
        "nightly-backup": {"schedule": {"every": "1h"}, "start_at": soon, "path": "ok"},
        "report-generator": {"schedule": "now", "path": "ok"},
        "flaky-webhook": {"schedule": "now", "path": "status/500"},
        "weekly-cleanup": {"schedule": "in 1h", "path": "ok"},
        # Long values, to be cut: a long name, a long description of its schedule.
        LONG_NAME: {
            "schedule": {"cron": "*/5 9-17 * * 1-5"},
            "timezone": "America/New_York",
            "path": "ok",
        },
        WIDE_NAME: {"schedule": "in 2h", "path": "ok"},
    }
    # The failing job tells a webhook on the target: a notification and its delivery.
    hook = target.path("ok")
    channel = {"name": "ops-webhook", "kind": "webhook", "url": target.url(hook)}
    channel_id = alice.ok(alice.post("channels", channel), 201)["id"]
    bodies["flaky-webhook"]["notify"] = [{"channel": channel_id}]
    made = {}
    for name, body in bodies.items():
        path = target.path(body.pop("path"))
        task = {"method": "POST", "uri": target.url(path), "body": {"job": name}}
        made[name] = alice.create_job({"name": name, "task": task, **body})
    target.wait_for(hook, 1, timeout=20)
    alice.wait_job(made["report-generator"]["id"], "succeeded")
    alice.wait_job(made["flaky-webhook"]["id"], "failed")
    alice.wait_runs(
        made["nightly-backup"]["id"],
        lambda runs: len(runs) == 1 and runs[0]["status"] == "succeeded",
        what="the recurring job's first run",
    )
    return {name: alice.job(job["id"]) for name, job in made.items()}


@pytest.fixture(scope="module")
def browser(e2e_stack, jobs):
    """The browser, logged into the admin as dave (a superuser)."""
    driver = start_browser()
    try:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        driver.get(f"{e2e_stack.base_url}/admin/login/?next=/admin/")
        driver.find_element(By.NAME, "username").send_keys("dave")
        driver.find_element(By.NAME, "password").send_keys("e2e-password")
        driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        WebDriverWait(driver, 10).until(expected_conditions.title_contains("Site administration"))
        driver.base_url = e2e_stack.base_url
        yield driver
    finally:
        driver.quit()


def open_page(browser, path: str) -> None:
    browser.get(f"{browser.base_url}{path}")
    assert "Log in" not in browser.title, browser.title


def screenshot(browser, name: str, tmp_path: Path) -> None:
    """The viewport as a PNG: in the test's directory, and in docs/ when asked for."""
    path = tmp_path / name
    assert browser.save_screenshot(str(path)), name
    if os.environ.get("SCHED_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENSHOTS / name)
    print(f"[e2e] screenshot {name}: {path}")


def assert_fits(browser) -> None:
    """No horizontal scrollbar on the page, and the list (if any) not scrolled in its box."""
    page = browser.execute_script("return document.documentElement.scrollWidth")
    assert page <= WIDTH, f"{browser.current_url}: {page} px wide, more than {WIDTH}"
    # [the list's width, its box's, the narrowest the list can be (its min-content)]
    boxes = browser.execute_script(
        "const r = document.querySelector('#changelist .results');"
        "if (!r) return null;"
        "const t = r.querySelector('table'), before = [r.scrollWidth, r.clientWidth];"
        "t.style.width = 'min-content'; const least = t.offsetWidth; t.style.width = '';"
        "return [...before, least]"
    )
    if boxes:
        assert boxes[0] <= boxes[1], (
            f"{browser.current_url}: the list is {boxes[0]} px wide in a {boxes[1]} px box"
        )
        print(f"[e2e] {browser.current_url}: the list needs {boxes[2]} of {boxes[1]} px")


def row_of(browser, name: str):
    from selenium.webdriver.common.by import By

    return browser.find_element(By.XPATH, f"//table[@id='result_list']//tr[.//*[text()='{name}']]")


def badge(cell):
    """(text, fill colour) of the badge in `cell`."""
    from selenium.webdriver.common.by import By

    element = cell.find_element(By.CSS_SELECTOR, ".sched-badge")
    return element.text, element.value_of_css_property("background-color")


def cell(row, field: str):
    from selenium.webdriver.common.by import By

    return row.find_element(By.CSS_SELECTOR, f".field-{field}")


def test_the_job_list_fits_and_colours_its_states(browser, jobs, tmp_path):
    from selenium.webdriver.common.by import By

    open_page(browser, "/admin/jobs/job/")
    screenshot(browser, "admin-jobs.png", tmp_path)
    assert_fits(browser)
    failing = row_of(browser, "flaky-webhook")
    assert badge(cell(failing, "status_badge")) == ("failed", RED)
    assert badge(cell(failing, "health_badge")) == ("failing (1)", RED)
    assert badge(cell(failing, "last_result")) == ("failed 500", RED)
    fine = row_of(browser, "report-generator")
    assert badge(cell(fine, "status_badge")) == ("succeeded", GREEN)
    assert badge(cell(fine, "health_badge")) == ("ok", GREEN)
    assert badge(cell(fine, "last_result")) == ("succeeded 200", GREEN)
    assert re.fullmatch(r"\d+ ms|\d\.\d s", cell(fine, "duration").text)
    assert TIME.match(cell(fine, "last_run_time").text)
    waiting = row_of(browser, "weekly-cleanup")
    assert badge(cell(waiting, "status_badge")) == ("scheduled", GREY)
    next_run = cell(waiting, "next_run").text
    assert TIME.match(next_run), next_run
    due = datetime.fromtimestamp(parse_ts(jobs["weekly-cleanup"]["next_run_at"]), UTC)
    assert next_run == f"{due:%Y-%m-%d %H:%M:%S} UTC"
    assert "Add job" not in browser.page_source
    # Sorted by three columns, their headings carry sort arrows: it still fits.
    open_page(browser, "/admin/jobs/job/?o=-5.6.2")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#result_list th.sorted")) == 3
    assert_fits(browser)
    open_page(browser, "/admin/jobs/job/")
    long = row_of(browser, LONG_NAME[:23] + "…")
    tip = cell(long, "job").find_element(By.CSS_SELECTOR, "[title]").get_attribute("title")
    assert tip == f"{LONG_NAME}\n{jobs[LONG_NAME]['id']}"
    wide = browser.find_element(By.CSS_SELECTOR, f"[title^='{WIDE_NAME}']")
    assert wide.size["width"] <= 200  # 13em (.sched-name) of the list's 13-14 px font


def test_the_run_list_fits_and_adds_nothing(browser, jobs, tmp_path):
    from selenium.webdriver.common.by import By

    open_page(browser, "/admin/jobs/run/")
    screenshot(browser, "admin-runs.png", tmp_path)
    assert_fits(browser)
    open_page(browser, "/admin/jobs/run/?o=-6.7.3")  # due, started, status
    assert_fits(browser)
    assert not browser.find_elements(By.CSS_SELECTOR, "a.addlink")
    assert "Add run" not in browser.page_source
    # Other tests' runs may be newer: the job's own runs, as its page links to them.
    open_page(browser, f"/admin/jobs/run/?job__id__exact={jobs['flaky-webhook']['id']}")
    assert_fits(browser)
    failing = row_of(browser, "flaky-webhook")
    assert badge(cell(failing, "status_badge")) == ("failed 500", RED)
    assert cell(failing, "queue").text == "http"
    assert re.fullmatch(r"\d+ ms|\d\.\d s", cell(failing, "duration").text)
    assert TIME.match(cell(failing, "due").text)


def test_a_run_page_names_its_job_and_has_no_save_button(browser, jobs, alice, tmp_path):
    from selenium.webdriver.common.by import By

    (run,) = alice.runs(jobs["flaky-webhook"]["id"])
    open_page(browser, f"/admin/jobs/run/{run['id']}/change/")
    screenshot(browser, "admin-run.png", tmp_path)
    due = datetime.fromtimestamp(parse_ts(run["due_at"]), UTC)
    title = f"Run of flaky-webhook @ {due:%Y-%m-%d %H:%M:%S} UTC #1"
    assert browser.find_element(By.TAG_NAME, "h1").text == title
    assert browser.title.startswith(title)
    assert not browser.find_elements(By.CSS_SELECTOR, "#content input[type=submit]")
    assert not browser.find_elements(By.CSS_SELECTOR, "a.deletelink")
    assert badge(browser.find_element(By.CSS_SELECTOR, ".field-status_badge")) == (
        "failed 500",
        RED,
    )
    assert_fits(browser)


def test_the_notification_lists_fit_and_colour_what_was_delivered(browser, jobs, tmp_path):
    from selenium.webdriver.common.by import By

    open_page(browser, "/admin/notifications/notification/")
    screenshot(browser, "admin-notifications.png", tmp_path)
    assert_fits(browser)
    row = row_of(browser, "flaky-webhook")
    assert badge(cell(row, "status_badge")) == ("delivered", GREEN)
    assert TIME.match(cell(row, "delivered").text)
    assert not browser.find_elements(By.CSS_SELECTOR, "a.addlink")
    open_page(browser, "/admin/notifications/delivery/")
    assert_fits(browser)
    assert ("delivered", GREEN) in [
        badge(element) for element in browser.find_elements(By.CSS_SELECTOR, ".field-outcome")
    ]


def test_the_worker_list_fits(browser, jobs, tmp_path):
    from selenium.webdriver.common.by import By

    open_page(browser, "/admin/jobs/workerprocess/")
    assert_fits(browser)
    assert browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")  # the stack's worker
    assert not browser.find_elements(By.CSS_SELECTOR, "a.addlink")


def test_a_job_page_shows_its_runs_and_its_delete_cancels_it(browser, jobs, alice, tmp_path):
    from selenium.webdriver.common.by import By

    job = jobs["nightly-backup"]
    open_page(browser, f"/admin/jobs/job/{job['id']}/change/")
    screenshot(browser, "admin-job.png", tmp_path)
    assert_fits(browser)
    runs = browser.find_element(By.CSS_SELECTOR, ".field-recent_runs")
    assert badge(runs) == ("succeeded 200", GREEN)

    browser.find_element(By.LINK_TEXT, "Cancel job").click()
    screenshot(browser, "admin-job-cancel.png", tmp_path)
    assert "Nothing is deleted" in browser.find_element(By.ID, "content").text
    browser.find_element(By.CSS_SELECTOR, "input[value='Yes, cancel it']").click()
    message = browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert message == f"Canceled “nightly-backup” {CANCELED}."
    assert browser.current_url.endswith(f"/admin/jobs/job/{job['id']}/change/")
    after = alice.job(job["id"])
    assert (after["status"], after["next_run_at"]) == ("canceled", None)
    (run,) = alice.runs(job["id"])
    assert run["status"] == "succeeded"
