"""Exports of the staff match report: CSV, XLSX, PDF summary, charts, the command."""

from __future__ import annotations

import csv
import datetime
import io
import re
import zipfile
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from django.db import connection
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone, translation
from openpyxl import load_workbook

from programs.catalogue import loader
from programs.cells import FORMULA_PREFIXES
from programs.models import BusinessProfile, Programme, Provider, StoredResult
from programs.staff import charts, exports, match_report
from tests.builders import make_profile
from tests.factories import kept_profile
from tests.pdfs import assert_only_embedded_cjk_font, pdf_text

pytestmark = pytest.mark.django_db

AS_OF = datetime.date(2020, 6, 15)
PROGRAMMES = 16
FORMULA_CITY = '=HYPERLINK("http://evil.example/","click")'
ENGLISH_HEADINGS = [
    "Submitted at",
    "Profile",
    "Programme",
    "Programme name",
    "Provider",
    "Result",
    "Availability",
    "Score",
    "As of",
    "Catalogue version",
    "Type of business",
    "Province",
    "City",
    "Employees",
    "Annual revenue (CNY)",
    "Size class",
    "Months of cash runway",
    "Urgency",
    "Contact name",
    "Contact email",
    "Contact phone",
]
CONTACTS = ("Contact name", "Contact email", "Contact phone")
TIER_LABELS = {"eligible", "possibly eligible", "near miss", "not eligible"}


def keep(profile, **consent):
    return kept_profile(profile, as_of=AS_OF, **consent)


@pytest.fixture
def data():
    loader.load_catalogue()
    sharing = keep(
        make_profile(
            business_type="street_stall",
            employees=1,
            province="CN-HB",
            city="Wuhan",
            cash_runway_months=0.5,
            needs={"stock_sourcing", "financing"},
        ),
        share_contact=True,
        email="stall@example.com",
        contact_name="Li Wei",
        contact_phone="13800000000",
    )
    private = keep(
        make_profile(
            business_type="convenience_store",
            employees=2,
            province="CN-GD",
            city=FORMULA_CITY,
            needs={"stock_sourcing"},
        ),
        email="private@example.com",
    )
    restaurant = keep(
        make_profile(
            business_type="restaurant",
            employees=20,
            annual_revenue_cny=2_000_000,
            province="CN-SH",
            cash_runway_months=4,
            platforms={"meituan"},
            needs={"fee_relief"},
        ),
    )
    return {"sharing": sharing, "private": private, "restaurant": restaurant}


