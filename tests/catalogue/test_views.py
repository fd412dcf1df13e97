"""The public catalogue: the list of programmes with its filters, and one programme's page."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from html import unescape
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from programs.catalogue import loader, store
from programs.catalogue import views as catalogue_views
from programs.engine import matching, rules
from tests.factories import CriterionFactory, ProgrammeFactory

pytestmark = pytest.mark.django_db

#: The list page reads the catalogue revision; only after a catalogue change
#: does it read the catalogue again, in three queries: programmes with their
#: providers, then criteria and sources prefetched.
LIST_QUERIES = 4

LIST_URL = "programs:programme_list"


@pytest.fixture
def catalogue():
    loader.load_catalogue()
    return store.current_catalogue()


def shown(response) -> set[str]:
    return {card.programme.slug for card in response.context["cards"]}


def get_list(client, **params):
    return client.get(reverse(LIST_URL), params)


def test_list_shows_every_programme_of_the_shipped_catalogue(client, catalogue):
    response = get_list(client)
    assert response.status_code == HTTPStatus.OK
    assert len(catalogue.programmes) == 16
    assert shown(response) == {p.slug for p in catalogue.programmes}
    html = response.content.decode()
    assert "16 programmes shown of 16" in html
    assert "Catalogue of 2026-11-24" in html  # the day its sources were checked
    assert catalogue.version not in html  # the fingerprint is for caches only
    assert "have all ended" in html
    for programme in catalogue.programmes:
        assert reverse("programs:programme_detail", args=[programme.slug]) in html


def test_list_cards_show_provider_summary_needs_and_closing_date(client, catalogue):
    html = get_list(client).content.decode()
    assert "MYbank" in html
    assert "Contact-free Loan Micro-assistance Plan" in html
    assert "Rent relief" in html  # a need label, not the code
    assert "closed on 2020-12-31 (our estimate)" in html


def test_provider_filter_keeps_only_that_providers_programmes(client, catalogue):
    response = get_list(client, provider="jd")
    assert shown(response) == {"jd-spark", "jd-retail-digitisation", "jd-live-fee-cut"}
    assert '<option value="jd" selected>JD.com</option>' in response.content.decode()


def test_need_filter_keeps_only_programmes_addressing_that_need(client, catalogue):
    response = get_list(client, need="rent_relief")
    assert shown(response) == {"gov-state-rent-relief"}


def test_open_status_on_a_2020_date_keeps_programmes_running_that_day(
    client, catalogue
):
    day = datetime.date(2020, 4, 15)
    running = {
        p.slug
        for p in catalogue.programmes
        if (p.opens_on is None or p.opens_on <= day)
        and (p.closes_on is None or day <= p.closes_on)
        and not p.withdrawn
    }
    response = get_list(client, status="open", open_on="2020-04-15")
    assert shown(response) == running
    # Programmes that opened later in 2020 are filtered out.
    assert {"jd-spark", "jd-retail-digitisation", "gov-state-rent-relief"}.isdisjoint(
        shown(response)
    )
    assert len(running) == 12
    assert "Status on 2020-04-15." in response.content.decode()


def test_not_yet_open_status_on_a_2020_date_says_when_each_opens(client, catalogue):
    response = get_list(client, status="not_yet_open", open_on="2020-04-15")
    assert shown(response) == {
        "alibaba-cloud-partner-support",
        "jd-spark",
        "jd-retail-digitisation",
        "gov-state-rent-relief",
    }
    assert "opens on 2020-06-02" in response.content.decode()


def test_nothing_is_open_today_because_every_programme_has_ended(client, catalogue):
    response = get_list(client, status="open")
    assert shown(response) == set()
    assert "No programme matches these filters." in response.content.decode()
    closed = get_list(client, status="closed")
    assert len(shown(closed)) == 16


def test_filters_combine(client, catalogue):
    response = get_list(
        client,
        provider="alibaba",
        need="fee_relief",
        status="open",
        open_on="2020-04-15",
    )
    assert shown(response) == {
        "alibaba-spring-thunder-domestic",
        "alibaba-merchant-measures",
    }


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("provider", "nope", "That provider is not in the catalogue"),
        ("open_on", "2020-13-45", "That is not a date"),
        ("open_on", "x" * 100_000, "That is not a date"),
        ("need", "<script>", "That need is not on the list"),
        ("status", "maybe", "That status is not on the list"),
    ],
    ids=["unknown-provider", "impossible-date", "100kb-date", "markup-need", "status"],
)
def test_invalid_filter_is_ignored_and_explained_next_to_its_field(
    client, catalogue, name, value, message
):
    response = get_list(client, **{name: value})
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert message in html
    field_id = "filter-" + name.replace("_", "-")
    assert f'id="{field_id}-error"' in html
    assert 'aria-invalid="true"' in html
    assert len(shown(response)) == 16  # the filter was ignored
    # Never echoed in the form or the message; base.html's language switcher
    # keeps the whole query in its "next" field so filters survive a switch.
    assert html.count(value) <= 1


def test_invalid_date_falls_back_to_today(client, catalogue):
    response = get_list(client, open_on="2020-13-45")
    today = timezone.localdate()
    assert response.context["filters"].open_on == today
    assert f'name="open_on" value="{today:%Y-%m-%d}"' in response.content.decode()


def test_list_in_chinese_shows_chinese_names(client, catalogue):
    response = client.get(reverse(LIST_URL), headers={"accept-language": "zh-hans"})
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html
    assert "网商银行" in html
    assert "无接触贷款助微计划（“310”贷款）" in html
    assert "Contact-free Loan Micro-assistance Plan" not in html


def test_list_page_reads_the_database_a_fixed_number_of_times(
    client, catalogue, django_assert_max_num_queries
):
    with django_assert_max_num_queries(LIST_QUERIES):
        response = get_list(client, provider="mybank", open_on="2020-04-15")
    assert response.status_code == HTTPStatus.OK


def test_list_page_query_count_does_not_grow_with_the_catalogue(client, catalogue):
    CriterionFactory(programme=ProgrammeFactory())
    with CaptureQueriesContext(connection) as changed_before:
        get_list(client)
    with CaptureQueriesContext(connection) as unchanged_before:
        get_list(client)
    for _ in range(5):
        CriterionFactory(programme=ProgrammeFactory())
    with CaptureQueriesContext(connection) as changed_after:
        get_list(client)
    with CaptureQueriesContext(connection) as unchanged_after:
        response = get_list(client)
    assert len(shown(response)) == 22
    assert len(changed_after) == len(changed_before) == LIST_QUERIES
    assert len(unchanged_after) == len(unchanged_before) == 1


def test_list_only_answers_get_and_head(client, catalogue):
    response = client.post(reverse(LIST_URL))
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED


# --------------------------------------------------------------------------
# Detail page
# --------------------------------------------------------------------------


def detail(client, slug, language="en"):
    return client.get(
        reverse("programs:programme_detail", args=[slug]),
        headers={"accept-language": language},
    )


def test_detail_groups_required_rules_with_one_of_for_alternatives(client, catalogue):
    response = detail(client, "mybank-contact-free-loans")
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert "You must meet all of these:" in html
    # One group: size class, registration or stall holder. Needs are never rules.
    assert html.count("One of:") == 1
    one_of = html.index("One of:")
    group_1 = html[one_of : html.index("</ul>", one_of)]
    assert "Size class must be micro or small." in group_1
    assert "Registration must be individual business (个体工商户)." in group_1
    assert "Type of business must be street stall or market stall." in group_1
    assert "Needs must include" not in html
    assert "These raise your ranking (not required):" in html
    assert html.index("You must meet all of these:") < html.index(
        "These raise your ranking (not required):"
    )


def test_detail_marks_documented_rules_and_our_assumptions(client, catalogue):
    html = detail(client, "mybank-contact-free-loans").content.decode()
    assert (
        '<span class="badge text-bg-success">documented by the provider</span>' in html
    )
    assert '<span class="badge text-bg-warning">our assumption</span>' in html
    assert "Our assumption: an Alipay merchant account" in html  # the explanation


def test_detail_lists_sources_with_confidence_spelled_out(client, catalogue):
    html = detail(client, "mybank-contact-free-loans").content.decode()
    assert "China Banking News: MYbank and ACFIC launch contact-free loan plan" in html
    assert "chinabankingnews.com" in html
    assert "2020-03-08" in html
    assert "Confidence: high" in html
    assert "official, or several reports agree" in html
    assert "Confidence: medium" in html
    assert "网商银行" not in html.split('id="sources-title"')[1]  # no gloss in English


def test_detail_shows_dates_steps_and_links(client, catalogue):
    html = detail(client, "mybank-contact-free-loans").content.decode()
    assert "2020-03-05" in html  # announced and opens
    assert "2020-12-31 (our estimate)" in html
    assert "Alipay app or MYbank app" in html
    assert "takes about 3 minutes.<br>3. Approval" in html
    assert "about 1 day" in html
    assert reverse("programs:profile_form") in html
    assert reverse(LIST_URL) in html


def test_detail_formats_the_maximum_amount_with_thousands_separators(client, catalogue):
    html = detail(client, "jd-spark").content.decode()
    assert "100,000 CNY" in html


def test_detail_in_chinese_shows_chinese_rules_text(client, catalogue):
    response = detail(client, "mybank-contact-free-loans", language="zh-hans")
    html = response.content.decode()
    assert "无接触贷款助微计划" in html
    assert "面向小微企业、个体工商户和摊贩。" in html
    assert "在手机上打开支付宝手机应用" in html


def test_detail_of_unknown_programme_is_not_found(client, catalogue):
    response = detail(client, "no-such-programme")
    assert response.status_code == HTTPStatus.NOT_FOUND


def test_detail_escapes_steps_and_links_only_to_web_addresses(client):
    ProgrammeFactory(
        slug="risky",
        apply_steps_en="<b>bold</b>\nnext",
        apply_url="javascript:alert(1)",
    )
    html = detail(client, "risky").content.decode()
    assert "&lt;b&gt;bold&lt;/b&gt;<br>next" in html
    assert 'href="javascript:' not in html


def test_detail_links_to_an_http_application_page_without_opener(client):
    ProgrammeFactory(slug="linked", apply_url="https://example.com/apply")
    html = detail(client, "linked").content.decode()
    assert '<a href="https://example.com/apply" rel="noopener" target="_blank">' in html


# --------------------------------------------------------------------------
# Helpers behind the pages
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criterion", "sentence"),
    [
        (
            matching.Criterion("size_class", rules.ONE_OF, ("micro", "small")),
            "Size class must be micro or small.",
        ),
        (
            matching.Criterion("has_bank_loan", rules.IS, True),
            "Only if you have a bank loan.",
        ),
        (
            matching.Criterion(
                "employees", rules.BETWEEN, (Decimal(10), Decimal(1000))
            ),
            "Number of employees must be between 10 people and 1,000 people.",
        ),
        (
            matching.Criterion("annual_revenue_cny", rules.LTE, Decimal("5000000")),
            "Annual revenue must be at most 5,000,000 CNY.",
        ),
    ],
    ids=["one-of", "yes-no", "between", "at-most"],
)
def test_criterion_reads_as_a_rule_with_labels_and_units(criterion, sentence):
    assert catalogue_views.criterion_sentence(criterion) == sentence


def test_short_summary_is_shown_whole():
    assert catalogue_views.summary_line("Loans for shops.") == "Loans for shops."


def test_long_summary_ends_at_a_sentence_in_its_second_half():
    summary = "A" * 100 + ". " + "B" * 100
    assert catalogue_views.summary_line(summary) == "A" * 100 + "."


def test_long_summary_without_a_late_sentence_end_is_cut_between_words():
    summary = "word " * 60
    line = catalogue_views.summary_line(summary)
    assert line.endswith("word…")
    assert len(line) <= catalogue_views.SUMMARY_LINE_COLUMNS + 1


def test_chinese_summary_counts_each_character_as_two_columns():
    line = catalogue_views.summary_line("国" * 200)
    assert line == "国" * (catalogue_views.SUMMARY_LINE_COLUMNS // 2) + "…"


# --------------------------------------------------------------------------
# What an owner reads in Chinese: no codes, no fingerprints, no grade letters
# --------------------------------------------------------------------------


def visible_text(response) -> str:
    """Return the page's text as read, without tags, scripts or attributes."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_chinese_detail_page_shows_no_fingerprint_and_no_grade_letters(
    client, catalogue
):
    text = visible_text(detail(client, "mybank-contact-free-loans", "zh-hans"))
    assert catalogue.version not in text
    assert not re.search(r"(?<![A-Za-z])[HML](?![A-Za-z])", text)
    assert "可信度高" in text
    assert "可信度中等" in text


