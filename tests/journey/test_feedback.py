"""An owner reports a result that looks wrong: the link on every card, the
report page, what is kept with and without consent, refusals and the limit."""

from __future__ import annotations

import datetime
import re
from http import HTTPStatus

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext

from programs.catalogue import store
from programs.engine import contract
from programs.journey import kept
from programs.models import BusinessProfile, WrongAnswerReport
from tests.builders import STALL, keep

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]

AS_OF = datetime.date(2020, 6, 15)


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def stall_results():
    """The stall's results as its page shows them, and the profile they are for."""
    profile = contract.parse_profile(
        {
            "business_type": "street_stall",
            "registration": "individual_business",
            "province": "CN-HB",
            "city": "武汉",
            "employees": 1,
            "annual_revenue_cny": 80000,
            "cash_runway_months": 0.5,
            "platforms": ["alipay_merchant"],
            "needs": ["financing", "stock_sourcing"],
        }
    )
    return store.run_match(profile=profile, as_of=AS_OF), profile


def cards(html: str) -> dict[str, str]:
    """Each results card's HTML, by programme slug."""
    found = re.findall(
        r'<article class="card[^"]*match-card[^"]*" id="p-([^"]+)".*?</article>',
        html,
        flags=re.S,
    )
    chunks = re.findall(r"<article .*?</article>", html, flags=re.S)
    assert len(found) == len(chunks)
    return dict(zip(found, chunks, strict=True))


def unsaved_url(slug: str) -> str:
    return reverse("programs:wrong_answer_unsaved", args=[slug])


def send(client, slug: str, sentence: str, *, consent: bool, **extra):
    data = {**STALL, "report-sentence": sentence}
    if consent:
        data["report-consent"] = "on"
    return client.post(unsaved_url(slug), data, **extra)


# -- the link on every card ------------------------------------------------------------


def test_every_card_of_unkept_results_posts_the_hidden_answers_to_its_report_page(
    client,
):
    html = client.post(reverse("programs:profile_form"), STALL).content.decode()
    found = cards(html)
    assert len(found) == len(stall_results()[0].matches)
    for slug, card in found.items():
        assert f'form="wrong-answer-form" formaction="{unsaved_url(slug)}"' in card, (
            slug
        )
        assert "Does this look wrong?" in card
    # One form carries the answers, posted: no answer in any address.
    form = re.search(
        r'<form method="post" id="wrong-answer-form"[^>]*>(.*?)</form>', html, re.S
    )
    assert form is not None
    assert '<input type="hidden" name="business_type" value="street_stall">' in (
        form.group(1)
    )
    assert 'name="csrfmiddlewaretoken"' in form.group(1)
    assert not re.search(r"/check/wrong/[^\"]*\?", html)


@pytest.mark.parametrize("served", ["first view", "from the cache"])
def test_every_card_of_kept_results_links_to_its_report_page(client, served):
    token = keep(client)
    url = reverse("programs:results", args=[token])
    client.get(url)
    if served == "first view":
        cache.clear()
    html = client.get(url).content.decode()
    found = cards(html)
    assert len(found) == len(stall_results()[0].matches)
    for slug, card in found.items():
        link = reverse("programs:wrong_answer_kept", args=[token, slug])
        assert f'href="{link}"' in card, slug
    assert "wrong-answer-form" not in html


def test_the_links_work_in_chinese_too(client):
    chinese = {"headers": {"accept-language": "zh-CN,zh;q=0.9"}}
    html = client.post(
        reverse("programs:profile_form"), STALL, **chinese
    ).content.decode()
    with translation.override("zh-hans"):
        label = gettext("Does this look wrong?")
    assert label != "Does this look wrong?"
    assert html.count(label) == len(cards(html))


# -- the report page ----------------------------------------------------------------------


