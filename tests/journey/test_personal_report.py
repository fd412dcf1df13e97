"""The personal report: CSV and PDF from one column specification (no database)."""

from __future__ import annotations

import csv
import datetime
import io
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.utils import translation
from pypdf import PdfReader

from programs import cells, pdf
from programs.engine import contract, matching
from programs.engine.matching import Source, Tier
from programs.engine.text import Text
from programs.journey import personal_report
from tests.builders import AS_OF, make_profile, make_programme, rule
from tests.pdfs import assert_only_embedded_cjk_font, pdf_text

CJK = re.compile(r"[\u4e00-\u9fff]")
VERSION = "2026.11.24"


def eligible_programme(slug: str = "eligible", **kw):
    kw.setdefault("name", Text("Rent Relief for Zhejiang Shops", "浙江商户租金减免"))
    kw.setdefault("provider_name", Text("Acme Bank", "阿克米银行"))
    return make_programme(slug, rule("province", "equals", "CN-ZJ"), **kw)


def possibly_programme(slug: str = "possibly", **kw):
    kw.setdefault("name", Text("Micro Loan Scheme", "小微贷款计划"))
    return make_programme(slug, rule("employees", "lte", 10), **kw)


def near_miss_programme(slug: str = "near-miss", **kw):
    kw.setdefault("name", Text("Beijing Stall Fund", "北京摊位基金"))
    return make_programme(slug, rule("platforms", "contains_any", ["taobao"]), **kw)


def not_eligible_programme(slug: str = "not-eligible", **kw):
    kw.setdefault("name", Text("Farm Export Grant", "农场出口补贴"))
    return make_programme(
        slug,
        rule("province", "equals", "CN-BJ", group=1),
        rule("business_type", "equals", "farm", group=2),
        **kw,
    )


def mixed_report(profile=None, **extra):
    programmes = [
        not_eligible_programme(),
        near_miss_programme(),
        possibly_programme(),
        eligible_programme(**extra),
    ]
    return matching.match(
        profile or make_profile(platforms=set()),
        programmes,
        as_of=AS_OF,
        catalogue_version=VERSION,
    )


def csv_rows(report) -> list[list[str]]:
    buffer = io.StringIO(newline="")
    personal_report.write_csv(report, buffer)
    return list(csv.reader(io.StringIO(buffer.getvalue(), newline="")))


def column(name: str) -> int:
    headings = [str(heading) for heading, _accessor in personal_report.REPORT_COLUMNS]
    return headings.index(name)


def flat(text: str) -> str:
    """Return text with line breaks and repeated spaces folded into one space."""
    return " ".join(text.split())


# --------------------------------------------------------------------------
# Rows and columns
# --------------------------------------------------------------------------


def test_report_matches_keep_ranked_order_and_drop_plain_not_eligible():
    report = mixed_report()

    tiers = [m.tier for m in personal_report.report_matches(report)]

    assert tiers == ["eligible", "possibly_eligible", "near_miss"]
    assert [m.tier for m in report.matches][-1] == "not_eligible"


def test_every_tier_has_a_result_label():
    assert all(str(tier.label) for tier in Tier)


def test_report_columns_are_heading_and_accessor_pairs():
    assert len(personal_report.REPORT_COLUMNS) == 15
    for heading, accessor in personal_report.REPORT_COLUMNS:
        assert str(heading)
        assert callable(accessor)


# --------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------


def test_csv_header_is_in_english_by_default():
    header = csv_rows(mixed_report())[0]

    assert header[:5] == [
        "Programme",
        "Provider",
        "Result",
        "For what you need",
        "Availability",
    ]
    assert header[-3:] == ["Criteria", "Sources", "Sources checked on"]


def test_csv_header_follows_the_active_language():
    with translation.override("zh-hans"):
        header = csv_rows(mixed_report())[0]

    assert header[0] != "Programme"
    assert CJK.search(header[0])


