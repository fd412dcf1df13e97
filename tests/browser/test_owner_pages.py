"""What an owner sees on a 390x844 phone, in Chinese and English, for four
typical businesses: a short first step, a results page of a few screens whose
headline counts are its sections, no stray English on Chinese pages, and no
accessibility violation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from programs.engine import contract
from programs.engine.contract import FieldKind
from tests.browser.conftest import PHONE, new_page, screenshot
from tests.browser.test_journey_browser import assert_headline_counts_are_the_sections

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("catalogue"),
]

PROFILES = Path(__file__).resolve().parents[1] / "profiles"
OWNERS = {
    "stall": "01_wuhan_stall.json",
    "export_factory": "02_gd_export_factory.json",
    "convenience_store": "13_cd_convenience_store.json",
    "software_company": "03_zj_tech.json",
}
LANGUAGES = ("zh-hans", "en")
SCREEN = PHONE["height"]
#: Latin words allowed on a Chinese page: brands, and file formats. Addresses
#: (the private link, in a <code>) are not words, and a source's title stays
#: as published, with a Chinese gloss (in a <cite>).
BRANDS_AND_FORMATS = frozenset(
    {
        "ReliefMatch",
        "JD",
        "MYbank",
        "Alipay",
        "AliExpress",
        "Alibaba",
        "Lazada",
        "Tmall",
        "Taobao",
        "WeChat",
        "Pay",
        "Meituan",
        "Douyin",
        "Jing",  # Jing Daily, a publication the home page cites
        "Daily",
        "PDF",
        "CSV",
        "XLSX",
        "QR",
        "com",
    }
)


def owner(name: str) -> dict:
    return json.loads((PROFILES / OWNERS[name]).read_text(encoding="utf-8"))


def page_height(page) -> int:
    return page.evaluate("document.documentElement.scrollHeight")


def fill(page, answers: dict, *, form: str = "form.profile-form") -> None:
    """Answer the questions on the page that the profile answers."""
    scope = page.locator(form)
    for name, value in answers.items():
        if scope.locator(f"[name={name}]").count() == 0:
            continue
        kind = contract.FIELDS[name].kind
        if kind is FieldKind.MULTI:
            for item in value:
                scope.locator(f"input[name={name}][value={item}]").check()
        elif kind is FieldKind.BOOLEAN:
            scope.locator(
                f"input[name={name}][value={'yes' if value else 'no'}]"
            ).check()
        elif scope.locator(f"select[name={name}]").count():
            scope.locator(f"select[name={name}]").select_option(value)
        elif scope.locator(f"input[type=radio][name={name}]").count():
            scope.locator(f"input[name={name}][value={value}]").check()
        else:
            scope.locator(f"[name={name}]").fill(str(value))


def submit(page) -> None:
    page.locator("form.profile-form [type=submit]").last.click()
    page.wait_for_load_state()


def show_when_they_ran(page) -> None:
    """Take the page's one tap to the date the programmes ran, if it offers it."""
    offer = page.locator(".nothing-open button[type=submit]")
    if offer.count():
        offer.click()
        page.wait_for_load_state()


#: The visible text the page marks as Chinese: text inside an element marked
#: as another language (an English source title, the language switcher) is
#: that language's, and is left out.
CHINESE_TEXT = """() => {
  const parts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    const lang = el && el.closest("[lang]");
    if (!lang || !lang.lang.startsWith("zh") || !el.checkVisibility()) continue;
    if (el.closest("code, [translate=no]")) continue;  // an address, not words
    if (el.closest("cite")) continue;  // a source keeps its original title
    parts.push(walker.currentNode.textContent);
  }
  return parts.join(" ");
}"""


def latin_words(page) -> set[str]:
    text = page.evaluate(CHINESE_TEXT)
    return {w for w in re.findall(r"[A-Za-z]{2,}", text) if w not in BRANDS_AND_FORMATS}


def axe_violations(page) -> list[tuple[str, int]]:
    result = Axe().run(page)
    return [(v["id"], len(v["nodes"])) for v in result.response["violations"]]


@pytest.mark.parametrize("language", LANGUAGES)
def test_first_step_fits_in_two_and_a_half_screens(browser, live_server, language):
    page = new_page(browser, language=language)
    page.goto(live_server.url + "/check/")
    screenshot(page, f"first-step-{language}")
    assert page_height(page) <= 2.5 * SCREEN
    assert page.locator("form.profile-form [name=annual_revenue_cny]").count() == 0
    if language == "zh-hans":
        assert latin_words(page) == set()
    assert axe_violations(page) == []
    page.context.close()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", OWNERS)
def test_results_after_the_first_step_read_cleanly(
    browser, live_server, name, language
):
    page = new_page(browser, language=language)
    page.goto(live_server.url + "/check/")
    fill(page, owner(name))
    submit(page)
    show_when_they_ran(page)
    assert page.locator("section[data-section=for_needs]").count() == 1
    assert_headline_counts_are_the_sections(page)
    screenshot(page, f"results-{name}-{language}")
    if language == "zh-hans":
        assert latin_words(page) == set()
    assert axe_violations(page) == []
    page.context.close()


@pytest.mark.parametrize("language", LANGUAGES)
def test_convenience_store_results_fit_in_four_screens(browser, live_server, language):
    page = new_page(browser, language=language)
    page.goto(live_server.url + "/check/?all=1")
    fill(page, owner("convenience_store"))
    page.locator("form.profile-form [name=as_of]").fill("2020-06-15")
    submit(page)
    assert_headline_counts_are_the_sections(page)
    assert page.locator("article.match-card").count() > 0
    screenshot(page, f"results-convenience-store-full-{language}")
    assert page_height(page) <= 4 * SCREEN
    page.context.close()


def test_chinese_pages_beyond_the_results_show_no_stray_english(browser, live_server):
    page = new_page(browser, language="zh-hans")
    page.goto(live_server.url + "/check/?all=1")
    fill(page, owner("convenience_store"))
    page.locator("form.profile-form [name=as_of]").fill("2020-06-15")
    page.check("#id_consent_store")
    submit(page)
    link = page.url
    pages = {
        "home": "/",
        "every-question": "/check/?all=1",
        "kept-results": link,
        "edit": link + "edit/",
        "delete": link + "delete/",
        "catalogue": "/programmes/",
        "programme": "/programmes/mybank-contact-free-loans/",
        "not-found": "/r/no-such-link/",
    }
    found = {}
    for name, url in pages.items():
        page.goto(url if url.startswith("http") else live_server.url + url)
        screenshot(page, f"{name}-zh-hans")
        if words := latin_words(page):
            found[name] = words
    assert found == {}
    page.context.close()
