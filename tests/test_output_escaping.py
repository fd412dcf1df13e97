"""Stored text is always escaped on output: pages and PDFs.

Markup that a shop owner typed (city, contact name, email) or that staff
typed (a programme's name) is stored exactly as typed and comes back as
text: escaped in every page that shows it (the results page, the form, the
admin match report and lists, the staff screening result) and drawn as
text, never interpreted, in every PDF (ReportLab Paragraphs read markup).
Spreadsheet formulas in CSV and XLSX are neutralised: tests/staff/test_exports.py.
"""

from __future__ import annotations

import csv
import datetime
import io
from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape

from programs.models import BusinessProfile
from tests.builders import make_profile
from tests.factories import CriterionFactory, ProgrammeFactory, kept_profile
from tests.pdfs import pdf_text

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]

#: Breaks out of an attribute and a text node; none of it may reach a page raw.
PAYLOAD = '"><img src=x onerror=alert(1)><script>alert("rm")</script>'
RAW_MARKERS = ("<img src=x", "<script>alert(", "onerror=alert(1)>")
#: An email address Django accepts (a quoted local part) that is markup too.
EMAIL = '"><script>alert(2)</script>"@example.com'
#: ReportLab Paragraph markup: interpreted, it would vanish (<b>, <font>) or
#: raise (the unclosed <para>, the bare &).
PDF_MARKUP = "<b>bold</b> <font size=40>big</font> <para> & <br/>"

ANSWERS = {
    "business_type": "street_stall",
    "province": "CN-HB",
    "city": PAYLOAD,
    "employees": "1",
    "needs": ["financing"],
    "as_of": "2020-06-15",
}
AS_OF = datetime.date(2020, 6, 15)


def assert_escaped(html: str, text: str = PAYLOAD) -> None:
    for marker in RAW_MARKERS:
        assert marker not in html, marker
    assert escape(text) in html


def keep(client, **extra) -> str:
    response = client.post(
        reverse("programs:profile_form"), {**ANSWERS, "consent_store": "on", **extra}
    )
    assert response.status_code == HTTPStatus.FOUND
    return response["Location"].split("/")[2]


# -- pages a shop owner sees ----------------------------------------------------------------


def test_markup_in_city_and_email_is_kept_as_typed_and_shown_escaped_on_the_results_page(
    client,
):
    token = keep(client, email=EMAIL)
    row = BusinessProfile.objects.get()
    assert (row.city, row.email) == (PAYLOAD, EMAIL)
    html = client.get(reverse("programs:results", args=[token])).content.decode()
    assert_escaped(html)
    assert f'value="{escape(EMAIL)}"' in html  # the email-me-the-link form


def test_markup_in_answers_is_escaped_in_the_unkept_results_hidden_fields(client):
    response = client.post(reverse("programs:profile_form"), ANSWERS)
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert_escaped(html)
    assert f'name="city" value="{escape(PAYLOAD)}"' in html


def test_markup_in_a_kept_answer_is_escaped_in_the_edit_form(client):
    token = keep(client)
    html = client.get(reverse("programs:profile_edit", args=[token])).content.decode()
    assert_escaped(html)
    assert f'value="{escape(PAYLOAD)}"' in html


@pytest.mark.parametrize("name", ["business_type", "province", "needs", "as_of"])
def test_markup_echoed_in_an_error_message_is_escaped(client, name):
    response = client.post(reverse("programs:profile_form"), {**ANSWERS, name: PAYLOAD})
    assert response.status_code == HTTPStatus.OK
    assert_escaped(response.content.decode())


# -- staff pages ---------------------------------------------------------------------------------


@pytest.fixture
def marked_up_programme():
    """A programme whose names are markup, with one rule, and a kept result for it."""
    programme = ProgrammeFactory(
        slug="marked-up", name_en=PAYLOAD, name_zh_hans=PAYLOAD, needs=["financing"]
    )
    CriterionFactory(programme=programme, field="employees", operator="lte", value="20")
    kept_profile(
        make_profile(business_type="street_stall", employees=1, city=PAYLOAD),
        as_of=AS_OF,
        share_contact=True,
        email=EMAIL,
        contact_name=PAYLOAD,
    )
    return programme