def test_csv_rows_show_chinese_programme_texts_under_chinese():
    with translation.override("zh-hans"):
        rows = csv_rows(mixed_report())

    assert [row[0] for row in rows[1:]] == [
        "浙江商户租金减免",
        "小微贷款计划",
        "北京摊位基金",
    ]
    assert rows[1][1] == "阿克米银行"


def test_csv_has_one_row_per_eligible_possibly_eligible_and_near_miss_programme():
    rows = csv_rows(mixed_report())

    assert [row[0] for row in rows[1:]] == [
        "Rent Relief for Zhejiang Shops",
        "Micro Loan Scheme",
        "Beijing Stall Fund",
    ]
    assert [row[column("Result")] for row in rows[1:]] == [
        "eligible",
        "possibly eligible",
        "near miss",
    ]
    assert all(len(row) == len(personal_report.REPORT_COLUMNS) for row in rows)


def test_csv_cells_carry_dates_texts_and_sources():
    report = mixed_report(
        benefits=Text("Three months rent free.", "免三个月租金。"),
        apply_channel=Text("Alipay app", "支付宝 App"),
        apply_steps=Text("1. Open the app.\n2. Apply.", ""),
        apply_url="https://example.org/apply",
        opens_on=datetime.date(2020, 3, 1),
        closes_on=datetime.date(2020, 12, 31),
        closes_on_assumed=True,
        sources=(
            Source("Official notice", "example.org/notice"),
            Source("News article (publisher unknown)"),
        ),
    )

    row = csv_rows(report)[1]

    assert row[column("Provider")] == "Acme Bank"
    assert row[column("Availability")] == "open"
    assert row[column("Opens on")] == "2020-03-01"
    assert row[column("Closes on")] == "Closed on 2020-12-31 (our estimate)"
    assert row[column("What you get")] == "Three months rent free."
    assert row[column("How to apply")] == (
        "Alipay app\n1. Open the app.\n2. Apply.\nhttps://example.org/apply"
    )
    assert row[column("Sources")] == (
        "Official notice (example.org/notice)\nNews article (publisher unknown)"
    )


def test_csv_criteria_cell_states_result_reason_and_basis():
    programme = make_programme(
        "two-rules",
        rule("province", "equals", "CN-ZJ"),
        rule("employees", "lte", 10, group=2, basis="assumed"),
    )
    report = matching.match(make_profile(), [programme], as_of=AS_OF)

    row = csv_rows(report)[1]

    assert row[column("Criteria")].split("\n") == [
        "[met] Your province is Zhejiang. (documented by the provider)",
        "[unknown] Number of employees must be at most 10 people; you have not "
        "answered this yet. (our assumption)",
    ]


def test_csv_lists_questions_to_settle_and_what_the_owner_could_do():
    rows = csv_rows(mixed_report())
    possibly, near_miss = rows[2], rows[3]

    assert possibly[column("Questions to settle")] == "number of employees"
    assert possibly[column("What you could do")] == ""
    assert near_miss[column("What you could do")] == (
        "Open a shop or an account on Taobao."
    )
    assert near_miss[column("Questions to settle")] == ""


def test_csv_says_which_stated_needs_each_programme_addresses():
    report = mixed_report(
        profile=make_profile(platforms=set(), needs={"financing", "training"}),
        needs={"training", "tax_relief"},
    )
    [eligible] = [row for row in csv_rows(report)[1:] if row[0].startswith("Rent")]

    assert eligible[column("For what you need")] == "Training and courses"


def test_csv_marks_a_need_the_sources_do_not_state_as_our_assumption():
    report = mixed_report(
        profile=make_profile(platforms=set(), needs={"financing", "training"}),
        needs={"training", "financing"},
        needs_assumed={"training"},
    )
    [eligible] = [row for row in csv_rows(report)[1:] if row[0].startswith("Rent")]

    assert eligible[column("For what you need")] == (
        "Loans or credit, training and courses (our assumption)"
    )