@pytest.fixture
def analyst():
    user = User.objects.create_user("analyst", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_match_report"))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def tricky(data):
    """Text a spreadsheet would run, CSV's special characters, Chinese, NULL and ""."""
    sharing, private, restaurant = data["sharing"], data["private"], data["restaurant"]
    profiles = BusinessProfile.objects
    profiles.filter(pk=sharing.pk).update(
        city="\tTabbed",
        contact_name="=1+1",
        email="@mention",
        contact_phone="+8613800000000",
        # 00:05 on 15 June in Shanghai: the local date is a day on.
        created_at=datetime.datetime(2020, 6, 14, 16, 5, 59, tzinfo=datetime.UTC),
        annual_revenue_cny=Decimal("0"),
        runway_months=Decimal("1.50"),
    )
    profiles.filter(pk=private.pk).update(city='Wuhan, "Hubei"', urgency="")
    profiles.filter(pk=restaurant.pk).update(
        city="\rCR first",
        share_contact_consented_at=timezone.now(),
        contact_name="李伟\n第二行",
        email="",
        contact_phone="-5",
    )
    fourth = keep(
        make_profile(business_type="farm", employees=3, province="CN-HB"),
        share_contact=True,
        email="x@example.com",
        contact_name="n",
        contact_phone="1",
    )
    profiles.filter(pk=fourth.pk).update(
        business_type="zz-unknown",
        city="武汉, 江岸区",
        contact_name="a\rb",
        email='x"y@example.com',
        contact_phone="",
    )
    spark = Programme.objects.get(slug="jd-spark")
    Programme.objects.filter(pk=spark.pk).update(
        name_en='=HYPERLINK("http://evil.example/")', name_zh_hans=""
    )
    Programme.objects.exclude(pk=spark.pk).filter(slug__startswith="mybank").update(
        name_zh_hans="+加号项目"
    )
    Provider.objects.filter(pk=spark.provider_id).update(
        name_en='JD, Inc. "Best"', name_zh_hans="@京东"
    )
    results = StoredResult.objects.filter(profile=sharing).order_by("pk")
    StoredResult.objects.filter(pk=results[0].pk).update(availability="-odd")
    StoredResult.objects.filter(pk=results[1].pk).update(availability="")
    StoredResult.objects.filter(pk=results[2].pk).update(score=-3)
    StoredResult.objects.filter(profile=private).update(catalogue_version="@v1")
    return {**data, "fourth": fourth}


def queryset(user, **filters):
    return match_report.report_queryset(
        user=user, filters=match_report.ReportFilters(**filters)
    )


def csv_text(qs, **kwargs) -> str:
    fp = io.StringIO(newline="")
    exports.write_csv(qs, fp, **kwargs)
    return fp.getvalue()


def csv_dicts(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# -- CSV ---------------------------------------------------------------------------


def test_csv_has_a_heading_row_and_one_row_per_result(data, analyst):
    qs = queryset(analyst)
    rows = list(csv.reader(io.StringIO(csv_text(qs))))
    assert rows[0] == ENGLISH_HEADINGS
    assert len(rows) - 1 == qs.count() == 3 * PROGRAMMES


def test_csv_headings_and_names_follow_the_active_language(data, analyst):
    with translation.override("zh-hans"):
        text = csv_text(queryset(analyst))
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header[2] == "项目"  # "Programme" has a translation
    names = {row[3] for row in rows}
    assert any(name.startswith("无接触贷款助微计划") for name in names)
    providers = {row[4] for row in rows}
    assert "网商银行" in providers
    assert "符合条件" in {row[5] for row in rows}  # "eligible"


def test_chinese_export_falls_back_to_english_names(data, analyst):
    Programme.objects.filter(slug="jd-spark").update(name_zh_hans="")
    with translation.override("zh-hans"):
        rows = list(csv.reader(io.StringIO(csv_text(queryset(analyst)))))[1:]
    assert {row[3] for row in rows if row[2] == "jd-spark"} == {"JD Spark Plan"}


def test_csv_follows_the_filters(data, analyst):
    rows = csv_dicts(csv_text(queryset(analyst, province="CN-SH")))
    assert len(rows) == PROGRAMMES
    assert {row["Province"] for row in rows} == {"Shanghai"}
    eligible = csv_dicts(csv_text(queryset(analyst, tier="eligible")))
    assert eligible
    assert {row["Result"] for row in eligible} == {"eligible"}


def test_csv_writes_numbers_codes_labels_and_dates(data, analyst):
    restaurant = data["restaurant"]
    rows = [
        row
        for row in csv_dicts(csv_text(queryset(analyst)))
        if row["Profile"] == str(restaurant.pk)
    ]
    assert len(rows) == PROGRAMMES
    row = rows[0]
    assert row["Type of business"] == "Restaurant, café or food stall"
    assert row["Province"] == "Shanghai"
    assert row["Employees"] == "20"
    assert row["Annual revenue (CNY)"] == "2000000.00"
    assert row["Size class"] == "small"
    assert row["Months of cash runway"] == "4.00"
    assert row["Urgency"] == "moderate: six months or less"
    assert row["As of"] == "2020-06-15"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", row["Submitted at"])
    assert {r["Result"] for r in rows} <= TIER_LABELS
    assert {r["Availability"] for r in rows} <= {"open", "not yet open", "closed"}
    stored = {
        r.programme.slug: r
        for r in StoredResult.objects.filter(profile=restaurant).select_related(
            "programme"
        )
    }
    for r in rows:
        result = stored[r["Programme"]]
        assert r["Score"] == str(result.score)
        assert r["Catalogue version"] == result.catalogue_version
        expected = "near miss" if result.near_miss else result.get_outcome_display()
        assert r["Result"] == expected


def test_unanswered_values_are_empty_cells(data, analyst):
    rows = [
        row
        for row in csv_dicts(csv_text(queryset(analyst)))
        if row["Profile"] == str(data["private"].pk)
    ]
    assert {row["Annual revenue (CNY)"] for row in rows} == {""}
    assert {row["Months of cash runway"] for row in rows} == {""}
    assert {row["Urgency"] for row in rows} == {""}


def test_csv_neutralises_formulas_in_user_text(data, analyst):
    rows = csv_dicts(csv_text(queryset(analyst)))
    cities = {row["City"] for row in rows}
    assert "'" + FORMULA_CITY in cities
    assert FORMULA_CITY not in cities


def test_csv_gives_contacts_only_of_businesses_that_consented(data, analyst):
    text = csv_text(queryset(analyst))
    rows = csv_dicts(text)
    by_profile = {}
    for row in rows:
        by_profile.setdefault(row["Profile"], set()).add(
            tuple(row[c] for c in CONTACTS)
        )
    assert by_profile[str(data["sharing"].pk)] == {
        ("Li Wei", "stall@example.com", "13800000000")
    }
    assert by_profile[str(data["private"].pk)] == {("", "", "")}
    assert by_profile[str(data["restaurant"].pk)] == {("", "", "")}
    assert data["private"].email == "private@example.com"
    assert "private@example.com" not in text


def test_rows_come_from_one_query(data, analyst, django_assert_num_queries):
    qs = queryset(analyst)
    with django_assert_num_queries(1):
        rows = list(exports.iter_rows(qs))
    assert len(rows) == 3 * PROGRAMMES


def test_csv_lines_end_in_a_line_feed_and_quote_only_what_they_must(tricky, analyst):
    text = csv_text(queryset(analyst))
    assert "\r\n" not in text
    rows = csv_dicts(text)
    assert len(rows) == 4 * PROGRAMMES
    assert text.startswith(",".join(ENGLISH_HEADINGS) + "\n")
    assert ',"Wuhan, ""Hubei""",' in text
    assert ',"武汉, 江岸区",' in text
    assert ',"\'\rCR first",' in text  # CR is quoted, as LF is
    assert ',"a\rb",' in text
    assert ',"李伟\n第二行",' in text
    assert ',"x""y@example.com",' in text
    assert not re.search(r'(^|,)""(,|$)', text, re.MULTILINE)  # "" and NULL: nothing


def test_csv_neutralises_every_text_cell_and_keeps_numbers(tricky, analyst):
    rows = csv_dicts(csv_text(queryset(analyst)))
    by_profile: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_profile.setdefault(row["Profile"], []).append(row)
    sharing = by_profile[str(tricky["sharing"].pk)]
    assert {row["City"] for row in sharing} == {"'\tTabbed"}
    assert {
        (row["Contact name"], row["Contact email"], row["Contact phone"])
        for row in sharing
    } == {("'=1+1", "'@mention", "'+8613800000000")}
    assert {row["Submitted at"] for row in sharing} == {"2020-06-15 00:05"}
    assert {row["Annual revenue (CNY)"] for row in sharing} == {"0.00"}
    assert {row["Months of cash runway"] for row in sharing} == {"1.50"}
    assert {row["Availability"] for row in sharing} >= {"'-odd", ""}
    restaurant = by_profile[str(tricky["restaurant"].pk)]
    assert {row["Contact phone"] for row in restaurant} == {"'-5"}
    assert {row["Contact email"] for row in restaurant} == {""}
    private = by_profile[str(tricky["private"].pk)]
    assert {row["Catalogue version"] for row in private} == {"'@v1"}
    assert {row["Urgency"] for row in private} == {""}
    fourth = by_profile[str(tricky["fourth"].pk)]
    assert {row["Type of business"] for row in fourth} == {"zz-unknown"}
    assert {row["Contact phone"] for row in fourth} == {""}
    names = {row["Programme name"] for row in rows if row["Programme"] == "jd-spark"}
    assert names == {'\'=HYPERLINK("http://evil.example/")'}
    assert "-3" in {row["Score"] for row in sharing}  # a number, not a formula


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="COPY is PostgreSQL's: elsewhere Python's csv module is the only writer",
)
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_copy_and_python_write_the_same_bytes(tricky, analyst, language):
    qs = queryset(analyst)
    with translation.override(language):
        by_copy = csv_text(qs, copy=True)
        by_python = csv_text(qs, copy=False)
    assert by_copy == by_python
    assert len(csv_dicts(by_copy)) == 4 * PROGRAMMES
    assert "'=1+1" in by_copy
    assert ("'+加号项目" if language == "zh-hans" else "'=HYPERLINK") in by_copy


@pytest.mark.parametrize("copy", [None, False])
def test_csv_of_no_rows_is_its_heading_line(data, analyst, copy):
    text = csv_text(queryset(analyst).none(), copy=copy)
    assert text == ",".join(ENGLISH_HEADINGS) + "\n"


def test_csv_comes_from_copy_on_postgresql_only(data, analyst, monkeypatch):
    used = []
    for name in ("copy_lines", "python_lines"):
        real = getattr(exports, name)

        def recorded(*args, _real=real, _name=name, **kwargs):
            used.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(exports, name, recorded)
    csv_text(queryset(analyst))
    b"".join(exports.csv_response(queryset(analyst), "m.csv").streaming_content)
    expected = "copy_lines" if connection.vendor == "postgresql" else "python_lines"
    assert used == [expected, expected]


# -- streaming ---------------------------------------------------------------------


def test_csv_response_streams_with_a_byte_order_mark(data, analyst):
    response = exports.csv_response(queryset(analyst), "matches 2020.csv")
    assert isinstance(response, StreamingHttpResponse)
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "matches" in response["Content-Disposition"]
    chunks = list(response.streaming_content)
    assert chunks[0].startswith(b"\xef\xbb\xbf")
    rows = csv_dicts(b"".join(chunks).decode("utf-8-sig"))
    assert len(rows) == 3 * PROGRAMMES
    assert list(rows[0]) == ENGLISH_HEADINGS


def test_csv_response_streams_the_bytes_write_csv_writes(tricky, analyst):
    qs = queryset(analyst)
    content = b"".join(exports.csv_response(qs, "m.csv").streaming_content)
    assert content == (exports.BOM + csv_text(qs)).encode()


def test_csv_response_sends_chunks_of_whole_lines(data, analyst, monkeypatch):
    monkeypatch.setattr(exports, "STREAM_CHUNK", 1000)
    chunks = list(exports.csv_response(queryset(analyst), "m.csv").streaming_content)
    assert len(chunks) > 3
    assert all(chunk.endswith(b"\n") for chunk in chunks)
    assert all(len(chunk) < 2000 for chunk in chunks[1:])


def test_csv_response_keeps_the_language_it_was_made_in(data, analyst):
    with translation.override("zh-hans"):
        response = exports.csv_response(queryset(analyst), "x.csv")
    content = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "无接触贷款助微计划" in content
    assert content.splitlines()[0].split(",")[2] == "项目"


# -- XLSX --------------------------------------------------------------------------


def xlsx_rows(content: bytes) -> list[tuple]:
    sheet = load_workbook(io.BytesIO(content), read_only=True).active
    return list(sheet.iter_rows(values_only=True))


def test_xlsx_has_headings_numbers_and_text_as_typed(data, analyst):
    target = io.BytesIO()
    count = exports.write_xlsx(queryset(analyst), target)
    header, *rows = xlsx_rows(target.getvalue())
    assert list(header) == ENGLISH_HEADINGS
    assert count == len(rows) == 3 * PROGRAMMES
    column = {name: i for i, name in enumerate(header)}
    restaurant = [r for r in rows if r[column["Profile"]] == data["restaurant"].pk]
    assert len(restaurant) == PROGRAMMES
    assert restaurant[0][column["Employees"]] == 20
    assert isinstance(restaurant[0][column["Annual revenue (CNY)"]], int | float)
    assert restaurant[0][column["Annual revenue (CNY)"]] == 2_000_000
    assert restaurant[0][column["Months of cash runway"]] == 4
    assert restaurant[0][column["City"]] is None
    cities = {r[column["City"]] for r in rows}
    assert FORMULA_CITY in cities  # a string cell: XLSX needs no apostrophe
    assert "'" + FORMULA_CITY not in cities


@pytest.mark.parametrize("sql_formats", [None, False])
def test_xlsx_stores_formula_like_text_as_text_and_csv_quotes_it(
    tricky, analyst, sql_formats, monkeypatch
):
    if sql_formats is False:
        monkeypatch.setattr(exports, "formats_in_sql", lambda queryset: False)
    qs = queryset(analyst)
    target = io.BytesIO()
    exports.write_xlsx(qs, target)
    sheet = load_workbook(io.BytesIO(target.getvalue())).active
    header = [cell.value for cell in sheet[1]]
    name = header.index("Contact name") + 1
    contacts = [sheet.cell(row, name) for row in range(2, sheet.max_row + 1)]
    typed = [cell for cell in contacts if cell.value == "=1+1"]
    assert typed
    assert {cell.data_type for cell in typed} == {"s"}  # a string, not a formula ("f")
    assert not any(str(cell.value).startswith("'") for cell in contacts if cell.value)
    with zipfile.ZipFile(io.BytesIO(target.getvalue())) as book:
        xml = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml
    assert "'=1+1" in {row["Contact name"] for row in csv_dicts(csv_text(qs))}


def test_xlsx_withholds_contacts_of_businesses_that_did_not_consent(data, analyst):
    response = exports.xlsx_response(queryset(analyst), "matches.xlsx")
    assert isinstance(response, FileResponse)
    assert response["Content-Type"] == exports.XLSX_TYPE
    assert response["Content-Disposition"] == 'attachment; filename="matches.xlsx"'
    content = b"".join(response.streaming_content)
    response.close()
    values = {cell for row in xlsx_rows(content) for cell in row}
    assert "stall@example.com" in values
    assert "13800000000" in values
    assert "private@example.com" not in values


def test_xlsx_has_the_cells_of_the_csv_less_the_formula_guard(tricky, analyst):
    qs = queryset(analyst)
    target = io.BytesIO()
    exports.write_xlsx(qs, target)
    header, *rows = xlsx_rows(target.getvalue())
    numbers = {"Profile", "Score", "Employees"}
    decimals = {"Annual revenue (CNY)", "Months of cash runway"}
    expected = []
    for row in csv_dicts(csv_text(qs)):
        cells = []
        for name, text in row.items():
            if text == "":
                cells.append(None)
            elif name in numbers:
                cells.append(int(text))
            elif name in decimals:
                cells.append(Decimal(text))
            elif text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES):
                cells.append(text[1:])  # the CSV's guard; XLSX has string cells
            else:
                cells.append(text)
        expected.append(tuple(cells))
    assert list(header) == ENGLISH_HEADINGS

    def read(value):
        if isinstance(value, float):
            return Decimal(str(value))
        if isinstance(value, str):  # XLSX escapes CR as _x000D_; openpyxl keeps it
            return value.replace("_x000D_", "\r")
        return value

    assert [tuple(read(value) for value in row) for row in rows] == expected


