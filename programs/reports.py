"""
The personal report of one business's results, as CSV and as PDF.

Contract
--------
* ``REPORT_COLUMNS`` is the one column specification: (heading, accessor)
  pairs. Each accessor takes a ``ProgrammeMatch`` and returns text in the
  active language. The CSV writes the columns as a table; the PDF lays the
  same values out as one card per programme.
* ``report_matches`` picks the rows: every eligible, possibly eligible and
  near-miss programme, in the report's ranked order.
* ``write_csv`` writes to a text file object (open files with
  ``newline=""``). Every cell passes through ``neutralise``. The caller adds
  a byte order mark if it wants one.
* ``render_pdf`` returns an A4 PDF. All text is set in the CJK font named by
  ``settings.REPORT_CJK_FONT`` (it covers Latin too) and embedded, so the file
  reads the same on any machine. The font is registered once per process.

Dates are ISO 8601 (2020-06-15) in both languages: unambiguous, and sortable
in a spreadsheet.
"""

from __future__ import annotations

import csv
import datetime
import functools
import io
import os
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TextIO
from xml.sax.saxutils import escape

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import Promise
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from reportlab.lib import colors
from reportlab.lib import textsplit as rl_textsplit
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.platypus import (
    CondPageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus import paragraph as rl_paragraph

from .matching import (
    AVAILABILITY_LABELS,
    FIELDS,
    OUTCOME_LABELS,
    PROFILE_FIELDS,
    STATE_LABELS,
    TIER_ORDER,
    CriterionResult,
    MatchReport,
    Outcome,
    ProgrammeMatch,
    State,
    display_value,
    list_separator,
)
from .models import Criterion as CriterionRow

#: Result label of each tier; only the near miss needs a label of its own.
TIER_LABELS: dict[str, Promise] = {
    "eligible": OUTCOME_LABELS[Outcome.ELIGIBLE],
    "possibly_eligible": OUTCOME_LABELS[Outcome.POSSIBLY_ELIGIBLE],
    "near_miss": _("near miss"),
    "not_eligible": OUTCOME_LABELS[Outcome.NOT_ELIGIBLE],
}

#: Tiers a personal report covers; plain not-eligible programmes are left out.
REPORT_TIERS = frozenset({"eligible", "possibly_eligible", "near_miss"})


def report_matches(report: MatchReport) -> list[ProgrammeMatch]:
    """Return the eligible, possibly eligible and near-miss matches, ranked."""
    return [m for m in report.matches if m.tier in REPORT_TIERS]


# --------------------------------------------------------------------------
# The column specification
# --------------------------------------------------------------------------


def _date(value: datetime.date | None) -> str:
    return "" if value is None else value.isoformat()


def programme_name(match: ProgrammeMatch) -> str:
    return str(match.programme.name)


def provider_name(match: ProgrammeMatch) -> str:
    return str(match.programme.provider_name) or match.programme.provider


def result_label(match: ProgrammeMatch) -> str:
    return str(TIER_LABELS[match.tier])


def availability_label(match: ProgrammeMatch) -> str:
    return str(AVAILABILITY_LABELS[match.availability])


def opens_on(match: ProgrammeMatch) -> str:
    return _date(match.programme.opens_on)


def closes_on(match: ProgrammeMatch) -> str:
    programme = match.programme
    if programme.closes_on is None:
        return ""
    if programme.closes_on_assumed:
        return gettext("%(date)s (assumed)") % {"date": _date(programme.closes_on)}
    return _date(programme.closes_on)


def benefits(match: ProgrammeMatch) -> str:
    return str(match.programme.benefits)


def how_to_apply(match: ProgrammeMatch) -> str:
    programme = match.programme
    parts = (
        str(programme.apply_channel),
        str(programme.apply_steps),
        programme.apply_url,
    )
    return "\n".join(part for part in parts if part)


def questions(match: ProgrammeMatch) -> str:
    return list_separator().join(str(FIELDS[name].label) for name in match.questions)


def changes(match: ProgrammeMatch) -> str:
    return "\n".join(result.reason for result in match.changes)


def criterion_parts(result: CriterionResult) -> tuple[str, str, str]:
    """Return a criterion's state label, reason and basis label."""
    return (
        str(STATE_LABELS[result.state]),
        result.reason,
        str(CriterionRow.Basis(result.criterion.basis).label),
    )


def criteria(match: ProgrammeMatch) -> str:
    lines = []
    for result in match.results:
        state, reason, basis = criterion_parts(result)
        lines.append(
            gettext("[%(state)s] %(reason)s (%(basis)s)")
            % {"state": state, "reason": reason, "basis": basis}
        )
    return "\n".join(lines)


def sources(match: ProgrammeMatch) -> str:
    return "\n".join(
        gettext("%(title)s (%(address)s)") % {"title": s.title, "address": s.url}
        if s.url
        else s.title
        for s in match.programme.sources
    )


Accessor = Callable[[ProgrammeMatch], str]

#: The one column specification of the personal report (CSV and PDF).
REPORT_COLUMNS: tuple[tuple[Promise, Accessor], ...] = (
    (_("Programme"), programme_name),
    (_("Provider"), provider_name),
    (_("Result"), result_label),
    (_("Availability"), availability_label),
    (_("Opens on"), opens_on),
    (_("Closes on"), closes_on),
    (_("What you get"), benefits),
    (_("How to apply"), how_to_apply),
    (_("Questions to settle"), questions),
    (_("What would have to change"), changes),
    (_("Criteria"), criteria),
    (_("Sources"), sources),
)


# --------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------

#: Text a spreadsheet may run as a formula when it starts a cell.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    """Return a cell's text, quoted with a leading ' if a spreadsheet would run it.

    Numbers pass through unchanged: a negative number is not a formula.
    """
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def write_csv(report: MatchReport, fp: TextIO) -> None:
    """Write the report's programmes as CSV, with headings in the active language."""
    writer = csv.writer(fp)
    writer.writerow(neutralise(heading) for heading, _accessor in REPORT_COLUMNS)
    for match in report_matches(report):
        writer.writerow(
            neutralise(accessor(match)) for _heading, accessor in REPORT_COLUMNS
        )


# --------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------

FONT_NAME = "ReliefMatchCJK"

# ReportLab's CJK line breaking lets full-width commas, colons, semicolons,
# question and exclamation marks and closing quotes start a line. Add them to
# its list of characters that cannot, so the mark hangs at the end of the line
# before, as Chinese typesetting expects. Paragraph keeps one copy of the
# list (several lines) and textsplit another (one line).
for _module in (rl_paragraph, rl_textsplit):
    _module.ALL_CANNOT_START += "".join(
        mark for mark in "，：；！？”’》" if mark not in _module.ALL_CANNOT_START
    )


@functools.cache
def _register_font(path: str) -> str:
    """Register the TrueType collection at `path` once; return the font name."""
    if not os.path.isfile(path):
        raise ImproperlyConfigured(
            f"REPORT_CJK_FONT is {path!r}, which is not a file. PDF reports need a "
            "font with Chinese glyphs: install the Debian package fonts-wqy-microhei "
            "or point the REPORT_CJK_FONT setting at another TrueType collection."
        )
    try:
        font = TTFont(FONT_NAME, path, subfontIndex=0)
    except TTFError as error:
        raise ImproperlyConfigured(
            f"REPORT_CJK_FONT is {path!r}, which ReportLab cannot read as a "
            f"TrueType font ({error}). Install the Debian package fonts-wqy-microhei "
            "or point the REPORT_CJK_FONT setting at another TrueType collection."
        ) from error
    pdfmetrics.registerFont(font)
    # The font has one weight; map bold and italic to it so no markup can
    # fall back to a Latin-only base font.
    pdfmetrics.registerFontFamily(
        FONT_NAME,
        normal=FONT_NAME,
        bold=FONT_NAME,
        italic=FONT_NAME,
        boldItalic=FONT_NAME,
    )
    return FONT_NAME


def cjk_font() -> str:
    """Return the registered name of the report font from settings.REPORT_CJK_FONT."""
    return _register_font(str(settings.REPORT_CJK_FONT))


INK = colors.HexColor("#212529")
MUTED = colors.HexColor("#6c757d")
RULE = colors.HexColor("#ced4da")
SHADE = colors.HexColor("#f1f3f5")
ACCENT = colors.HexColor("#0b5394")
TIER_COLOURS = {
    "eligible": colors.HexColor("#1e7b34"),
    "possibly_eligible": colors.HexColor("#8a5a00"),
    "near_miss": colors.HexColor("#b02a37"),
    "not_eligible": MUTED,
}
STATE_COLOURS = {
    State.MET: TIER_COLOURS["eligible"],
    State.NOT_MET: TIER_COLOURS["near_miss"],
    State.UNKNOWN: TIER_COLOURS["possibly_eligible"],
}
MARGIN = 16 * mm
CONTENT_WIDTH = A4[0] - 2 * MARGIN
LABEL_WIDTH = 34 * mm


class _Styles:
    """Paragraph styles in the report font, wrapping Chinese between characters."""

    def __init__(self, font: str, chinese: bool):
        wrap = "CJK" if chinese else None
        base = ParagraphStyle(
            "body",
            fontName=font,
            fontSize=9,
            leading=12.5,
            textColor=INK,
            wordWrap=wrap,
        )
        self.body = base
        self.title = ParagraphStyle(
            "title", base, fontSize=20, leading=25, textColor=ACCENT, spaceAfter=4
        )
        self.meta = ParagraphStyle("meta", base, textColor=MUTED, spaceAfter=6)
        self.h2 = ParagraphStyle(
            "h2",
            base,
            fontSize=13,
            leading=17,
            textColor=ACCENT,
            spaceBefore=10,
            spaceAfter=4,
        )
        self.h3 = ParagraphStyle(
            "h3",
            base,
            fontSize=11.5,
            leading=15,
            spaceBefore=12,
            spaceAfter=3,
        )
        self.label = ParagraphStyle(
            "label", base, fontSize=8, leading=11, textColor=MUTED
        )
        self.small = ParagraphStyle("small", base, fontSize=8, leading=11)
        self.muted = ParagraphStyle("muted", self.small, textColor=MUTED)
        self.tiers = {
            tier: ParagraphStyle(tier, base, textColor=colour)
            for tier, colour in TIER_COLOURS.items()
        }
        self.states = {
            state: ParagraphStyle(str(state), self.small, textColor=colour)
            for state, colour in STATE_COLOURS.items()
        }


def _para(text: str, style: ParagraphStyle) -> Paragraph:
    """Return a Paragraph of plain text: markup escaped, line breaks kept."""
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _heading(text: str, style: ParagraphStyle, room: float) -> list[Any]:
    """Return a heading that starts a new page unless `room` is left below it.

    Cheaper and tighter than keepWithNext, which would push a whole
    programme card to the next page rather than split its table.
    """
    return [CondPageBreak(room), _para(text, style)]


def _grid(rows: list[list[Any]], widths: list[float], *, header: bool = False) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
    commands = [
        ("FONTNAME", (0, 0), (-1, -1), FONT_NAME),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), SHADE))
    table.setStyle(TableStyle(commands))
    return table


