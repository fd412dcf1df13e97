"""Staff in a real browser: log in, filter the match report, see the charts, download each format."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User

from programs import demo
from programs.catalogue import loader
from tests.browser.conftest import DESKTOP, new_page, screenshot
from tests.factories import kept_profile

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def analyst():
    loader.load_catalogue()
    for profile in demo.synthetic_profiles(40, seed=7):
        kept_profile(profile, as_of=datetime.date(2020, 6, 15))
    user = User.objects.create_user(
        "analyst", password="correct horse battery", is_staff=True
    )
    user.user_permissions.add(Permission.objects.get(codename="view_match_report"))
    return user


def test_staff_filters_the_report_sees_charts_and_downloads_every_format(
    browser, live_server, analyst
):
    page = new_page(browser, viewport=DESKTOP)
    page.goto(live_server.url + "/admin/")
    page.fill("#id_username", "analyst")
    page.fill("#id_password", "correct horse battery")
    page.click("input[type=submit]")
    page.click("#match-report-link a")
    assert page.locator("#report-counts").is_visible()
    all_rows = page.locator("#report-counts").inner_text()

    page.select_option("#id_tier", "eligible")
    page.click("#report-filters input[type=submit]")
    assert "tier=eligible" in page.url
    assert page.locator("#report-counts").inner_text() != all_rows
    charts = page.locator(".chart svg")
    assert charts.count() == 2
    assert charts.first.bounding_box()["height"] > 50
    screenshot(page, "match-report-desktop-en")

    downloads = {}
    for fmt in ("csv", "xlsx", "pdf"):
        with page.expect_download() as download:
            page.click(f".exports a[href*='export.{fmt}']")
        downloads[fmt] = Path(download.value.path()).read_bytes()
    assert downloads["csv"].decode("utf-8-sig").splitlines()[0].startswith("Submitted")
    assert len(downloads["csv"].decode("utf-8-sig").splitlines()) > 1
    assert downloads["xlsx"][:2] == b"PK"
    assert downloads["pdf"].startswith(b"%PDF")
    page.context.close()