@pytest.mark.parametrize(
    ("assumed", "expected"),
    [(True, "about 7 days (our estimate)"), (False, "7 days"), (None, "")],
)
def test_csv_says_how_fast_the_help_comes_and_when_that_is_our_estimate(
    assumed, expected
):
    extra = {} if assumed is None else {"days_to_money": 7}
    report = mixed_report(days_to_money_assumed=bool(assumed), **extra)
    [eligible] = [row for row in csv_rows(report)[1:] if row[0].startswith("Rent")]

    assert eligible[column("Time to help")] == expected


def test_time_to_help_in_chinese_reads_as_one_phrase():
    programme = eligible_programme(days_to_money=1, days_to_money_assumed=True)
    with translation.override("zh-hans"):
        assert personal_report.time_to_money(programme) == "约1天（我们的估计）"


def test_csv_closing_date_says_the_programme_closed_and_is_not_our_estimate():
    report = mixed_report(closes_on=datetime.date(2020, 6, 30))

    assert csv_rows(report)[1][column("Closes on")] == "Closed on 2020-06-30"


def test_csv_neutralises_formula_cells():
    report = mixed_report(
        profile=make_profile(city="+cmd"),
        name=Text('=HYPERLINK("http://evil.example","Click")', ""),
        provider_name=Text("@SUM(A1:A9)", ""),
        benefits=Text("-2+3", ""),
    )

    rows = csv_rows(report)
    row = rows[1]

    assert row[0] == "'" + '=HYPERLINK("http://evil.example","Click")'
    assert row[column("Provider")] == "'@SUM(A1:A9)"
    assert row[column("What you get")] == "'-2+3"
    # The city is not a column of the report; it never reaches a cell.
    assert not any("+cmd" in cell for r in rows for cell in r)
    assert not any(cell.startswith(cells.FORMULA_PREFIXES) for r in rows for cell in r)


@pytest.mark.parametrize("text", ["=1+1", "+cmd", "-1+2", "@SUM(A1)", "\tx", "\rx"])
def test_neutralise_quotes_text_a_spreadsheet_would_run(text):
    assert cells.neutralise(text) == "'" + text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Rent relief", "Rent relief"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (-5, "-5"),
        (contract.Decimal("-12.5"), "-12.5"),
        (True, "True"),
    ],
)
def test_neutralise_leaves_plain_text_and_numbers_alone(value, expected):
    assert cells.neutralise(value) == expected


# --------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------


def test_pdf_is_a_pdf_document():
    assert personal_report.render_pdf(mixed_report()).startswith(b"%PDF")


def test_pdf_text_shows_programmes_date_version_and_reasons():
    text = flat(pdf_text(personal_report.render_pdf(mixed_report())))

    assert "ReliefMatch report" in text
    assert "Rent Relief for Zhejiang Shops" in text
    assert "Micro Loan Scheme" in text
    assert "Beijing Stall Fund" in text
    assert "Farm Export Grant" not in text
    assert AS_OF.isoformat() in text
    assert VERSION not in text  # a fingerprint, not for readers
    assert "Your province is Zhejiang." in text
    assert "Open a shop or an account on Taobao." in text


def test_pdf_lists_answered_and_unanswered_fields_and_derived_values():
    profile = make_profile(city="Hangzhou", employees=3, annual_revenue_cny=500_000)

    text = flat(pdf_text(personal_report.render_pdf(mixed_report(profile))))

    assert "Type of business Retail shop" in text
    assert "City Hangzhou" in text
    assert "Number of employees 3" in text
    assert "Annual revenue (CNY) 500,000" in text
    assert "Premises not answered" in text
    assert "Size class micro" in text
    assert "Urgency not known yet" in text