def _answers(report: MatchReport, styles: _Styles) -> list[Any]:
    profile = report.profile
    rows = []
    for name in PROFILE_FIELDS:
        value = getattr(profile, name)
        answered = value is not None and value != ""
        rows.append(
            [
                _para(_upper_first(str(FIELDS[name].label)), styles.label),
                _para(
                    display_value(name, value if answered else None),
                    styles.body if answered else styles.muted,
                ),
            ]
        )
    derived = []
    for name in ("size_class", "urgency"):
        value = getattr(profile, name)
        derived.append(
            [
                _para(_upper_first(str(FIELDS[name].label)), styles.label),
                _para(display_value(name, value), styles.body)
                if value is not None
                else _para(gettext("not known yet"), styles.muted),
            ]
        )
    widths = [LABEL_WIDTH + 16 * mm, CONTENT_WIDTH - LABEL_WIDTH - 16 * mm]
    return [
        *_heading(gettext("Your answers"), styles.h2, 40 * mm),
        _grid(rows, widths),
        *_heading(gettext("Worked out from your answers"), styles.h2, 25 * mm),
        _grid(derived, widths),
    ]


def _counts(report: MatchReport, styles: _Styles) -> list[Any]:
    counts = report.counts()
    width = CONTENT_WIDTH / len(TIER_ORDER)
    table = _grid(
        [
            [
                _para(_upper_first(str(TIER_LABELS[t])), styles.label)
                for t in TIER_ORDER
            ],
            [_para(str(counts[t]), styles.tiers[t]) for t in TIER_ORDER],
        ],
        [width] * len(TIER_ORDER),
        header=True,
    )
    return [
        *_heading(gettext("Results at a glance"), styles.h2, 30 * mm),
        table,
        Spacer(1, 3),
        _para(
            gettext(
                "This report describes the eligible, possibly eligible and near-miss "
                "programmes, best first. Programmes you do not qualify for are left out."
            ),
            styles.muted,
        ),
    ]


