"""Staff in a real browser: log in, filter the match report, see the charts, download each format."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User

from programs import demo
from programs.api import screening
from programs.catalogue import loader
from tests.browser.conftest import DESKTOP, PHONE, new_page, screenshot
from tests.factories import kept_profile
from tests.test_background_jobs import run_worker

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


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_a_large_export_is_prepared_by_the_worker_and_downloaded_from_its_page(
    browser, live_server, analyst, settings, language
):
    settings.EXPORT_QUEUE_ROWS = {"csv": 10, "xlsx": 10}
    page = new_page(browser, viewport=PHONE, language=language)
    page.goto(live_server.url + "/admin/")
    page.fill("#id_username", "analyst")
    page.fill("#id_password", "correct horse battery")
    page.click("input[type=submit]")
    page.goto(live_server.url + "/admin/programs/storedresult/report/?tier=eligible")
    page.click(".exports a[href*='export.xlsx']")
    page.wait_for_selector("#export-queue-why")
    screenshot(page, f"export-offer-phone-{language}")
    page.click("#export-queue-form input[type=submit]")
    page.wait_for_selector("#job-progress")
    screenshot(page, f"export-waiting-phone-{language}")

    run_worker()

    # The page refreshes itself; the download link appears once the file is written.
    page.wait_for_selector("#job-download", timeout=20_000)
    screenshot(page, f"export-ready-phone-{language}")
    with page.expect_download() as download:
        page.click("#job-download")
    assert Path(download.value.path()).read_bytes()[:2] == b"PK"
    assert download.value.suggested_filename.endswith(".xlsx")
    page.goto(live_server.url + "/admin/programs/storedresult/report/")
    assert page.locator("#report-my-jobs a").count() == 1
    page.context.close()


def test_a_large_screening_file_shows_its_counts_and_result_on_its_page(
    browser, live_server, analyst, monkeypatch, tmp_path
):
    monkeypatch.setattr(screening, "MAX_SCREENING_ROWS", 2)
    shops = tmp_path / "shops.csv"
    shops.write_bytes(
        b"business_type,province,employees,needs\n"
        b"street_stall,CN-HB,1,financing\n"
        b"convenience_store,CN-GD,3,stock_sourcing\n"
        b"castle,CN-HB,-1,financing\n"
    )
    page = new_page(browser, viewport=PHONE, language="zh-hans")
    page.goto(live_server.url + "/admin/")
    page.fill("#id_username", "analyst")
    page.fill("#id_password", "correct horse battery")
    page.click("input[type=submit]")
    page.goto(live_server.url + "/admin/screening/")
    page.set_input_files("#id_file", str(shops))
    page.fill("#id_as_of", "2020-06-15")
    page.click("#screening-form button[value=summary]")
    page.wait_for_selector("#job-progress")

    run_worker()

    page.wait_for_selector("#job-screening-counts", timeout=20_000)
    assert (
        "共 3 行：2 行已核对，1 行有错误。" in page.locator("#job-result").inner_text()
    )
    screenshot(page, "screening-ready-phone-zh-hans")
    with page.expect_download() as download:
        page.click("#job-download")
    assert Path(download.value.path()).read_bytes().startswith(b"\xef\xbb\xbf")
    page.context.close()