def sectioned_report(profile=None):
    """One programme for each place on the results page: for what you need,
    also (a fit and a might-fit), one step away, and two for the rest (one
    not for this business, one that fits but closed before the date)."""
    programmes = [
        eligible_programme(
            "for-needs", name=Text("Cash Loans", ""), needs={"financing"}
        ),
        eligible_programme("also-fits", name=Text("Rent Relief", "")),
        possibly_programme("also-might", name=Text("Micro Loan Scheme", "")),
        near_miss_programme("near-miss", name=Text("Beijing Stall Fund", "")),
        not_eligible_programme("not-eligible", name=Text("Farm Export Grant", "")),
        eligible_programme(
            "closed",
            name=Text("Spring Tax Holiday", ""),
            closes_on=datetime.date(2020, 3, 31),
        ),
    ]
    return matching.match(
        profile or make_profile(platforms=set()),
        programmes,
        as_of=AS_OF,
        catalogue_version=VERSION,
    )


def test_sections_follow_the_results_page():
    sections = personal_report.sectioned(sectioned_report().matches)

    assert {name: [m.programme.slug for m in ms] for name, ms in sections.items()} == {
        "for_needs": ["for-needs"],
        "also": ["also-fits", "also-might"],
        "near_miss": ["near-miss"],
        "rest": ["closed", "not-eligible"],  # ranked: a fit first
    }
    assert [personal_report.folded(m) for m in sections["also"]] == [False, True]
    assert personal_report.folded(sections["near_miss"][0]) is False


def test_pdf_headline_counts_are_the_pages_sections_counts():
    text = flat(pdf_text(personal_report.render_pdf(sectioned_report())))

    assert (
        "1 programme for what you need 2 more you may also get "
        "1 you could get with one step" in text
    )


def test_pdf_lists_programmes_in_the_pages_sections_and_order():
    text = flat(pdf_text(personal_report.render_pdf(sectioned_report())))

    order = [
        text.index("For what you need 1. Cash Loans"),
        text.index("You may also get"),
        text.index("2. Rent Relief"),
        text.index("1 more might fit: Micro Loan Scheme"),
        text.index("One step away"),
        text.index("3. Beijing Stall Fund"),
        text.index("2 other programmes: not for you, or not open on 2020-06-15"),
        text.index("Your answers"),
    ]
    assert order == sorted(order)


def test_pdf_folds_what_the_page_folds_to_one_line():
    text = flat(pdf_text(personal_report.render_pdf(sectioned_report())))

    # A might-fit you may also get is named on its one line, with no card.
    assert "Micro Loan Scheme" in text
    assert not re.search(r"\d+\. Micro Loan Scheme", text)
    # The rest is one count: neither the programme that is not for this
    # business nor the one closed on the date is named.
    assert "Farm Export Grant" not in text
    assert "Spring Tax Holiday" not in text


def test_pdf_shows_the_cash_warning_as_the_page_does():
    profile = make_profile(platforms=set(), cash_runway_months=0.5)

    text = flat(pdf_text(personal_report.render_pdf(sectioned_report(profile))))

    assert "You have cash for a month or less." in text
    assert "14% of the 2,349 small businesses" in text
    assert text.index("You have cash for") < text.index("For what you need 1.")


def test_pdf_with_a_link_prints_it_with_its_warning_and_a_qr_code_last():
    link = "https://relief.example.cn/r/" + "a" * 43 + "/"

    pdf = personal_report.render_pdf(sectioned_report(), link=link)

    text = flat(pdf_text(pdf))
    assert text.index("Your private link") > text.index("Your answers")
    assert link in text.replace(" ", "")
    assert (
        "Anyone with this link can see and change your answers. "
        "Share it only with people you trust." in text
    )
    assert "Scan this code with another phone" in text
    last_page = PdfReader(io.BytesIO(pdf)).pages[-1]
    assert any(
        annotation.get_object().get("/A", {}).get("/URI") == link
        for annotation in last_page.get("/Annots", [])
    )


def test_pdf_without_a_link_prints_no_private_link():
    text = flat(pdf_text(personal_report.render_pdf(sectioned_report())))

    assert "Your private link" not in text
    assert "Anyone with this link" not in text


