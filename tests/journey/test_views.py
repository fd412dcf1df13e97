"""The shop owner's journey through the test client: form, results, keeping, link, deletion."""

from __future__ import annotations

import re
from http import HTTPStatus

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from programs.catalogue import store
from programs.engine import contract
from programs.journey import kept
from programs.models import BusinessProfile, StoredResult
from tests.builders import STALL, keep

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]


def test_form_asks_the_contract_fields_in_four_sections(client):
    html = client.get(reverse("programs:profile_form") + "?all=1").content.decode()
    for name in (
        "business_type",
        "province",
        "employees",
        "cash_runway_months",
        "cash_on_hand_cny",
        "platforms",
        "needs",
    ):
        assert f'name="{name}"' in html, name
    for legend in (
        "Your business",
        "Size and money",
        "Exports and online sales",
        "What you need",
    ):
        assert legend in html
    assert "asteriskField" in html  # required fields are marked


def test_invalid_answers_show_errors_by_field_and_in_a_summary_and_store_nothing(
    client,
):
    response = client.post(
        reverse("programs:profile_form"),
        {
            "business_type": "castle",
            "employees": "-3",
            "cash_runway_months": "NaN",
            "consent_store": "on",
            "city": "武汉",
        },
    )
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert 'id="error-summary"' in html
    assert 'href="#id_province"' in html
    assert 'href="#id_needs_0"' in html  # the first checkbox of the group
    assert 'href="#id_employees"' in html
    assert "Enter 0 or more." in html
    assert 'value="武汉"' in html  # answers kept when redisplayed
    assert BusinessProfile.objects.count() == 0


def test_none_and_some_platforms_together_is_an_error(client):
    response = client.post(
        reverse("programs:profile_form"), {**STALL, "platforms": ["none", "taobao"]}
    )
    assert response.status_code == HTTPStatus.OK
    assert "not both" in response.content.decode()


def test_results_without_consent_are_shown_and_nothing_is_stored(client):
    response = client.post(reverse("programs:profile_form"), STALL)
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert "Programmes for your business" in html
    assert "You have cash for a month or less." in html  # critical urgency banner
    assert "14%" in html
    sections = response.context["sections"]
    assert [c["match"].programme.slug for c in sections["for_needs"]][
        0
    ] == "mybank-contact-free-loans"
    assert BusinessProfile.objects.count() == 0
    assert StoredResult.objects.count() == 0


def test_consent_keeps_profile_and_results_with_notice_version_and_private_link(client):
    token = keep(client)
    assert len(token) >= 43  # 32 random bytes: 256 bits
    row = BusinessProfile.objects.get()
    assert row.token_hash == kept.token_digest(token)
    assert token not in row.token_hash
    assert row.consent_notice_version == settings.PRIVACY_NOTICE_VERSION
    assert row.consented_at is not None
    assert row.share_contact_consented_at is None
    assert row.contact_phone == ""
    stored = StoredResult.objects.filter(profile=row)
    assert stored.count() == 16
    first = stored.get(rank=1)
    assert first.programme.slug == "mybank-contact-free-loans"
    assert first.as_of.isoformat() == "2020-06-15"
    assert first.catalogue_version == store.current_catalogue().version


def test_sharing_contact_details_needs_its_own_consent_and_keeping(client):
    response = client.post(
        reverse("programs:profile_form"),
        {**STALL, "consent_share_contact": "on", "contact_phone": "138 0000 0000"},
    )
    assert response.status_code == HTTPStatus.OK
    assert "tick “Keep my answers” too" in response.content.decode()
    assert BusinessProfile.objects.count() == 0

    keep(
        client,
        consent_share_contact="on",
        contact_phone="138 0000 0000",
        contact_name="Li",
    )
    row = BusinessProfile.objects.get()
    assert row.share_contact_consented_at is not None
    assert row.contact_phone == "138 0000 0000"


def test_private_link_shows_results_again(client):
    token = keep(client)
    response = client.get(reverse("programs:results", args=[token]))
    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"].startswith("max-age=0")
    assert "Delete my data" in response.content.decode()


@pytest.mark.parametrize(
    "token", ["x" * 43, "short", "../../etc/passwd" + "a" * 30, "%00" * 20]
)
def test_unknown_or_malformed_link_is_404(client, token):
    keep(client)
    assert client.get(f"/r/{token}/").status_code == HTTPStatus.NOT_FOUND


