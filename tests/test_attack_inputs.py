"""What an attack run against the production set-up found, each answered plainly, never 500.

* the match report's submission dates far outside any real date;
* admin change lists given date-hierarchy years, dates and ids past the
  calendar's or the database's ends;
* a session cookie of NUL characters;
* programme texts of thousands of characters in the personal PDF, and the
  admin's warning about them;
* chunked request bodies, which Django would read as empty.
"""

from __future__ import annotations

import io
import re
from http import HTTPStatus

import pytest
from django.contrib import admin
from django.contrib.sessions.models import Session
from django.db import connection
from django.urls import reverse
from django.utils import timezone, translation
from pypdf import PdfReader

from programs.catalogue import loader
from programs.engine import matching
from programs.engine.text import Text
from programs.journey import personal_report
from programs.models import Criterion, Programme, StoredResult
from reliefmatch.sessions import SessionStore
from tests.builders import AS_OF, STALL, make_profile, make_programme, rule
from tests.factories import CriterionFactory, ProgrammeFactory, kept_profile
from tests.pdfs import pdf_text
from tests.test_admin import change_form_data

pytestmark = pytest.mark.django_db

REPORT = reverse("admin:programs_match_report")


def export_url(fmt: str) -> str:
    return reverse("admin:programs_match_report_export", args=[fmt])