@pytest.mark.skipif(
    shutil.which("pdftoppm") is None or shutil.which("zbarimg") is None,
    reason="pdftoppm (poppler-utils) or zbarimg (zbar-tools) is not installed",
)
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_pdf_qr_code_scans_to_the_link(tmp_path, language):
    link = "https://relief.example.cn/r/" + "Zz_9-" * 9 + "/"
    with translation.override(language):
        pdf = personal_report.render_pdf(sectioned_report(), link=link)
    source = tmp_path / "report.pdf"
    source.write_bytes(pdf)
    pages = len(PdfReader(io.BytesIO(pdf)).pages)

    subprocess.run(
        ["pdftoppm", "-r", "80", "-png", "-f", str(pages), "-l", str(pages)]
        + ["-singlefile", str(source), str(tmp_path / "last")],
        check=True,
        timeout=60,
    )
    found = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(tmp_path / "last.png")],
        capture_output=True,
        check=True,
        text=True,
        timeout=30,
    )

    assert found.stdout.strip() == link


def test_pdf_in_chinese_shows_chinese_programme_name():
    with translation.override("zh-hans"):
        pdf = personal_report.render_pdf(mixed_report())

    text = re.sub(r"\s", "", pdf_text(pdf))
    assert "浙江商户租金减免" in text
    assert "阿克米银行" in text


def test_pdf_embeds_the_cjk_font_for_all_text():
    with translation.override("zh-hans"):
        pdf = personal_report.render_pdf(mixed_report())

    assert_only_embedded_cjk_font(pdf)


def test_pdf_shows_markup_in_user_text_literally():
    profile = make_profile(city="<b>Wuhan & Co</b>")
    report = mixed_report(
        profile, name=Text("<script>alert(1)</script> & <para>", ""), apply_url="a&b"
    )

    text = flat(pdf_text(personal_report.render_pdf(report)))

    assert "<b>Wuhan & Co</b>" in text
    assert "<script>alert(1)</script> & <para>" in text


def test_pdf_footer_is_on_every_page_with_its_number():
    programmes = [
        make_programme(
            f"p{i:02}",
            rule("province", "equals", "CN-ZJ"),
            benefits=Text("Cheaper loans for shops. " * 20, ""),
        )
        for i in range(12)
    ]
    report = matching.match(make_profile(), programmes, as_of=AS_OF)

    pages = PdfReader(io.BytesIO(personal_report.render_pdf(report))).pages

    assert len(pages) > 1
    for number, page in enumerate(pages, start=1):
        text = flat(page.extract_text())
        assert "check with the provider before you apply." in text
        assert f"Page {number}" in text


def test_pdf_says_so_when_no_programme_fits():
    report = matching.match(make_profile(), [not_eligible_programme()], as_of=AS_OF)

    assert "No programme fits your answers yet." in pdf_text(
        personal_report.render_pdf(report)
    )


def test_pdf_with_sixteen_programmes_renders_in_well_under_a_second():
    programmes = [
        make_programme(
            f"p{i:02}",
            rule("province", "equals", "CN-ZJ"),
            rule("employees", "lte", 10, group=2),
            name=Text(f"Programme {i}", f"第{i}号计划"),
            benefits=Text("Cheaper loans. " * 15, "更便宜的贷款。" * 15),
            apply_steps=Text("1. Open the app.\n2. Apply.", "1. 打开应用。\n2. 申请。"),
        )
        for i in range(16)
    ]
    report = matching.match(make_profile(), programmes, as_of=AS_OF)
    personal_report.render_pdf(report)  # registers the font

    timings = []
    with translation.override("zh-hans"):
        for _run in range(3):
            started = time.perf_counter()
            personal_report.render_pdf(report)
            timings.append(time.perf_counter() - started)

    # Typically about 0.25 s; the best of three runs ignores a busy moment.
    assert min(timings) < 1.0