def test_answering_a_question_in_place_updates_the_kept_profile(client):
    token = keep(client)
    page = client.get(reverse("programs:results", args=[token]))
    asked = [field.name for field, _n in page.context["next_questions"]]
    assert "has_bank_loan" in asked
    response = client.post(
        reverse("programs:answer_questions", args=[token]), {"has_bank_loan": "yes"}
    )
    assert response.status_code == HTTPStatus.FOUND
    row = BusinessProfile.objects.get()
    assert row.has_bank_loan is True
    assert row.employees == 1  # other answers unchanged
    page = client.get(reverse("programs:results", args=[token]))
    asked = [field.name for field, _n in page.context["next_questions"]]
    assert "bank_credit_cny" in asked  # the deferral's other open question
    client.post(
        reverse("programs:answer_questions", args=[token]),
        {"bank_credit_cny": "300000"},
    )
    row.refresh_from_db()
    assert row.bank_credit_cny == 300000
    page = client.get(reverse("programs:results", args=[token]))
    also = page.context["sections"]["also"]
    deferral = next(c for c in also if c["match"].programme.slug == "gov-loan-deferral")
    assert deferral["match"].tier == "eligible"
    assert (
        StoredResult.objects.get(
            profile=row, programme__slug="gov-loan-deferral"
        ).outcome
        == "eligible"
    )


def test_answering_a_set_question_in_place_keeps_every_choice(client):
    token = keep(client, platforms=[])
    assert BusinessProfile.objects.get().platforms_mask is None  # not answered yet
    response = client.post(
        reverse("programs:answer_questions", args=[token]),
        {"platforms": ["taobao", "meituan"]},
    )
    assert response.status_code == HTTPStatus.FOUND
    row = BusinessProfile.objects.get()
    assert contract.from_columns(row).platforms == frozenset({"taobao", "meituan"})


def test_answering_in_place_without_keeping_reposts_the_answers(client):
    response = client.post(reverse("programs:profile_form"), STALL)
    data = {}
    for name, value in response.context["question_answers"]:
        data.setdefault(name, []).append(value)
    data["has_bank_loan"] = "yes"
    data["bank_credit_cny"] = "300000"
    again = client.post(reverse("programs:profile_form"), data)
    assert again.status_code == HTTPStatus.OK
    [deferral] = [
        c
        for c in again.context["sections"]["also"]
        if c["match"].programme.slug == "gov-loan-deferral"
    ]
    assert deferral["match"].tier == "eligible"
    assert BusinessProfile.objects.count() == 0


def test_editing_answers_through_the_link_rematches(client):
    token = keep(client)
    form = client.get(reverse("programs:profile_edit", args=[token]))
    assert form.status_code == HTTPStatus.OK
    assert 'value="武汉"' in form.content.decode()
    response = client.post(
        reverse("programs:profile_edit", args=[token]),
        {**STALL, "business_type": "tech_company", "needs": ["cloud_it"]},
    )
    assert response.status_code == HTTPStatus.FOUND
    row = BusinessProfile.objects.get()
    assert row.business_type == "tech_company"
    assert (
        StoredResult.objects.get(
            profile=row, programme__slug="alibaba-cloud-partner-support"
        ).outcome
        == "possibly_eligible"
    )


def test_link_can_be_emailed_in_the_owners_language(client):
    token = keep(client, email="owner@example.com")
    assert len(mail.outbox) == 1
    assert token in mail.outbox[0].body
    assert mail.outbox[0].to == ["owner@example.com"]
    BusinessProfile.objects.update(language="zh-hans")
    client.post(
        reverse("programs:email_link", args=[token]), {"email": "other@example.com"}
    )
    assert len(mail.outbox) == 2
    message = mail.outbox[1]
    assert message.to == ["other@example.com"]
    assert token in message.body
    assert message.alternatives[0].mimetype == "text/html"
    assert "ReliefMatch" in message.subject


def test_mail_failure_keeps_the_results_and_says_so(client, monkeypatch):
    import smtplib

    def refuse(**kwargs):
        raise smtplib.SMTPConnectError(421, "try later")

    monkeypatch.setattr(kept, "send_link_email", refuse)
    response = client.post(
        reverse("programs:profile_form"),
        {**STALL, "consent_store": "on", "email": "owner@example.com"},
        follow=True,
    )
    assert response.status_code == HTTPStatus.OK
    assert "We could not send the email just now." in response.content.decode()
    assert BusinessProfile.objects.count() == 1


def test_email_is_not_kept_without_consent(client):
    client.post(
        reverse("programs:profile_form"), {**STALL, "email": "owner@example.com"}
    )
    assert BusinessProfile.objects.count() == 0
    assert mail.outbox == []