def test_chinese_detail_page_glosses_each_english_source_title(client, catalogue):
    text = visible_text(detail(client, "mybank-contact-free-loans", "zh-hans"))
    assert (
        "China Banking News: MYbank and ACFIC launch contact-free loan plan"
        "（英文网站China Banking News：网商银行与全国工商联推出无接触贷款计划）"
    ) in text


def test_detail_says_a_closed_programme_closed_before_its_sources_check_date(
    client, catalogue
):
    text = visible_text(detail(client, "mybank-contact-free-loans", "zh-hans"))
    assert "已于2020-12-31（推测）截止" in text
    assert "资料核对日期" in text
    assert "最近核实" not in text
    assert text.index("已于2020-12-31（推测）截止") < text.index("资料核对日期")


def test_chinese_list_names_the_catalogue_by_its_date(client, catalogue):
    response = client.get(reverse(LIST_URL), headers={"accept-language": "zh-hans"})
    text = visible_text(response)
    assert "资料版本：2026-11-24" in text
    assert catalogue.version not in text
    assert "已于2020-12-31（推测）截止" in text


def test_chinese_catalogue_rules_read_as_chinese_sentences(client, catalogue):
    response = detail(client, "mybank-contact-free-loans", "zh-hans")
    html = response.content.decode()
    rules_html = html[html.index('id="rules-title"') : html.index('id="sources-title"')]
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", rules_html)).split())
    assert "企业规模需要是微型或小型。" in text
    assert "注册类型需要是个体工商户。" in text
    for code in ("individual_business", "street_stall", "micro", "CN-"):
        assert code not in text