def test_missing_font_raises_improperly_configured_naming_setting_and_package():
    pdf.register_font.cache_clear()
    try:
        with (
            override_settings(REPORT_CJK_FONT="/nonexistent.ttc"),
            pytest.raises(ImproperlyConfigured) as error,
        ):
            personal_report.render_pdf(mixed_report())
    finally:
        pdf.register_font.cache_clear()

    assert "REPORT_CJK_FONT" in str(error.value)
    assert "fonts-wqy-microhei" in str(error.value)


def test_font_is_registered_once_per_process(monkeypatch):
    pdf.register_font.cache_clear()
    loaded = []
    real_ttfont = pdf.TTFont

    def counting_ttfont(*args, **kwargs):
        loaded.append(args)
        return real_ttfont(*args, **kwargs)

    monkeypatch.setattr(pdf, "TTFont", counting_ttfont)

    personal_report.render_pdf(mixed_report())
    personal_report.render_pdf(mixed_report())

    assert len(loaded) == 1


# --------------------------------------------------------------------------
# Visual check
# --------------------------------------------------------------------------

ARTEFACTS = Path(settings.BASE_DIR) / "test-artifacts"


def realistic_report():
    profile = make_profile(
        business_type="street_stall",
        registration="individual_business",
        province="CN-HB",
        city="武汉",
        employees=1,
        annual_revenue_cny=80_000,
        cash_runway_months=0.5,
        platforms={"alipay_merchant", "wechat_pay_merchant"},
        needs={"financing", "stock_sourcing"},
    )
    loans = make_programme(
        "mybank-310",
        rule("size_class", "one_of", ["micro", "small"]),
        rule("province", "equals", "CN-HB", group=2, basis="assumed"),
        name=Text("Contact-free Loan Micro-assistance Plan", "无接触贷款助微计划"),
        provider_name=Text("MYbank", "网商银行"),
        benefits=Text(
            "Contact-free business loans; in Wuhan, the first month interest-free.",
            "无接触经营贷款，武汉小微商户首月免息。",
        ),
        apply_channel=Text("Alipay app", "支付宝 App"),
        apply_steps=Text(
            "1. Open the Alipay app.\n2. Apply for the loan; it takes about 3 minutes.",
            "1. 打开支付宝 App。\n2. 提交贷款申请，大约3分钟。",
        ),
        opens_on=datetime.date(2020, 3, 5),
        closes_on=datetime.date(2020, 12, 31),
        closes_on_assumed=True,
        sources=(Source("China Banking News: MYbank loans", "chinabankingnews.com"),),
    )
    stock = make_programme(
        "jd-spark",
        rule("business_type", "one_of", ["convenience_store", "street_stall"]),
        rule("years_operating", "gte", 1, group=2),
        name=Text("JD.com Spark Plan", "京东“星火计划”"),
        provider_name=Text("JD.com", "京东"),
        benefits=Text("Interest-free stock on credit.", "免息赊购进货。"),
        opens_on=datetime.date(2020, 6, 2),
    )
    export = make_programme(
        "export",
        rule("export_share_pct", "gte", 10),
        name=Text("Spring Thunder: new export markets", "春雷计划：开拓新市场"),
        provider_name=Text("Alibaba Group", "阿里巴巴集团"),
    )
    return matching.match(
        profile, [loans, stock, export], as_of=AS_OF, catalogue_version=VERSION
    )


@pytest.mark.skipif(
    shutil.which("pdftoppm") is None,
    reason="pdftoppm (Debian package poppler-utils) is not installed",
)
@pytest.mark.parametrize("language", ["en", "zh"])
def test_first_page_renders_to_a_png_for_visual_checks(tmp_path, language):
    with translation.override("zh-hans" if language == "zh" else "en"):
        pdf = personal_report.render_pdf(realistic_report())
    source = tmp_path / "report.pdf"
    source.write_bytes(pdf)
    ARTEFACTS.mkdir(exist_ok=True)
    prefix = ARTEFACTS / f"report-{language}-1"

    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile"]
        + [str(source), str(prefix)],
        check=True,
        timeout=60,
    )

    png = prefix.with_suffix(".png")
    assert png.read_bytes().startswith(b"\x89PNG")
    assert png.stat().st_size > 10_000