def test_xlsx_header_is_bold(data, analyst):
    target = io.BytesIO()
    exports.write_xlsx(queryset(analyst, province="CN-SH"), target)
    sheet = load_workbook(io.BytesIO(target.getvalue())).active
    assert sheet["A1"].font.b is True
    assert sheet["A2"].font.b is not True


# -- PDF and charts ----------------------------------------------------------------


def test_summary_pdf_has_title_counts_charts_and_tables(data, analyst):
    summary = match_report.summary(queryset(analyst))
    pdf = exports.render_summary_pdf(
        summary, title="Match report <June>", filters_text="province=CN-SH & more"
    )
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    assert "Match report <June>" in text
    assert "province=CN-SH & more" in text
    assert "48 result rows from 3 businesses" in text
    assert "JD Spark Plan" in text
    assert "2,349" in text
    assert "Shanghai" in text
    assert "Results per programme" in text


def test_summary_pdf_embeds_the_cjk_font(data, analyst):
    with translation.override("zh-hans"):
        summary = match_report.summary(queryset(analyst))
        pdf = exports.render_summary_pdf(summary, title="匹配报告", filters_text="")
    assert_only_embedded_cjk_font(pdf)
    assert "无接触贷款助微计划" in pdf_text(pdf)


def test_summary_pdf_of_no_rows(analyst):
    summary = match_report.summary(queryset(analyst))
    text = pdf_text(
        exports.render_summary_pdf(summary, title="Empty", filters_text="none")
    )
    assert "0 result rows from 0 businesses" in text
    assert "No results match these filters." in text


