"""The staff screening page: access, template CSV, summary, result download, bad files."""

from __future__ import annotations

import csv
import datetime
import io
from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from programs.api import screening
from programs.engine import contract

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]

PAGE = reverse("screening")
TEMPLATE = reverse("screening_template")
AS_OF = "2020-06-15"

MIXED = (
    b"business_type,province,employees,needs,platforms\n"
    b"street_stall,CN-HB,1,financing;stock_sourcing,alipay_merchant\n"
    b"castle,CN-HB,-1,financing,\n"
    b"restaurant,CN-SH,,rent_relief,meituan\n"
    b"=cmd,CN-HB,1,financing,\n"
)


def make_staff(username: str, *, perm: bool = True) -> User:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    if perm:
        user.user_permissions.add(Permission.objects.get(codename="view_match_report"))
    return user


@pytest.fixture
def adviser(client):
    client.force_login(make_staff("adviser"))
    return client


def upload(content: bytes, name: str = "stalls.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def post(client, content: bytes | None, action: str = "summary", **extra):
    data = {"as_of": AS_OF, "action": action, **extra}
    if content is not None:
        data["file"] = upload(content)
    return client.post(PAGE, data)


def read_csv(response) -> list[list[str]]:
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


# -- access ---------------------------------------------------------------------------


@pytest.mark.parametrize("url", [PAGE, TEMPLATE])
def test_anonymous_visitors_are_sent_to_the_admin_login(client, url):
    response = client.get(url)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("admin:login"))


def test_signed_in_users_who_are_not_staff_are_sent_to_the_admin_login(client):
    client.force_login(User.objects.create_user("shopper", password="pw"))
    response = client.get(PAGE)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("url", [PAGE, TEMPLATE])
def test_staff_without_the_permission_are_refused(client, url):
    client.force_login(make_staff("clerk", perm=False))
    assert client.get(url).status_code == HTTPStatus.FORBIDDEN
    response = client.post(url, {"file": upload(MIXED), "action": "download"})
    assert response.status_code == HTTPStatus.FORBIDDEN


def test_admin_index_links_to_the_page_only_for_permitted_staff(client):
    client.force_login(make_staff("clerk", perm=False))
    assert PAGE not in client.get(reverse("admin:index")).content.decode()
    client.force_login(make_staff("adviser"))
    assert PAGE in client.get(reverse("admin:index")).content.decode()


# -- the form and the template --------------------------------------------------------


def test_page_offers_the_form_the_template_and_the_columns(adviser):
    response = adviser.get(PAGE)
    assert response.status_code == HTTPStatus.OK
    assert response.context["summary"] is None
    assert set(response.context["form"].fields) == {"file", "as_of"}
    assert [c["name"] for c in response.context["columns"]] == list(
        contract.PROFILE_FIELDS
    )
    page = response.content.decode()
    assert f'href="{TEMPLATE}"' in page
    assert 'name="action" value="summary"' in page
    assert 'name="action" value="download"' in page
    assert 'enctype="multipart/form-data"' in page


def test_template_csv_parses_and_its_example_screens_without_errors(adviser):
    response = adviser.get(TEMPLATE)
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    header, example, *rest = read_csv(response)
    assert rest == []
    assert header == list(contract.PROFILE_FIELDS)
    assert len(example) == len(header)

    rows, problem = screening.read_screening_csv(upload(response.content))
    assert problem == ""
    result = screening.screen(rows, datetime.date(2020, 6, 15))
    assert result["errors"] == 0
    [row] = result["results"]
    assert "errors" not in row
    assert row["results"]  # every programme has an answer for it


def test_template_helper_writes_sets_with_semicolons():
    header, example = csv.reader(io.StringIO(screening.template_csv()))
    cells = dict(zip(header, example, strict=True))
    assert cells["needs"] == "financing;rent_relief"
    assert cells["platforms"] == "alipay_merchant;wechat_pay_merchant"


# -- summary and download -------------------------------------------------------------


def test_summary_counts_rows_errors_and_outcomes_per_programme(adviser):
    response = post(adviser, MIXED)
    assert response.status_code == HTTPStatus.OK
    assert "Content-Disposition" not in response
    summary = response.context["summary"]
    assert summary.rows == 4
    assert summary.errors == 2
    assert summary.screened == 2
    assert summary.as_of == AS_OF
    per_programme = {slug: counts for slug, _name, counts in summary.per_programme}
    assert len(per_programme) == 16
    assert per_programme["jd-spark"]["eligible"] >= 1
    assert per_programme["mybank-contact-free-loans"]["eligible"] >= 1
    for counts in per_programme.values():
        assert set(counts) == {"eligible", "possibly_eligible", "near_miss"}
        assert sum(counts.values()) <= 2
    error_rows = dict(response.context["error_rows"])
    assert set(error_rows) == {2, 4}
    assert "business_type:" in error_rows[2]
    assert "employees:" in error_rows[2]
    page = response.content.decode()
    assert 'id="screening-summary"' in page
    # The date stays; the file must be chosen again to download.
    assert response.context["form"].initial["as_of"] == datetime.date(2020, 6, 15)