def _card(rank: int, match: ProgrammeMatch, styles: _Styles) -> list[Any]:
    """Return one programme's section: every REPORT_COLUMNS value, criteria as a table."""
    flowables: list[Any] = []
    rows = []
    criteria_heading = ""
    for heading, accessor in REPORT_COLUMNS:
        if accessor is programme_name:
            title = gettext("%(rank)s. %(name)s") % {
                "rank": rank,
                "name": accessor(match),
            }
            flowables += _heading(title, styles.h3, 50 * mm)
        elif accessor is criteria:
            criteria_heading = str(heading)  # laid out below as a table
        else:
            value = accessor(match)
            style = (
                styles.tiers[match.tier] if accessor is result_label else styles.body
            )
            rows.append(
                [
                    _para(str(heading), styles.label),
                    _para(value, style) if value else _para("—", styles.muted),
                ]
            )
    flowables.append(_grid(rows, [LABEL_WIDTH, CONTENT_WIDTH - LABEL_WIDTH]))
    if match.results:
        state_width, basis_width = 20 * mm, 30 * mm
        criteria_rows: list[list[Any]] = [
            [
                _para(gettext("State"), styles.label),
                _para(criteria_heading, styles.label),
                _para(gettext("Basis"), styles.label),
            ]
        ]
        for result in match.results:
            state, reason, basis = criterion_parts(result)
            criteria_rows.append(
                [
                    _para(state, styles.states[result.state]),
                    _para(reason, styles.small),
                    _para(basis, styles.muted),
                ]
            )
        flowables += [
            Spacer(1, 4),
            _grid(
                criteria_rows,
                [state_width, CONTENT_WIDTH - state_width - basis_width, basis_width],
                header=True,
            ),
        ]
    return flowables