@pytest.fixture
def superuser(client):
    client.force_login(User.objects.create_superuser("root", password="pw"))
    return client


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_match_report_escapes_programme_names_in_tables_and_charts(
    superuser, marked_up_programme, language
):
    response = superuser.get(
        reverse("admin:programs_match_report"), headers={"accept-language": language}
    )
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert_escaped(html)
    assert "<svg" in html  # the charts are there, with the name in them escaped too


def test_the_match_report_escapes_markup_in_its_filters(superuser, marked_up_programme):
    response = superuser.get(
        reverse("admin:programs_match_report"),
        {"programme": PAYLOAD, "province": PAYLOAD, "submitted_from": PAYLOAD},
    )
    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].errors
    assert_escaped(response.content.decode())


@pytest.mark.parametrize(
    "url",
    [
        reverse("admin:programs_storedresult_changelist"),
        reverse("admin:programs_businessprofile_changelist"),
        reverse("admin:programs_programme_changelist"),
        reverse("admin:programs_programme_impact"),
    ],
)
def test_admin_lists_escape_stored_markup(superuser, marked_up_programme, url):
    response = superuser.get(url)
    assert response.status_code == HTTPStatus.OK
    for marker in RAW_MARKERS:
        assert marker not in response.content.decode(), marker


def test_the_business_profile_admin_page_escapes_contact_details(
    superuser, marked_up_programme
):
    row = BusinessProfile.objects.get()
    response = superuser.get(
        reverse("admin:programs_businessprofile_change", args=[row.pk])
    )
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert_escaped(html)
    assert escape(EMAIL) in html


def screening_csv(rows: list[list[str]]) -> SimpleUploadedFile:
    fp = io.StringIO()
    csv.writer(fp).writerows(rows)
    return SimpleUploadedFile(
        "rows.csv", fp.getvalue().encode(), content_type="text/csv"
    )


def test_the_staff_screening_result_escapes_markup_from_the_file_and_the_catalogue(
    client, marked_up_programme
):
    user = User.objects.create_user("adviser", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_match_report"))
    client.force_login(user)
    upload = screening_csv(
        [
            ["business_type", "province", "needs", PAYLOAD],
            ["street_stall", "CN-HB", "financing", ""],
            [PAYLOAD, "CN-HB", f"financing;{PAYLOAD}", "x"],
        ]
    )
    response = client.post(reverse("screening"), {"file": upload, "action": "summary"})
    assert response.status_code == HTTPStatus.OK
    assert response.context["summary"].errors == 1
    html = response.content.decode()
    assert_escaped(
        html
    )  # the programme's name in the summary, the file's in the errors
    assert escape(f"{PAYLOAD}: ") in html  # the unknown column, named in its error


# -- PDFs -------------------------------------------------------------------------------------------


def flat(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_kept_pdf_report_draws_markup_as_text(client, language):
    programme = ProgrammeFactory(
        slug="pdf-markup",
        name_en=PDF_MARKUP,
        name_zh_hans=PDF_MARKUP,
        needs=["financing"],
    )
    CriterionFactory(programme=programme, field="employees", operator="lte", value="20")
    token = keep(client, city=PDF_MARKUP[:100])
    response = client.get(
        reverse("programs:report_kept", args=[token, "pdf"]),
        headers={"accept-language": language},
    )
    assert response.status_code == HTTPStatus.OK
    text = flat(pdf_text(response.content))
    assert text.count(flat(PDF_MARKUP)) >= 2  # the city and the programme's name


def test_the_unkept_pdf_report_draws_markup_as_text(client):
    response = client.post(
        reverse("programs:report_unsaved", args=["pdf"]),
        {**ANSWERS, "city": PDF_MARKUP},
    )
    assert response.status_code == HTTPStatus.OK
    assert flat(PDF_MARKUP) in flat(pdf_text(response.content))


def test_the_match_report_pdf_draws_programme_names_as_text(superuser):
    programme = ProgrammeFactory(
        slug="pdf-markup",
        name_en=PDF_MARKUP,
        name_zh_hans=PDF_MARKUP,
        needs=["financing"],
    )
    CriterionFactory(programme=programme, field="employees", operator="lte", value="20")
    kept_profile(make_profile(employees=1), as_of=AS_OF)
    response = superuser.get(
        reverse("admin:programs_match_report_export", args=["pdf"])
    )
    assert response.status_code == HTTPStatus.OK
    content = (
        b"".join(response.streaming_content) if response.streaming else response.content
    )
    assert flat(PDF_MARKUP) in flat(pdf_text(content))