def body_of(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# -- the match report's dates ----------------------------------------------------------------


@pytest.fixture
def report_data():
    loader.load_catalogue()
    kept_profile(
        make_profile(province="CN-HB", business_type="street_stall"), as_of=AS_OF
    )


@pytest.mark.parametrize(
    "query",
    [
        {"submitted_from": "9999-12-31"},
        {"submitted_to": "9999-12-31"},
        {"submitted_from": "0001-01-01"},
        {"submitted_to": "1999-12-31"},
        {"submitted_from": "2100-01-01", "submitted_to": "9999-12-31"},
    ],
)
def test_report_dates_out_of_range_are_refused_with_a_message_and_ignored(
    admin_client, report_data, query
):
    response = admin_client.get(REPORT, query, headers={"accept-language": "zh-hans"})

    assert response.status_code == HTTPStatus.OK
    errors = response.context["form"].errors
    assert set(errors) == set(query)
    for name in query:
        assert errors[name] == ["请输入2000-01-01至2099-12-31之间的日期。"]
    assert response.context["summary"].rows == StoredResult.objects.count()


def test_report_dates_at_the_ends_of_the_range_are_accepted(admin_client, report_data):
    response = admin_client.get(
        REPORT, {"submitted_from": "2000-01-01", "submitted_to": "2099-12-31"}
    )

    assert response.status_code == HTTPStatus.OK
    assert not response.context["form"].errors
    assert response.context["summary"].rows == StoredResult.objects.count()


@pytest.mark.parametrize(("fmt", "magic"), [("pdf", b"%PDF"), ("xlsx", b"PK")])
def test_report_exports_ignore_dates_out_of_range(
    admin_client, report_data, fmt, magic
):
    response = admin_client.get(
        export_url(fmt), {"submitted_from": "9999-12-31", "submitted_to": "9999-12-31"}
    )

    assert response.status_code == HTTPStatus.OK
    assert body_of(response).startswith(magic)


def test_the_csv_export_ignores_dates_out_of_range(admin_client, report_data):
    response = admin_client.get(
        export_url("csv"),
        {"submitted_from": "0001-01-01", "submitted_to": "9999-12-31"},
    )

    assert response.status_code == HTTPStatus.OK
    lines = body_of(response).decode("utf-8-sig").splitlines()
    assert len(lines) == 1 + StoredResult.objects.count()


# -- admin change lists ------------------------------------------------------------------------

DATE_HIERARCHIES = sorted(
    (model._meta.label, model_admin.date_hierarchy)
    for model, model_admin in admin.site._registry.items()
    if model_admin.date_hierarchy
)


def changelist(label: str) -> str:
    app_label, model = label.lower().split(".")
    return reverse(f"admin:{app_label}_{model}_changelist")


def test_the_stored_profiles_and_the_login_logs_have_a_date_hierarchy():
    labels = [label for label, _field in DATE_HIERARCHIES]
    assert "programs.BusinessProfile" in labels
    assert "axes.AccessAttempt" in labels


@pytest.mark.parametrize(("label", "field"), DATE_HIERARCHIES)
@pytest.mark.parametrize(
    "query",
    [
        "{field}__year=99999999999999999999",
        "{field}__year=9999",
        "{field}__year=9999&{field}__month=12",
        "{field}__year=9999&{field}__month=12&{field}__day=31",
        "id__in=99999999999999999999",
    ],
)
def test_a_change_list_filter_out_of_range_shows_the_whole_list_and_says_why(
    admin_client, label, field, query
):
    url = changelist(label)

    response = admin_client.get(f"{url}?{query.format(field=field)}", follow=True)

    assert response.status_code == HTTPStatus.OK
    assert response.redirect_chain == [(f"{url}?e=1", HTTPStatus.FOUND)]
    assert (
        response.context["cl"].result_count == response.context["cl"].full_result_count
    )
    assert messages_of(response) == [
        "A filter in the address could not be used (for example a date out of "
        "range or a field that does not exist), so the whole list is shown."
    ]


@pytest.mark.parametrize(("label", "field"), DATE_HIERARCHIES)
@pytest.mark.parametrize("query", ["{field}__year=1", "{field}__gte=0001-01-01"])
def test_the_calendars_first_day_filters_or_is_refused_by_database(
    admin_client, label, field, query
):
    # PostgreSQL stores it (in UTC it is a day before the calendar, "BC");
    # SQLite cannot, so there the list is shown whole with the message.
    url = changelist(label)

    response = admin_client.get(f"{url}?{query.format(field=field)}", follow=True)

    assert response.status_code == HTTPStatus.OK
    if connection.vendor == "postgresql":
        assert response.redirect_chain == []
        assert messages_of(response) == []
    else:
        assert response.redirect_chain == [(f"{url}?e=1", HTTPStatus.FOUND)]
        assert len(messages_of(response)) == 1


def test_the_date_hierarchy_still_filters_by_a_real_year(admin_client):
    kept_profile(make_profile(), as_of=AS_OF)
    year = timezone.localdate().year
    url = changelist("programs.BusinessProfile")

    this_year = admin_client.get(url, {"created_at__year": year})
    last_century = admin_client.get(url, {"created_at__year": 1999})

    assert this_year.context["cl"].result_count == 1
    assert last_century.context["cl"].result_count == 0


# -- a session cookie of NUL characters ---------------------------------------------------


NUL_COOKIE = 'sessionid="' + "\\000" * 32 + '"'


def test_a_session_cookie_of_nul_characters_is_no_session_on_the_admin(client):
    client.raise_request_exception = False

    index = client.get("/admin/", HTTP_COOKIE=NUL_COOKIE)
    login = client.get("/admin/login/", HTTP_COOKIE=NUL_COOKIE)

    assert index.status_code == HTTPStatus.FOUND
    assert index["Location"].startswith("/admin/login/")
    assert login.status_code == HTTPStatus.OK
    assert b'name="password"' in login.content


@pytest.mark.parametrize(
    "key",
    [
        "\x00" * 32,
        "ABCDEFGH" * 4,
        "a" * 41,
        "abc;1=1--",
        "日本語の鍵です日本語の鍵です",
    ],
)
def test_a_session_key_django_could_not_have_made_is_no_session(key):
    store = SessionStore(key)

    assert store.session_key is None
    assert store.load() == {}


def test_a_real_session_key_still_finds_its_session(admin_client):
    key = admin_client.cookies["sessionid"].value

    assert Session.objects.filter(session_key=key).exists()
    assert SessionStore(key).load()
    assert admin_client.get("/admin/").status_code == HTTPStatus.OK


# -- long programme texts in the personal PDF ---------------------------------------------


def long_text(language: str, end: str) -> str:
    """About 5,800 characters of sentences and paragraphs, ending with `end`."""
    sentence = (
        "Shops apply through the bank's app and get an answer within days. "
        if language == "en"
        else "商户通过银行的应用申请，几天内就能得到答复。"
    )
    body = "\n".join(sentence * 6 for _paragraph in range(200))[: 5800 - len(end)]
    return body + end


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_programme_text_of_5800_characters_flows_across_pages_in_full(language):
    programme = make_programme(
        "long",
        rule("province", "equals", "CN-ZJ"),
        name=Text("Long Programme", "很长的项目"),
        benefits=Text(long_text("en", "END-OF-BENEFITS"), long_text("zh", "福利结束")),
        apply_steps=Text(long_text("en", "END-OF-STEPS"), long_text("zh", "步骤结束")),
        needs={"financing"},
    )
    report = matching.match(make_profile(), [programme], as_of=AS_OF)

    with translation.override(language):
        pdf = personal_report.render_pdf(report)

    text = re.sub(r"\s", "", pdf_text(pdf))
    ends = (
        ("END-OF-BENEFITS", "END-OF-STEPS")
        if language == "en"
        else ("福利结束", "步骤结束")
    )
    for end in ends:
        assert end in text
    assert len(PdfReader(io.BytesIO(pdf)).pages) > 2


def test_a_matched_owners_pdf_with_a_long_programme_text_downloads(client):
    loader.load_catalogue()
    for programme in Programme.objects.all():
        programme.benefits_en = long_text("en", "END")
        programme.benefits_zh_hans = long_text("zh", "完")
        programme.save()

    response = client.post(reverse("programs:report_unsaved", args=["pdf"]), STALL)

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/pdf"
    assert "END" in re.sub(r"\s", "", pdf_text(response.content))


def test_the_admin_saves_a_long_programme_text_with_a_warning(admin_client):
    programme = ProgrammeFactory(slug="stall-loans")
    CriterionFactory(programme=programme)
    url = reverse("admin:programs_programme_change", args=[programme.pk])
    data = change_form_data(programme, explanation_zh_hans="很" * 2001)
    data["benefits_en"] = "x" * 5800

    response = admin_client.post(url, data, follow=True)

    assert response.status_code == HTTPStatus.OK
    programme.refresh_from_db()
    assert len(programme.benefits_en) == 5800
    warning = [m for m in messages_of(response) if "longer than 2,000" in m]
    assert warning == [
        "Saved, but these texts are longer than 2,000 characters: “what you get "
        "(English)” (5,800 characters), “explanation (Chinese)” of the criterion "
        "“Number of employees must be at most 20 people” (2,001 characters). Very "
        "long texts make the programme's "
        "page and the personal report of every business it matches long and hard to "
        "read (they print in full, across pages). Shorten them if you can."
    ]


def test_the_admin_saves_texts_within_the_limit_without_a_warning(admin_client):
    programme = ProgrammeFactory(slug="stall-loans")
    CriterionFactory(programme=programme)
    url = reverse("admin:programs_programme_change", args=[programme.pk])
    data = change_form_data(programme, explanation_en="y" * 2000)
    data["benefits_en"] = "x" * 2000

    response = admin_client.post(url, data, follow=True)

    assert not [m for m in messages_of(response) if "longer than" in m]
    assert Criterion.objects.get().explanation_en == "y" * 2000


# -- chunked request bodies ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_a_chunked_body_gets_411_and_is_not_read(client, method):
    response = getattr(client, method)(
        reverse("programs:profile_form"),
        "business_type=street_stall",
        content_type="application/x-www-form-urlencoded",
        HTTP_TRANSFER_ENCODING="chunked",
    )

    assert response.status_code == HTTPStatus.LENGTH_REQUIRED
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "Send it again with a Content-Length header" in response.content.decode()


def test_a_chunked_api_request_gets_411_as_json_in_chinese(client):
    response = client.post(
        "/api/v1/match",
        '{"business_type": "farm"}',
        content_type="application/json",
        headers={"transfer-encoding": "gzip, chunked", "accept-language": "zh-hans"},
    )

    assert response.status_code == HTTPStatus.LENGTH_REQUIRED
    assert "Content-Length" in response.json()["detail"]
    assert response["Content-Language"] == "zh-hans"


def test_a_get_with_a_transfer_encoding_header_is_served(client):
    response = client.get(
        reverse("programs:profile_form"), HTTP_TRANSFER_ENCODING="chunked"
    )

    assert response.status_code == HTTPStatus.OK


def test_a_body_with_its_length_is_still_read(client):
    response = client.post(reverse("programs:profile_form"), STALL)

    assert response.status_code == HTTPStatus.OK
    # The answers were read: the results, not the form again.
    assert "programs/results.html" in [t.name for t in response.templates]
