"""A headless Chromium driven through Selenium, for the admin's and the dashboard's browser
tests: the programs it needs, why it cannot run here (the tests are then skipped, saying
so), and a driver whose viewport is WIDTH x HEIGHT CSS pixels."""

from __future__ import annotations

import importlib.util
import shutil

import pytest

from .harness import ROOT

WIDTH, HEIGHT = 1400, 900  # CSS pixels of the window's viewport
SCREENSHOTS = ROOT / "docs" / "screenshots"


def _program(*names: str) -> str | None:
    return next((path for name in names if (path := shutil.which(name))), None)


CHROMIUM = _program("chromium", "chromium-browser", "google-chrome")
CHROMEDRIVER = _program("chromedriver")


def _missing() -> str | None:
    """Why no browser can be driven here (before any process is started for it)."""
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed (pip install -r requirements-dev.txt)"
    if CHROMIUM is None or CHROMEDRIVER is None:
        return (
            "Chromium or its driver is not installed (apt-get install chromium chromium-driver;"
            " `make test` does it as root: scripts/browser-setup.sh)"
        )
    return None


MISSING = _missing()


def start_browser(*, scrollbars: bool = True):
    """A headless Chromium with a WIDTH x HEIGHT viewport (`scrollbars=False`: none drawn,
    for screenshots); pytest.skip saying why if it cannot start."""
    if MISSING is not None:
        pytest.skip(MISSING)
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    arguments = [
        "--headless=new",
        "--no-sandbox",  # root in CI and containers
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={WIDTH},{HEIGHT}",
        "--lang=en-US",
    ]
    if not scrollbars:
        arguments.append("--hide-scrollbars")
    for argument in arguments:
        options.add_argument(argument)
    try:
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    except WebDriverException as exc:
        pytest.skip(f"Chromium could not start here: {str(exc.msg or exc).splitlines()[0]}")
    # The viewport itself, not the window with its frame, is WIDTH x HEIGHT.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
    )
    driver.set_page_load_timeout(30)
    return driver