def test_charts_render_as_inline_svg_with_the_programme_names(data, analyst):
    summary = match_report.summary(queryset(analyst))
    bars = charts.svg(charts.eligible_per_programme(summary))
    runway = charts.svg(charts.runway_vs_survey(summary))
    for svg in (bars, runway):
        assert svg.startswith("<svg")
        assert "<?xml" not in svg
        assert "<!DOCTYPE" not in svg
        assert 'role="img"' in svg
        assert "aria-label=" in svg
        assert "<title>" in svg
        assert ' style="' not in svg  # presentation attributes survive a strict CSP
    assert "JD Spark Plan" in bars
    assert "2,349" in runway
    ids = set(re.findall(r'id="([^"]+)"', bars)) & set(
        re.findall(r'id="([^"]+)"', runway)
    )
    assert not ids


def test_charts_show_chinese_names_in_chinese(data, analyst):
    with translation.override("zh-hans"):
        summary = match_report.summary(queryset(analyst))
        svg = charts.svg(charts.eligible_per_programme(summary))
    assert "无接触贷款助微计划" in svg


def test_chart_text_is_escaped_in_svg(data, analyst):
    Programme.objects.filter(slug="jd-spark").update(name_en="<script>x</script> & Co")
    summary = match_report.summary(queryset(analyst))
    svg = charts.svg(charts.eligible_per_programme(summary))
    assert "<script>" not in svg
    assert "&lt;script&gt;x&lt;/script&gt; &amp; Co" in svg