def test_the_report_page_of_unkept_results_carries_the_answers_and_asks_a_sentence(
    client,
):
    report, _profile = stall_results()
    match = report.matches[0]
    response = client.post(unsaved_url(match.programme.slug), STALL)
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert escape(str(match.programme.name)) in html
    assert f"We showed: {match.tier.label}, as of 2020-06-15." in html
    assert 'name="report-sentence"' in html
    assert re.search(
        r'<input type="checkbox" name="report-consent"(?![^>]*checked)', html
    )
    assert '<input type="hidden" name="city" value="武汉">' in html
    assert WrongAnswerReport.objects.count() == 0


def test_a_report_with_consent_keeps_the_answers_date_catalogue_and_shown_result(
    client,
):
    report, profile = stall_results()
    match = report.matches[-1]
    slug = match.programme.slug
    response = send(
        client, slug, "  I do sell online,\r\nbut it says I don't.  ", consent=True
    )
    assert response.status_code == HTTPStatus.OK
    assert "Thank you for your report" in response.content.decode()
    row = WrongAnswerReport.objects.get()
    catalogue = store.current_catalogue()
    assert row.programme.slug == slug
    assert row.sentence == "I do sell online, but it says I don't."
    assert row.consented is True
    assert row.as_of == AS_OF
    assert row.catalogue_version == catalogue.version
    assert row.catalogue_edition == catalogue.edition
    assert row.profile == profile.to_dict()
    assert row.shown["tier"] == str(match.tier)
    assert row.shown["near_miss"] is match.near_miss
    assert row.shown["availability"] == str(match.availability)
    assert [r["text"] for r in row.shown["reasons"]] == [
        str(text) for c in match.conditions for _m, text, _c in c.lines
    ]
    assert row.kept_profile is None


def test_a_report_without_consent_keeps_no_answers(client):
    report, _profile = stall_results()
    slug = report.matches[0].programme.slug
    response = send(client, slug, "The deadline is wrong.", consent=False)
    assert response.status_code == HTTPStatus.OK
    assert "none of your answers" in response.content.decode()
    row = WrongAnswerReport.objects.get()
    assert (row.sentence, row.programme.slug, row.as_of) == (
        "The deadline is wrong.",
        slug,
        AS_OF,
    )
    assert row.catalogue_version == store.current_catalogue().version
    assert row.consented is False
    assert row.profile is None
    assert row.shown is None
    assert row.kept_profile is None
    assert "武汉" not in str(
        WrongAnswerReport.objects.filter(pk=row.pk).values().first()
    )


@pytest.mark.parametrize(
    ("sentence", "message"),
    [
        ("", "Say in a sentence what looks wrong."),
        ("  \r\n\t ", "Say in a sentence what looks wrong."),
        ("Wrong\x00tier", "Remove control characters."),
        ("\x1b[31mred", "Remove control characters."),
        ("x" * 1001, "Ensure this value has at most 1000 characters (it has 1001)."),
    ],
    ids=["empty", "only spaces and line breaks", "NUL", "escape", "too long"],
)
def test_an_empty_or_control_character_sentence_is_refused_and_nothing_is_kept(
    client, sentence, message
):
    slug = stall_results()[0].matches[0].programme.slug
    response = send(client, slug, sentence, consent=True)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    html = response.content.decode()
    assert message in html
    assert '<input type="hidden" name="business_type" value="street_stall">' in html
    assert WrongAnswerReport.objects.count() == 0


def test_the_refusal_is_in_the_visitors_language(client):
    slug = stall_results()[0].matches[0].programme.slug
    response = send(
        client,
        slug,
        "",
        consent=False,
        headers={"accept-language": "zh-CN,zh;q=0.9"},
    )
    with translation.override("zh-hans"):
        message = gettext("Say in a sentence what looks wrong.")
    assert message != "Say in a sentence what looks wrong."
    assert message in response.content.decode()


