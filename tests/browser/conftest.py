"""Browser tests: Playwright driving Debian's Chromium against a live server.

No browser is ever downloaded: Playwright launches /usr/bin/chromium (Debian's
package, installed by .ci/run). Without it these tests are skipped locally and
fail in CI, so CI can never pass by skipping them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls
# the tests make around it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get(
    "CHROMIUM_PATH", shutil.which("chromium") or "/usr/bin/chromium"
)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screens"
PHONE = {"width": 390, "height": 844}  # a common phone
DESKTOP = {"width": 1280, "height": 900}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(
                f"Chromium not found at {CHROMIUM}; .ci/run installs Debian's chromium"
            )
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def new_page(browser, *, viewport=PHONE, language="en"):
    context = browser.new_context(
        viewport=viewport,
        locale="zh-CN" if language.startswith("zh") else "en-GB",
        extra_http_headers={
            "Accept-Language": "zh-CN,zh;q=0.9" if language.startswith("zh") else "en"
        },
        accept_downloads=True,
    )
    context.set_default_timeout(15_000)
    return context.new_page()


@pytest.fixture
def phone_page(browser):
    page = new_page(browser)
    yield page
    page.context.close()


def screenshot(page, name: str) -> Path:
    """Keep a full-page screenshot as a test artefact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