def test_runway_chart_compares_shares_with_the_survey(data, analyst):
    summary = match_report.summary(queryset(analyst))
    # 0.5 months and 4 months known; the convenience store did not say.
    assert summary.runway == [("≤1", 1), ("1–3", 0), ("3–6", 1), (">6", 0)]
    description = charts.runway_vs_survey(summary).description
    assert "One month or less: 50% here, 14% in the survey" in description
    assert "about 50% in the survey" in description


# -- manage.py export_matches --------------------------------------------------------


def export(*args, **kwargs) -> str:
    out = io.StringIO()
    call_command("export_matches", *args, stdout=out, stderr=io.StringIO(), **kwargs)
    return out.getvalue()


def test_command_writes_csv(data, tmp_path):
    target = tmp_path / "matches.csv"
    out = export("--format", "csv", "--out", str(target))
    assert out == f"Wrote 48 rows to {target}\n"
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = csv_dicts(raw.decode("utf-8-sig"))
    assert len(rows) == 3 * PROGRAMMES
    assert {row["Contact email"] for row in rows} == {"stall@example.com", ""}


def test_command_writes_xlsx_with_filters(data, tmp_path):
    target = tmp_path / "matches.xlsx"
    export("--format", "xlsx", "--out", str(target), "--province", "CN-SH")
    header, *rows = xlsx_rows(target.read_bytes())
    assert len(rows) == PROGRAMMES
    assert {row[header.index("Province")] for row in rows} == {"Shanghai"}