def test_csv_words_conditions_as_the_page_does_and_a_fit_shows_no_failure():
    programme = make_programme(
        "alternatives",
        rule("province", "equals", "CN-ZJ", group=1),
        rule("registration", "equals", "individual_business", group=1),
        rule("employees", "lte", 10, required=False),
    )
    report = matching.match(
        make_profile(platforms=set(), registration="company"),
        [programme],
        as_of=AS_OF,
        catalogue_version=VERSION,
    )
    [row] = csv_rows(report)[1:]
    text = row[column("Criteria")]
    assert text.splitlines()[0] == "Any one of these is enough:"
    assert "[not met]" not in text
    lines = text.splitlines()
    # The alternative it does not meet reads as the rule, with no state.
    assert lines[2].startswith("- Registration ")
    # A preference is a bonus, never a failure.
    assert lines[3].startswith("[bonus] Number of employees")


# --------------------------------------------------------------------------
# Wording: dates, sources and the catalogue as a reader reads them
# --------------------------------------------------------------------------

CHECKED = datetime.date(2026, 11, 24)


def checked_report(**extra):
    extra.setdefault("closes_on", datetime.date(2020, 12, 31))
    extra.setdefault("closes_on_assumed", True)
    return mixed_report(last_verified_on=CHECKED, **extra)


def test_csv_says_a_closed_programme_closed_and_when_its_sources_were_checked():
    with translation.override("zh-hans"):
        rows = csv_rows(checked_report())
    header, row = rows[0], rows[1]
    assert header[-1] == "资料核对日期"
    assert row[-1] == "2026-11-24"
    assert row[header.index("截止日期")] == "已于2020-12-31（推测）截止"


def test_an_assumed_deadline_is_our_estimate_in_the_pdf_as_on_the_page():
    programme = eligible_programme(
        closes_on=datetime.date(2020, 12, 31), closes_on_assumed=True
    )
    with translation.override("zh-hans"):
        assert programme.closes_on_text == "2020-12-31（推测）"
    assert programme.closes_on_text == "2020-12-31 (our estimate)"


def test_a_closed_programme_says_so_before_the_day_its_sources_were_checked():
    programme = eligible_programme(
        closes_on=datetime.date(2020, 12, 31), last_verified_on=CHECKED
    )
    assert programme.checked_text == (
        "Closed on 2020-12-31; sources checked on 2026-11-24."
    )
    with translation.override("zh-hans"):
        assert (
            programme.checked_text == "已于2020-12-31截止；资料核对日期：2026-11-24。"
        )


def test_chinese_sources_keep_the_original_title_and_add_a_chinese_explanation():
    report = checked_report(
        sources=(
            Source(
                "China Banking News: MYbank loans",
                "chinabankingnews.com",
                None,
                "H",
                "网商银行贷款",
            ),
            Source("张勇致员工内部信"),
        )
    )
    with translation.override("zh-hans"):
        row = csv_rows(report)[1]
    assert row[column("Sources")] == (
        "China Banking News: MYbank loans（网商银行贷款）（chinabankingnews.com）\n"
        "张勇致员工内部信"
    )
    assert csv_rows(report)[1][column("Sources")].startswith(
        "China Banking News: MYbank loans (chinabankingnews.com)"
    )


def test_chinese_pdf_names_the_catalogue_by_date_not_by_fingerprint():
    with translation.override("zh-hans"):
        text = flat(pdf_text(personal_report.render_pdf(checked_report())))
    assert "资料版本：2026-11-24" in text
    assert VERSION not in text
    assert "已于2020-12-31（推测）截止" in text
    assert "您的省份是浙江。" in text