def test_delete_my_data_removes_profile_results_and_link_for_good(client):
    token = keep(client)
    confirm = client.get(reverse("programs:profile_delete", args=[token]))
    assert confirm.status_code == HTTPStatus.OK
    response = client.post(reverse("programs:profile_delete", args=[token]))
    assert response.status_code == HTTPStatus.OK
    assert BusinessProfile.objects.count() == 0
    assert StoredResult.objects.count() == 0
    assert (
        client.get(reverse("programs:results", args=[token])).status_code
        == HTTPStatus.NOT_FOUND
    )


def test_one_owners_link_never_opens_anothers_profile(client):
    first = keep(client)
    second = keep(client, city="Shanghai")
    assert first != second
    page = client.get(reverse("programs:results", args=[first]))
    assert page.context["row"].city == "武汉"
    client.post(reverse("programs:profile_delete", args=[first]))
    assert BusinessProfile.objects.get().city == "Shanghai"


def test_kept_report_downloads_as_pdf_and_csv(client):
    token = keep(client)
    pdf = client.get(reverse("programs:report_kept", args=[token, "pdf"]))
    assert pdf.status_code == HTTPStatus.OK
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    csv = client.get(reverse("programs:report_kept", args=[token, "csv"]))
    assert csv["Content-Type"].startswith("text/csv")
    text = csv.content.decode("utf-8-sig")
    assert "mybank" in text.lower() or "MYbank" in text
    assert (
        client.get(reverse("programs:report_kept", args=[token, "exe"])).status_code
        == HTTPStatus.NOT_FOUND
    )


def test_unsaved_report_is_built_from_reposted_answers(client):
    response = client.post(reverse("programs:report_unsaved", args=["csv"]), STALL)
    assert response.status_code == HTTPStatus.OK
    assert "attachment" in response["Content-Disposition"]
    bad = client.post(
        reverse("programs:report_unsaved", args=["csv"]), {"business_type": "castle"}
    )
    assert bad.status_code == HTTPStatus.BAD_REQUEST


def test_results_page_in_chinese(client):
    response = client.post(
        reverse("programs:profile_form"), STALL, headers={"accept-language": "zh-CN"}
    )
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html
    assert "无接触贷款助微计划" in html
    assert "网商银行" in html


def test_results_page_query_count_does_not_grow_with_programmes(
    client, django_assert_max_num_queries
):
    token = keep(client)
    with django_assert_max_num_queries(6):
        client.get(reverse("programs:results", args=[token]))


def test_an_edit_racing_with_deletion_gives_404_and_never_recreates_the_profile(
    client, monkeypatch
):
    token = keep(client)
    row = BusinessProfile.objects.get()
    found = kept.profile_by_token(token)

    def deleted_meanwhile(token):
        BusinessProfile.objects.filter(
            pk=row.pk
        ).delete()  # purged between read and save
        return found

    monkeypatch.setattr(kept, "profile_by_token", deleted_meanwhile)
    response = client.post(
        reverse("programs:profile_edit", args=[token]), {**STALL, "employees": "3"}
    )
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert not BusinessProfile.objects.exists()
    assert not StoredResult.objects.exists()


# -- the results page: sections, headline, date ------------------------------------------


def headline_counts(html: str) -> dict[str, int]:
    return {
        section: int(count)
        for section, count in re.findall(
            r'class="headline-count" data-section="(\w+)" data-count="(\d+)"', html
        )
    }


def test_the_headline_counts_are_exactly_the_sections_counts(client):
    response = client.post(reverse("programs:profile_form"), STALL)
    sections = response.context["sections"]
    counts = headline_counts(response.content.decode())
    assert counts == {name: len(sections[name]) for name in counts}
    # "For what you need" is always counted; the others when they have cards.
    assert set(counts) == {"for_needs"} | {
        name for name in ("also", "near_miss") if sections[name]
    }
    # Each card is in exactly one section, whatever its tier or date.
    placed = [c["match"].programme.slug for cards in sections.values() for c in cards]
    assert sorted(placed) == sorted(
        m.programme.slug for m in response.context["report"].matches
    )


def test_programmes_for_a_stated_need_come_before_the_questions_and_the_rest(client):
    html = client.post(reverse("programs:profile_form"), STALL).content.decode()
    order = [
        html.index('id="for_needs-title"'),
        html.index('id="questions-title"'),
        html.index('id="also-title"'),
        html.index('id="rest-title"'),
    ]
    assert order == sorted(order)


def test_the_page_asks_at_most_three_questions_and_says_what_each_settles(client):
    response = client.post(reverse("programs:profile_form"), STALL)
    asked = response.context["next_questions"]
    assert 1 <= len(asked) <= 3
    names = [field.name for field, _n in asked]
    # Saying whether it exports settles both Spring Thunder arms: never asked twice.
    assert not {"export_share_pct", "export_markets"} <= set(names)
    assert "Settles 2 programmes." in response.content.decode()