def test_command_filters_and_language(data, tmp_path):
    target = tmp_path / "m.csv"
    export(
        "--out",
        str(target),
        "--programme",
        "mybank-contact-free-loans",
        "--tier",
        "eligible",
        "--submitted-from",
        "2000-01-01",
        "--language",
        "zh-hans",
    )
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert rows[0][2] == "项目"
    expected = StoredResult.objects.filter(
        programme__slug="mybank-contact-free-loans", outcome="eligible"
    ).count()
    assert len(rows) - 1 == expected
    assert {row[3] for row in rows[1:]} <= {"无接触贷款助微计划（“310”贷款）"}


def test_command_takes_the_format_from_the_file_name(data, tmp_path):
    export("--out", str(tmp_path / "m.xlsx"))
    assert len(xlsx_rows((tmp_path / "m.xlsx").read_bytes())) == 1 + 3 * PROGRAMMES
    with pytest.raises(CommandError, match="Give --format csv or --format xlsx"):
        export("--out", str(tmp_path / "m.txt"))


def test_command_future_dates_give_no_rows(data, tmp_path):
    target = tmp_path / "m.csv"
    out = export("--out", str(target), "--submitted-from", "2999-01-01")
    assert out.startswith("Wrote 0 rows")
    assert len(target.read_text(encoding="utf-8-sig").splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "docx"], "Unknown format 'docx'"),
        (["--tier", "great"], "Unknown tier 'great'"),
        (["--province", "CN-XX"], "Unknown province 'CN-XX'"),
        (["--size-class", "huge"], "Unknown size class 'huge'"),
        (["--business-type", "bank"], "Unknown business type 'bank'"),
        (["--urgency", "panic"], "Unknown urgency 'panic'"),
        (["--programme", "nope"], "Unknown programme 'nope'"),
        (["--provider", "nope"], "Unknown provider 'nope'"),
        (
            ["--submitted-from", "2020-13-45"],
            "--submitted-from '2020-13-45' is not a date",
        ),
        (["--submitted-to", "yesterday"], "--submitted-to 'yesterday' is not a date"),
        (
            ["--submitted-from", "2020-06-02", "--submitted-to", "2020-06-01"],
            "--submitted-from 2020-06-02 is after --submitted-to 2020-06-01",
        ),
        (["--language", "fr"], "Unknown language 'fr'"),
    ],
)
def test_command_rejects_bad_arguments(data, tmp_path, args, message):
    target = tmp_path / "m.csv"
    with pytest.raises(CommandError, match=re.escape(message)):
        export("--out", str(target), *args)
    assert list(tmp_path.iterdir()) == []