def test_an_unknown_programme_or_invalid_answers_keep_nothing(client):
    assert send(client, "no-such-programme", "Wrong.", consent=True).status_code == (
        HTTPStatus.NOT_FOUND
    )
    bad = client.post(
        unsaved_url(stall_results()[0].matches[0].programme.slug),
        {**STALL, "employees": "-4", "report-sentence": "Wrong."},
    )
    assert bad.status_code == HTTPStatus.BAD_REQUEST
    assert client.get(unsaved_url("any")).status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert WrongAnswerReport.objects.count() == 0


def test_the_thanks_page_is_in_the_visitors_language_with_a_way_back(client):
    slug = stall_results()[0].matches[0].programme.slug
    response = send(
        client,
        slug,
        "这个项目的截止日期不对。",
        consent=False,
        headers={"accept-language": "zh-CN,zh;q=0.9"},
    )
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html
    with translation.override("zh-hans"):
        assert gettext("Thank you for your report") in html
        assert gettext("Back to my results") in html
    back = re.search(
        rf'<form method="post" action="{reverse("programs:profile_form")}"[^>]*>(.*?)</form>',
        html,
        re.S,
    )
    assert back is not None
    assert '<input type="hidden" name="as_of" value="2020-06-15">' in back.group(1)
    assert WrongAnswerReport.objects.get().language == "zh-hans"


# -- kept results -------------------------------------------------------------------------


def test_a_report_on_kept_results_uses_the_kept_answers_and_goes_with_them(client):
    token = keep(client)
    row = BusinessProfile.objects.get()
    report, profile = stall_results()
    match = report.matches[1]
    url = reverse("programs:wrong_answer_kept", args=[token, match.programme.slug])
    page = client.get(url)
    assert page.status_code == HTTPStatus.OK
    assert f"We showed: {match.tier.label}" in page.content.decode()
    thanks = client.post(
        url, {"report-sentence": "I have a bank loan.", "report-consent": "on"}
    )
    assert thanks.status_code == HTTPStatus.OK
    results = reverse("programs:results", args=[token])
    assert f'href="{results}"' in thanks.content.decode()
    kept_report = WrongAnswerReport.objects.get()
    assert kept_report.kept_profile == row
    assert kept_report.profile == profile.to_dict()
    assert kept_report.as_of == AS_OF
    assert kept_report.shown["tier"] == str(match.tier)
    # Deleting my data deletes my report's copy of my answers too.
    client.post(reverse("programs:profile_delete", args=[token]))
    assert WrongAnswerReport.objects.count() == 0


def test_a_signed_link_works_and_an_unknown_link_or_programme_is_404(client):
    token = keep(client)
    row = BusinessProfile.objects.get()
    slug = stall_results()[0].matches[0].programme.slug
    signed = kept.signed_link_token(row)
    ok = client.get(reverse("programs:wrong_answer_kept", args=[signed, slug]))
    assert ok.status_code == HTTPStatus.OK
    for bad_token, bad_slug in [("x" * 43, slug), (token, "no-such-programme")]:
        url = reverse("programs:wrong_answer_kept", args=[bad_token, bad_slug])
        assert client.get(url).status_code == HTTPStatus.NOT_FOUND
        response = client.post(url, {"report-sentence": "Wrong."})
        assert response.status_code == HTTPStatus.NOT_FOUND
    assert WrongAnswerReport.objects.count() == 0


# -- the rate limit -------------------------------------------------------------------------


@override_settings(FORM_RATE_LIMIT="2/min")
@pytest.mark.parametrize("kind", ["unkept", "kept"])
def test_reports_over_the_form_limit_get_429_and_keep_nothing(client, kind):
    slug = stall_results()[0].matches[0].programme.slug
    if kind == "kept":
        with override_settings(FORM_RATE_LIMIT=""):
            token = keep(client)
        url = reverse("programs:wrong_answer_kept", args=[token, slug])
        data = {"report-sentence": "Wrong."}
    else:
        url, data = unsaved_url(slug), {**STALL, "report-sentence": "Wrong."}
    for _ in range(2):
        assert client.post(url, data).status_code == HTTPStatus.OK
    refused = client.post(url, data)
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert WrongAnswerReport.objects.count() == 2