def test_download_gives_one_line_per_row_with_tiers_and_errors(adviser):
    response = post(adviser, MIXED, action="download")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    stamp = timezone.localdate().strftime("%Y%m%d")
    assert response["Content-Disposition"] == (
        f'attachment; filename="reliefmatch-screening-{stamp}.csv"'
    )
    header, *lines = read_csv(response)
    assert header[:3] == ["Row", "Size class", "Urgency"]
    assert header[-1] == "Errors"
    slugs = header[3:-1]
    assert len(slugs) == 16
    assert slugs == sorted(slugs)
    rows = [dict(zip(header, line, strict=True)) for line in lines]
    assert [r["Row"] for r in rows] == ["1", "2", "3", "4"]

    good, bad, restaurant, formula = rows
    assert good["jd-spark"] == "eligible"
    assert good["mybank-contact-free-loans"] == "eligible"
    assert good["Size class"] == "micro"
    assert good["Errors"] == ""
    assert all(
        good[slug] in {"eligible", "possibly_eligible", "near_miss", "not_eligible"}
        for slug in slugs
    )
    assert restaurant["Errors"] == ""

    assert all(bad[slug] == "" for slug in slugs)
    assert bad["Size class"] == ""
    problems = dict(part.split(": ", 1) for part in bad["Errors"].split("; "))
    assert set(problems) == {"business_type", "employees"}
    assert problems["employees"] == "Enter 0 or more."
    assert formula["Errors"] == "business_type: Choose from the list."


def test_result_cells_that_look_like_formulas_are_neutralised():
    result = {
        "as_of": AS_OF,
        "catalogue_version": "x",
        "rows": 1,
        "errors": 0,
        "results": [
            {
                "row": 1,
                "derived": {"size_class": "=1+1", "urgency": None},
                "results": {"@slug": {"tier": "-eligible"}},
            }
        ],
    }
    fp = io.StringIO()
    assert screening.write_result_csv(result, fp) == 1
    header, line = csv.reader(io.StringIO(fp.getvalue()))
    assert header[3] == "'@slug"
    assert line == ["1", "'=1+1", "", "'-eligible", ""]


def test_download_action_also_works_as_a_download_field(adviser):
    response = post(adviser, MIXED, action="", download="1")
    assert "attachment" in response["Content-Disposition"]


# -- bad files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "Choose a CSV file to screen."),
        (b"", "The file is empty."),
        (b"business_type,province,needs\n", "The file has no rows."),
        (
            b"\x80\xffbusiness_type",
            "The file could not be read as text; the encodings tried were UTF-8, "
            "GB18030 (GBK), UTF-16. Save it from Excel as “CSV UTF-8” and upload it again.",
        ),
        (
            b"business_type,province,needs\n"
            + b"street_stall,CN-HB,financing\n"
            * (screening.MAX_QUEUED_SCREENING_ROWS + 1),
            "At most 20000 rows at once.",
        ),
    ],
    ids=["no file", "empty", "no rows", "no encoding fits", "too many rows"],
)
@pytest.mark.parametrize("action", ["summary", "download"])
def test_bad_files_are_refused_on_the_form(adviser, content, message, action):
    response = post(adviser, content, action=action)
    assert response.status_code == HTTPStatus.OK
    assert "Content-Disposition" not in response
    assert response.context["summary"] is None
    assert response.context["form"].errors["file"] == [message]
    assert message in response.content.decode()


def test_a_gbk_file_from_excel_on_chinese_windows_is_screened(adviser):
    gbk = "business_type,province,city,needs\r\nstreet_stall,CN-SC,成都,financing\r\n"
    response = post(adviser, gbk.encode("gbk"))
    assert response.status_code == HTTPStatus.OK
    assert response.context["summary"].rows == 1
    assert response.context["summary"].errors == 0


def test_files_over_two_megabytes_are_refused(adviser):
    big = b"business_type,province,needs\n" + b"#" * (2 * 1024 * 1024)
    response = post(adviser, big, action="download")
    assert response.status_code == HTTPStatus.OK
    assert "Content-Disposition" not in response
    assert response.context["form"].errors["file"] == ["The file is larger than 2 MB."]


def test_an_invalid_date_is_refused(adviser):
    response = post(adviser, MIXED, as_of="15/06/2020")
    assert response.status_code == HTTPStatus.OK
    assert response.context["summary"] is None
    assert "as_of" in response.context["form"].errors