def test_command_rejects_a_missing_directory(data, tmp_path):
    with pytest.raises(CommandError, match="is not a directory"):
        export("--out", str(tmp_path / "missing" / "m.csv"))


def test_command_rejects_a_directory_as_output(data, tmp_path):
    with pytest.raises(CommandError, match="is a directory"):
        export("--format", "csv", "--out", str(tmp_path))


def test_command_needs_an_output_file(data):
    with pytest.raises(CommandError, match="--out"):
        export()


def break_midway(monkeypatch, fmt, error):
    """Make the export fail once it has written some rows."""
    name = "csv_chunks" if fmt == "csv" else "iter_rows"
    real = getattr(exports, name)

    def broken(*args, **kwargs):
        items = real(*args, **kwargs)
        yield next(items)
        raise error("the disk caught fire")

    monkeypatch.setattr(exports, name, broken)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failed_export_leaves_no_file(data, tmp_path, monkeypatch, fmt, error):
    break_midway(monkeypatch, fmt, error)
    target = tmp_path / f"matches.{fmt}"
    with pytest.raises(error, match="caught fire"):
        export("--format", fmt, "--out", str(target))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_failed_export_keeps_the_previous_file(data, tmp_path, monkeypatch, fmt):
    target = tmp_path / f"matches.{fmt}"
    target.write_bytes(b"yesterday's export")
    break_midway(monkeypatch, fmt, RuntimeError)
    with pytest.raises(RuntimeError):
        export("--format", fmt, "--out", str(target))
    assert target.read_bytes() == b"yesterday's export"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_successful_export_replaces_the_previous_file(data, tmp_path):
    target = tmp_path / "matches.csv"
    target.write_text("old", encoding="utf-8")
    export("--out", str(target))
    assert len(csv_dicts(target.read_text(encoding="utf-8-sig"))) == 3 * PROGRAMMES
    assert [p.name for p in tmp_path.iterdir()] == ["matches.csv"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_command_shows_progress_on_a_terminal_only(data, tmp_path, monkeypatch):
    monkeypatch.setattr(exports, "PROGRESS_EVERY", 10)
    out, err = Terminal(), io.StringIO()
    call_command(
        "export_matches", "--out", str(tmp_path / "a.csv"), stdout=out, stderr=err
    )
    assert "\r0/48 rows" in err.getvalue()
    assert "\r10/48 rows" in err.getvalue()
    assert "\r48/48 rows" in err.getvalue()
    assert out.getvalue().endswith("Wrote 48 rows to " + str(tmp_path / "a.csv") + "\n")

    out, err = io.StringIO(), io.StringIO()
    call_command(
        "export_matches", "--out", str(tmp_path / "b.csv"), stdout=out, stderr=err
    )
    assert err.getvalue() == ""
    assert out.getvalue() == f"Wrote 48 rows to {tmp_path / 'b.csv'}\n"
