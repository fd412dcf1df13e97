"""The shop owner's journey in a real browser at phone size, in English and in Chinese."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from programs.models import BusinessProfile, StoredResult
from tests.browser.conftest import DESKTOP, PHONE, new_page, screenshot

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("catalogue"),
]

HEADINGS = {
    "en": {
        "results": "Programmes for your business",
        "deleted": "Your data is deleted",
    },
    "zh-hans": {"results": "适合您生意的项目", "deleted": "您的数据已删除"},
}


def assert_headline_counts_are_the_sections(page) -> None:
    for item in page.locator(".results-headline [data-section]").all():
        section = item.get_attribute("data-section")
        cards = page.locator(f"section[data-section={section}] article").count()
        assert int(item.get_attribute("data-count")) == cards, section


def fill_stall_profile(page) -> None:
    page.check("input[name=business_type][value=street_stall]")
    page.check("input[name=registration][value=individual_business]")
    page.select_option("#id_province", "CN-HB")
    page.fill("#id_city", "武汉")
    page.fill("#id_employees", "1")
    page.fill("#id_annual_revenue_cny", "80000")
    page.fill("#id_cash_on_hand_cny", "5000")
    page.fill("#id_monthly_fixed_costs_cny", "10000")
    page.check("input[name=platforms][value=alipay_merchant]")
    page.check("input[name=needs][value=financing]")
    page.check("input[name=needs][value=stock_sourcing]")
    page.fill("#id_as_of", "2020-06-15")


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_whole_journey_on_a_phone(browser, live_server, language, tmp_path):
    page = new_page(browser, viewport=PHONE, language=language)
    page.goto(live_server.url + "/")
    assert page.locator("html").get_attribute("lang") == language
    screenshot(page, f"home-phone-{language}")
    page.click("a[href='/check/']")
    # The first step: the owner does not know their months of cash, so opens
    # the helper and gives cash and monthly costs.
    page.check("input[name=business_type][value=street_stall]")
    page.select_option("#id_province", "CN-HB")
    page.check("input[name=needs][value=financing]")
    page.check("input[name=needs][value=stock_sourcing]")
    page.fill("#id_employees", "1")
    page.click("details.helper summary")
    page.fill("#id_cash_on_hand_cny", "5000")
    page.fill("#id_monthly_fixed_costs_cny", "10000")
    page.check("input[name=registration][value=individual_business]")
    page.check("input[name=platforms][value=alipay_merchant]")
    screenshot(page, f"form-phone-{language}")
    page.click("form.profile-form [type=submit]")

    # Nothing runs today: one tap shows the answers for when the programmes ran.
    assert page.locator(".nothing-open").count() == 1
    page.click(".nothing-open button[type=submit]")
    assert page.locator(".nothing-open").count() == 0
    assert BusinessProfile.objects.count() == 0

    # Keep them from the results page.
    page.click(".keep-form summary")
    page.check("#keep_consent_store")
    page.click(".keep-form [type=submit]")

    # Results behind a private link, with the tiers and the urgency banner.
    page.wait_for_url(re.compile(r"/r/[^/]+/$"))
    link = page.url
    assert HEADINGS[language]["results"] in page.locator("h1").inner_text()
    assert page.locator(".urgency-banner").count() == 1
    for_needs = page.locator("section[data-section=for_needs] article")
    assert for_needs.count() >= 2
    assert for_needs.first.get_attribute("id") == "p-mybank-contact-free-loans"
    assert_headline_counts_are_the_sections(page)
    screenshot(page, f"results-phone-{language}")

    # Answer one of the page's next questions in place.
    questions = page.locator("form.questions-form")
    questions.locator("input[name=has_bank_loan][value=yes]").check()
    questions.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/r/[^/]+/"))
    # The deferral then asks how much bank credit the business has.
    questions = page.locator("form.questions-form")
    questions.locator("input[name=bank_credit_cny]").fill("300000")
    questions.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/r/[^/]+/"))
    deferral = page.locator("section[data-section=also] #p-gov-loan-deferral")
    assert deferral.count() == 1
    assert deferral.locator(".badge.text-bg-success").count() == 1
    assert BusinessProfile.objects.get().has_bank_loan is True

    # Download the personal report in both formats.
    with page.expect_download() as pdf:
        page.click("a[href$='report.pdf']")
    pdf_path = Path(pdf.value.path())
    assert pdf_path.read_bytes().startswith(b"%PDF")
    with page.expect_download() as csv:
        page.click("a[href$='report.csv']")
    assert "mybank" in Path(csv.value.path()).read_text(
        encoding="utf-8-sig"
    ).lower() or "网商银行" in Path(csv.value.path()).read_text(encoding="utf-8-sig")

    # Come back later through the private link, in a fresh browser.
    later = new_page(browser, viewport=PHONE, language=language)
    later.goto(link)
    assert HEADINGS[language]["results"] in later.locator("h1").inner_text()

    # Delete the data for good.
    later.click("a[href$='/delete/']")
    screenshot(later, f"delete-phone-{language}")
    later.click("form[action$='/delete/'] button[type=submit]")
    assert HEADINGS[language]["deleted"] in later.locator("h1").inner_text()
    assert BusinessProfile.objects.count() == 0
    assert StoredResult.objects.count() == 0
    assert later.goto(link).status == 404
    later.context.close()
    page.context.close()


def test_invalid_answers_show_errors_and_store_nothing(phone_page, live_server):
    page = phone_page
    page.goto(live_server.url + "/check/?all=1")
    page.fill("#id_employees", "-5")
    page.check("#id_consent_store")
    page.click("form.profile-form [type=submit]")
    summary = page.locator("#error-summary")
    assert summary.is_visible()
    assert (
        summary.locator(
            "a[href='#id_business_type_0'], a[href='#id_business_type']"
        ).count()
        == 1
    )
    assert summary.locator("a[href='#id_needs_0'], a[href='#id_needs']").count() == 1
    assert page.locator("#id_employees").input_value() == "-5"
    assert page.locator(".invalid-feedback, .text-danger").count() >= 3
    screenshot(page, "form-errors-phone-en")
    assert BusinessProfile.objects.count() == 0


def test_language_choice_sticks(phone_page, live_server):
    page = phone_page
    page.goto(live_server.url + "/")
    page.click(".language-switcher button[value=zh-hans]")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.goto(live_server.url + "/check/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"


def public_pages(live_server, browser) -> dict[str, str]:
    """Return name -> URL of every public page, with a kept profile for its link pages."""
    page = new_page(browser)
    page.goto(live_server.url + "/check/?all=1")
    fill_stall_profile(page)
    page.check("#id_consent_store")
    page.click("form.profile-form [type=submit]")
    page.wait_for_url(re.compile(r"/r/[^/]+/$"))
    link = page.url
    page.context.close()
    return {
        "home": "/",
        "form": "/check/",
        "results": link,
        "edit": link + "edit/",
        "delete": link + "delete/",
        "catalogue": "/programmes/",
        "programme": "/programmes/mybank-contact-free-loans/",
    }


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_public_pages_have_no_serious_accessibility_violations(
    browser, live_server, language
):
    axe = Axe()
    problems = {}
    for name, url in public_pages(live_server, browser).items():
        for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            page = new_page(browser, viewport=viewport, language=language)
            page.goto(url if url.startswith("http") else live_server.url + url)
            screenshot(page, f"{name}-{label}-{language}")
            if label == "phone":
                results = axe.run(page)
                serious = [
                    (v["id"], v["impact"], len(v["nodes"]))
                    for v in results.response["violations"]
                    if v["impact"] in {"serious", "critical"}
                ]
                if serious:
                    problems[name] = serious
            page.context.close()
    assert problems == {}