def _footer(font: str, disclaimer: str, page_label: str) -> Callable[[Any, Any], None]:
    def draw(canvas: Any, doc: Any) -> None:
        size = 7.5
        page = page_label % {"number": doc.page}
        room = CONTENT_WIDTH - pdfmetrics.stringWidth(page, font, size) - 8 * mm
        width = pdfmetrics.stringWidth(disclaimer, font, size)
        canvas.saveState()
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.4)
        canvas.line(MARGIN, 12 * mm, A4[0] - MARGIN, 12 * mm)
        canvas.setFillColor(MUTED)
        canvas.setFont(font, size)
        canvas.drawRightString(A4[0] - MARGIN, 8 * mm, page)
        canvas.setFont(font, size if width <= room else size * room / width)
        canvas.drawString(MARGIN, 8 * mm, disclaimer)
        canvas.restoreState()

    return draw


def render_pdf(report: MatchReport) -> bytes:
    """Return the report as an A4 PDF in the active language."""
    font = cjk_font()
    language = get_language() or "en"
    styles = _Styles(font, chinese=language.startswith("zh"))
    title = gettext("ReliefMatch report")
    story: list[Any] = [
        _para(title, styles.title),
        _para(
            gettext("Results as of %(date)s · catalogue version %(version)s")
            % {"date": _date(report.as_of), "version": report.catalogue_version or "—"},
            styles.meta,
        ),
    ]
    story += _answers(report, styles)
    story += _counts(report, styles)
    story += _heading(gettext("Programmes in this report"), styles.h2, 60 * mm)
    matches = report_matches(report)
    if not matches:
        story.append(_para(gettext("No programme fits your answers yet."), styles.body))
    for rank, match in enumerate(matches, start=1):
        story += _card(rank, match, styles)

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 4 * mm,
        title=title,
        author="ReliefMatch",
        lang=language,
        initialFontName=font,
    )
    footer = _footer(
        font,
        gettext(
            "ReliefMatch shows 2020 programmes from public sources; check with the "
            "provider before you apply."
        ),
        gettext("Page %(number)s"),
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
