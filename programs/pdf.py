"""
The PDF toolkit shared by the personal report and the staff summary.

All text is set in the CJK font named by ``settings.REPORT_CJK_FONT`` (it
covers Latin too) and embedded, so a file reads the same on any machine;
the font is registered once per process. ``Styles`` holds the paragraph
styles, ``para``/``heading``/``grid`` build flowables, ``footer`` draws the
page footer.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import get_language, gettext
from reportlab.graphics.barcode.qr import QrCode
from reportlab.lib import colors
from reportlab.lib import textsplit as rl_textsplit
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    Paragraph,
    SimpleDocTemplate,
    Table,
    TableStyle,
)
from reportlab.platypus import paragraph as rl_paragraph

from programs.engine.matching import Tier
from programs.engine.rules import State

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
def register_font(path: str) -> str:
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
    return register_font(str(settings.REPORT_CJK_FONT))


INK = colors.HexColor("#212529")
MUTED = colors.HexColor("#6c757d")
RULE = colors.HexColor("#ced4da")
SHADE = colors.HexColor("#f1f3f5")
ACCENT = colors.HexColor("#0b5394")
TIER_COLOURS = {
    Tier.ELIGIBLE: colors.HexColor("#1e7b34"),
    Tier.POSSIBLY_ELIGIBLE: colors.HexColor("#8a5a00"),
    Tier.NEAR_MISS: colors.HexColor("#b02a37"),
    Tier.NOT_ELIGIBLE: MUTED,
}
STATE_COLOURS = {
    State.MET: TIER_COLOURS[Tier.ELIGIBLE],
    State.NOT_MET: TIER_COLOURS[Tier.NEAR_MISS],
    State.UNKNOWN: TIER_COLOURS[Tier.POSSIBLY_ELIGIBLE],
}
#: Frame and ground of a boxed notice, as the page's Bootstrap alerts.
ALERTS = {
    "danger": (colors.HexColor("#b02a37"), colors.HexColor("#f8d7da")),
    "warning": (colors.HexColor("#997404"), colors.HexColor("#fff3cd")),
    "info": (colors.HexColor("#087990"), colors.HexColor("#cff4fc")),
}
MARGIN = 16 * mm
BOTTOM_MARGIN = MARGIN + 4 * mm  # room for the footer
#: The height a page holds: A4 less the margins and the frame's 6 pt paddings.
FRAME_HEIGHT = A4[1] - MARGIN - BOTTOM_MARGIN - 2 * 6
CONTENT_WIDTH = A4[0] - 2 * MARGIN
LABEL_WIDTH = 34 * mm


class Styles:
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
        self.lead = ParagraphStyle("lead", base, fontSize=12, leading=16)
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
        # An address breaks anywhere, in either language: it has no spaces.
        self.link = ParagraphStyle(
            "link", base, fontSize=10, leading=13.5, textColor=ACCENT, wordWrap="CJK"
        )
        # The font has one weight: what stands out is a size larger.
        self.strong = ParagraphStyle("strong", base, fontSize=10.5, leading=14.5)
        self.muted = ParagraphStyle("muted", self.small, textColor=MUTED)
        self.tiers = {
            tier: ParagraphStyle(str(tier), base, textColor=colour)
            for tier, colour in TIER_COLOURS.items()
        }
        self.states = {
            state: ParagraphStyle(str(state), self.small, textColor=colour)
            for state, colour in STATE_COLOURS.items()
        }


def para(text: str, style: ParagraphStyle) -> Paragraph:
    """Return a Paragraph of plain text: markup escaped, line breaks kept."""
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def heading(text: str, style: ParagraphStyle, room: float) -> list[Any]:
    """Return a heading that starts a new page unless `room` is left below it.

    Cheaper and tighter than keepWithNext, which would push a whole
    programme card to the next page rather than split its table.
    """
    return [CondPageBreak(room), para(text, style)]


def link(url: str, style: ParagraphStyle) -> Paragraph:
    """Return the address as text that opens it when clicked in a PDF reader."""
    text = escape(url)
    href = escape(url, {'"': "&quot;"})
    return Paragraph(f'<a href="{href}">{text}</a>', style)


def qr_code(value: str, size: float) -> Flowable:
    """Return a QR code of the text, `size` wide and high with its quiet zone."""
    return QrCode(value, width=size, height=size, qrLevel="M", qrBorder=4)


def boxed(flowables: list[Any], kind: str) -> Table:
    """Return the flowables in a box the width of the page, coloured as ALERTS[kind]."""
    border, background = ALERTS[kind]
    table = Table([[flowables]], colWidths=[CONTENT_WIDTH], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.8, border),
                ("BACKGROUND", (0, 0), (-1, -1), background),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
                ("RIGHTPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    return table


class FlowingTable(Table):
    """A table whose rows stay whole, except a row taller than a page, which flows on.

    ReportLab moves a row that does not fit to the next page, and fails with
    ``LayoutError`` on a row taller than a whole page (a programme text of
    some thousands of characters in one cell). Such a table splits inside
    rows instead (``splitInRow``), its paragraphs across pages, line by
    line. (No least height on either side of a break: a row only just
    taller than a page would then have no place to break at all.) A table
    whose rows all fit on a page is laid out exactly as a plain ``Table``.
    """

    def split(self, availWidth: float, availHeight: float) -> list[Any]:
        self._calc(availWidth, availHeight)
        heights = self._rowHeights
        # The tallest row with the heading rows repeated above it on a page.
        needed = max(heights, default=0) + sum(heights[: self.repeatRows])
        self.splitInRow = 1 if needed > FRAME_HEIGHT else 0
        return super().split(availWidth, availHeight)


def grid(rows: list[list[Any]], widths: list[float], *, header: bool = False) -> Table:
    """Return a table of label and value rows; one taller than a page flows on."""
    table = FlowingTable(
        rows,
        colWidths=widths,
        repeatRows=1 if header else 0,
        hAlign="LEFT",
    )
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


def build(story: list[Any], *, title: str, font: str, disclaimer: str) -> bytes:
    """Return an A4 PDF of the flowables, in the active language, with the footer."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=BOTTOM_MARGIN,
        title=title,
        author="ReliefMatch",
        lang=get_language() or "en",
        initialFontName=font,
    )
    draw = footer(font, disclaimer, gettext("Page %(number)s"))
    doc.build(story, onFirstPage=draw, onLaterPages=draw)
    return buffer.getvalue()


def footer(font: str, disclaimer: str, page_label: str) -> Callable[[Any, Any], None]:
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