def test_with_nothing_open_on_the_date_the_page_says_so_once_and_offers_2020(client):
    response = client.post(
        reverse("programs:profile_form"), {**STALL, "as_of": "2026-12-02"}
    )
    html = response.content.decode()
    assert response.context["nothing_open"] is True
    assert html.count("No programme is open on 2026-12-02.") == 1
    assert headline_counts(html) == {"for_needs": 0}
    # One tap: the same answers as of 15 June 2020, when they ran.
    data: dict[str, list[str]] = {}
    for name, value in response.context["date_answers"]:
        data.setdefault(name, []).append(value)
    data["as_of"] = ["2020-06-15"]
    again = client.post(reverse("programs:profile_form"), data)
    assert again.context["nothing_open"] is False
    assert headline_counts(again.content.decode())["for_needs"] >= 2
    assert BusinessProfile.objects.count() == 0


def test_changing_the_date_of_a_kept_profile_keeps_every_other_answer(client):
    token = keep(client)
    response = client.post(
        reverse("programs:answer_questions", args=[token]), {"as_of": "2026-12-02"}
    )
    assert response.status_code == HTTPStatus.FOUND
    row = BusinessProfile.objects.get()
    assert row.as_of.isoformat() == "2026-12-02"
    assert (row.business_type, row.employees) == ("street_stall", 1)
    page = client.get(reverse("programs:results", args=[token]))
    assert page.context["nothing_open"] is True


def test_a_fitting_card_shows_no_failed_condition(client):
    html = client.post(reverse("programs:profile_form"), STALL).content.decode()
    start = html.index('id="p-mybank-contact-free-loans"')
    card = html[start : html.index("</article>", start)]
    assert "mark-not_met" not in card
    assert "Any one of these is enough:" in card


# -- the first step ---------------------------------------------------------------------


def asked_names(html: str) -> set[str]:
    return set(re.findall(r'<(?:input|select)[^>]*name="(\w+)"', html)) - {
        "csrfmiddlewaretoken",
        "language",
        "next",
        "step",
    }


def test_the_first_step_asks_only_what_most_changes_the_answer(client):
    html = client.get(reverse("programs:profile_form")).content.decode()
    helpers = {name for names in contract.HELPERS.values() for name in names}
    assert asked_names(html) == set(contract.FIRST_STEP) | helpers
    # Cash and costs sit folded under the runway question, for owners unsure of it.
    assert html.index('name="cash_runway_months"') < html.index("<details")
    assert html.index("<details") < html.index('name="cash_on_hand_cny"')
    assert "?all=1" in html  # every question stays one tap away


def test_every_question_is_asked_at_once_on_request(client):
    html = client.get(reverse("programs:profile_form") + "?all=1").content.decode()
    assert set(contract.PROFILE_FIELDS) <= asked_names(html)
    assert 'name="consent_store"' in html


def test_the_first_step_shows_results_without_keeping_anything(client):
    first = {
        "step": "first",
        "business_type": "street_stall",
        "province": "CN-HB",
        "needs": ["financing"],
        "cash_runway_months": "1",
    }
    response = client.post(reverse("programs:profile_form"), first)
    assert response.status_code == HTTPStatus.OK
    assert response.context["report"].profile.cash_runway_months == 1
    assert BusinessProfile.objects.count() == 0


def test_a_mistake_in_the_first_step_is_shown_on_the_first_step(client):
    response = client.post(
        reverse("programs:profile_form"),
        {"step": "first", "business_type": "street_stall", "employees": "-1"},
    )
    html = response.content.decode()
    assert asked_names(html) >= {"business_type", "needs"}
    assert 'name="annual_revenue_cny"' not in html
    assert response.context["form"].errors.keys() >= {"province", "needs", "employees"}


def test_answers_not_kept_open_in_the_full_form_filled_in(client):
    answers = {**STALL, "edit": "1"}
    html = client.post(reverse("programs:profile_form"), answers).content.decode()
    assert 'name="annual_revenue_cny"' in html
    assert 'value="80000"' in html
    assert 'name="consent_store"' in html
    assert BusinessProfile.objects.count() == 0


def test_results_not_kept_offer_to_keep_them_with_the_same_answers(client):
    response = client.post(reverse("programs:profile_form"), STALL)
    html = response.content.decode()
    assert 'id="keep-form-title"' in html
    data: dict[str, list[str]] = {}
    for name, value in response.context["hidden_answers"]:
        data.setdefault(name, []).append(value)
    kept = client.post(
        reverse("programs:profile_form"), {**data, "consent_store": "on"}
    )
    assert kept.status_code == HTTPStatus.FOUND
    row = BusinessProfile.objects.get()
    assert contract.from_columns(row) == response.context["report"].profile
