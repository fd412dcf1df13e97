"""Reporting a wrong result in a real browser with JavaScript off: the card's
button posts the page's hidden answers, and the report is kept."""

from __future__ import annotations

import pytest

from programs.models import WrongAnswerReport
from tests.browser.conftest import PHONE
from tests.browser.test_owner_pages import fill, owner, page_height, submit

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("catalogue"),
]


def test_a_card_of_unkept_results_reports_without_javascript(browser, live_server):
    context = browser.new_context(
        viewport=PHONE,
        java_script_enabled=False,
        extra_http_headers={"Accept-Language": "en"},
    )
    page = context.new_page()
    page.goto(live_server.url + "/check/?all=1")
    fill(page, owner("convenience_store"))
    page.locator("form.profile-form [name=as_of]").fill("2020-06-15")
    submit(page)
    height = page_height(page)
    card = page.locator("article.match-card").first
    card.locator("summary").click()
    card.locator(".wrong-answer button").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Does this look wrong?"
    page.fill("[name='report-sentence']", "I sell online, but it says I don't.")
    page.locator("form.wrong-answer-form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Thank you for your report"
    report = WrongAnswerReport.objects.get()
    assert report.profile is None  # the box was not ticked
    assert report.sentence == "I sell online, but it says I don't."
    # The way back shows the same results again, from the answers posted back.
    page.get_by_role("button", name="Back to my results").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Programmes for your business"
    assert page_height(page) == height
    context.close()
