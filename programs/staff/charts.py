"""
Charts of the staff match report, as ReportLab drawings.

Contract
--------
* Each chart function takes a ``match_report.Summary`` and returns a ``Chart``
  (a ReportLab ``Drawing`` with a text ``description`` of what it shows).
  A drawing is a PDF flowable, so the PDF summary places it as it is; the
  admin page inlines ``svg(drawing)``.
* Labels are in the active language and set in the report's CJK font, so
  Chinese programme names render in the PDF and are measured right in SVG.
* Dynamic text is never markup here: ReportLab draws strings as they are,
  and the SVG writer escapes them.
"""

from __future__ import annotations

import re
import zlib
from xml.sax.saxutils import escape

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext
from reportlab.graphics import renderSVG
from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.attrmap import AttrMap, AttrMapValue
from reportlab.lib.validators import isString
from reportlab.pdfbase.pdfmetrics import stringWidth

from programs import pdf
from programs.engine.matching import Tier
from programs.staff import match_report

WIDTH = pdf.CONTENT_WIDTH
TITLE_SIZE = 10
LABEL_SIZE = 7.5
SMALL_SIZE = 7
#: Programmes drawn in the first chart; the PDF's table lists them all.
MAX_PROGRAMMES = 25
SURVEY_COLOUR = colors.HexColor("#adb5bd")
#: Fonts a browser can use for the SVG text in place of the PDF font's name.
SVG_FONTS = (
    "'WenQuanYi Micro Hei', 'Noto Sans CJK SC', 'Source Han Sans SC', "
    "'PingFang SC', 'Microsoft YaHei', sans-serif"
)


class Chart(Drawing):
    """A drawing with a plain-text description for screen readers."""

    _attrMap = AttrMap(BASE=Drawing, description=AttrMapValue(isString))

    def __init__(self, width: float, height: float, description: str, font_name: str):
        super().__init__(width, height)
        self.description = description
        # The renderers set this font before any text; without it the PDF
        # would name Helvetica, unembedded.
        self.initialFontName = font_name


def font() -> str:
    """Return the report font, or Helvetica when it is not installed.

    The PDF insists on the CJK font (pdf.cjk_font raises); the admin
    page's SVG charts still draw without it, since browsers bring their own
    Chinese fonts.
    """
    try:
        return pdf.cjk_font()
    except ImproperlyConfigured:
        return "Helvetica"


def _fit(text: str, width: float, font_name: str, size: float) -> str:
    """Return text shortened with an ellipsis to fit width points."""
    if stringWidth(text, font_name, size) <= width:
        return text
    while text and stringWidth(text + "…", font_name, size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _step(top: float) -> int:
    """Return a whole-number axis step giving about five ticks up to top."""
    rough = max(top / 5, 1)
    magnitude = 10 ** (len(str(int(rough))) - 1)
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= rough:
            return factor * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def _title(drawing: Drawing, text: str, font_name: str) -> None:
    drawing.add(
        String(
            0,
            drawing.height - TITLE_SIZE - 2,
            text,
            fontName=font_name,
            fontSize=TITLE_SIZE,
            fillColor=pdf.ACCENT,
        )
    )


def _count(n: float) -> str:
    return format(round(n), ",")


def eligible_per_programme(summary: match_report.Summary) -> Chart:
    """Return a horizontal bar chart of eligible businesses per programme."""
    font_name = font()
    rows = [
        (str(name), counts["eligible"]) for _slug, name, counts in summary.per_programme
    ]
    shown = rows[:MAX_PROGRAMMES]
    title = gettext("Eligible businesses per programme")
    if shown:
        description = gettext("Bar chart: %(title)s. %(values)s") % {
            "title": title,
            "values": "; ".join(f"{name}: {_count(n)}" for name, n in rows),
        }
    else:
        description = gettext("%(title)s: no results match these filters.") % {
            "title": title
        }
    step_height = 15
    top, bottom = TITLE_SIZE + 14, 22
    height = top + bottom + max(len(shown), 1) * step_height
    if len(rows) > len(shown):
        height += 12
    drawing = Chart(WIDTH, height, description, font_name)
    _title(drawing, title, font_name)
    if not shown:
        drawing.add(
            String(
                0,
                bottom,
                gettext("No results match these filters."),
                fontName=font_name,
                fontSize=LABEL_SIZE,
                fillColor=pdf.MUTED,
            )
        )
        return drawing

    label_width = WIDTH * 0.42
    chart = HorizontalBarChart()
    chart.x = label_width + 6
    chart.y = bottom
    chart.width = WIDTH - chart.x - 36
    chart.height = len(shown) * step_height
    # Categories run bottom to top: reverse so the largest bar is on top.
    values = [n for _name, n in reversed(shown)]
    chart.data = [values]
    chart.categoryAxis.categoryNames = [
        _fit(name, label_width - 4, font_name, LABEL_SIZE)
        for name, _n in reversed(shown)
    ]
    chart.categoryAxis.labels.fontName = font_name
    chart.categoryAxis.labels.fontSize = LABEL_SIZE
    chart.categoryAxis.labels.boxAnchor = "e"
    chart.categoryAxis.labels.dx = -4
    chart.categoryAxis.strokeColor = pdf.RULE
    chart.categoryAxis.tickLeft = 0
    top_value = max(max(values), 1)
    step = _step(top_value)
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = -(-top_value // step) * step
    chart.valueAxis.valueStep = step
    chart.valueAxis.labels.fontName = font_name
    chart.valueAxis.labels.fontSize = SMALL_SIZE
    chart.valueAxis.labelTextFormat = _count
    chart.valueAxis.strokeColor = pdf.RULE
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = pdf.SHADE
    chart.bars[0].fillColor = pdf.TIER_COLOURS[Tier.ELIGIBLE]
    chart.bars[0].strokeColor = None
    chart.barWidth = 10
    chart.barLabelFormat = _count
    chart.barLabels.fontName = font_name
    chart.barLabels.fontSize = SMALL_SIZE
    chart.barLabels.boxAnchor = "w"
    chart.barLabels.dx = 3
    drawing.add(chart)
    if len(rows) > len(shown):
        drawing.add(
            String(
                0,
                2,
                gettext(
                    "The first %(shown)s of %(total)s programmes; the table lists all."
                )
                % {"shown": len(shown), "total": len(rows)},
                fontName=font_name,
                fontSize=SMALL_SIZE,
                fillColor=pdf.MUTED,
            )
        )
    return drawing


def _percent(value: float) -> str:
    return f"{value:.0f}%"


def runway_vs_survey(summary: match_report.Summary) -> Chart:
    """Return the runway bands of the profiles beside the 2020 survey's figures.

    Left: share of profiles with a known runway in each of RUNWAY_BANDS.
    Right: the cumulative shares (one month or less, three or less) of these
    profiles and of the survey, which published only those two figures.
    """
    font_name = font()
    known = sum(n for _band, n in summary.runway)
    shares = [100 * n / known if known else 0.0 for _band, n in summary.runway]
    cumulative = summary.runway_cumulative_pct()
    survey = match_report.SURVEY_CUMULATIVE
    title = gettext("Months of cash runway, compared with the 2020 survey")
    ours_label = gettext("These businesses")
    survey_label = gettext("2020 survey")
    one_label = gettext("≤1 month")
    three_label = gettext("≤3 months")
    source = gettext(
        "Source: Peking University ESIEC survey, February 2020, 2,349 firms."
    )
    description = gettext(
        "Bar charts: %(title)s. Businesses with a known runway: %(known)s; "
        "not known: %(unknown)s. %(bands)s. One month or less: %(one)s here, "
        "%(survey_one)s in the survey. Three months or less: %(three)s here, "
        "about %(survey_three)s in the survey. %(source)s"
    ) % {
        "title": title,
        "known": _count(known),
        "unknown": _count(summary.runway_unknown),
        "bands": "; ".join(
            gettext("%(band)s months: %(share)s") % {"band": band, "share": _percent(p)}
            for (band, _n), p in zip(summary.runway, shares, strict=True)
        ),
        "one": _percent(cumulative["one"]),
        "survey_one": _percent(survey["one"]),
        "three": _percent(cumulative["three"]),
        "survey_three": _percent(survey["three"]),
        "source": source,
    }

    height = 190
    bottom = 44
    chart_height = height - bottom - TITLE_SIZE - 26
    drawing = Chart(WIDTH, height, description, font_name)
    _title(drawing, title, font_name)

    half = WIDTH / 2
    bands = VerticalBarChart()
    bands.x, bands.y = 28, bottom
    bands.width, bands.height = half - 48, chart_height
    bands.data = [shares]
    bands.categoryAxis.categoryNames = [band for band, _n in summary.runway]
    _style_percent_chart(bands, font_name)
    bands.bars[0].fillColor = pdf.ACCENT
    bands.barLabelFormat = _percent
    drawing.add(bands)
    drawing.add(
        String(
            bands.x + bands.width / 2,
            bottom - 24,
            gettext("months of cash runway (%(known)s businesses known)")
            % {"known": _count(known)},
            fontName=font_name,
            fontSize=SMALL_SIZE,
            fillColor=pdf.MUTED,
            textAnchor="middle",
        )
    )

    compare = VerticalBarChart()
    compare.x, compare.y = half + 28, bottom
    compare.width, compare.height = half - 110, chart_height
    compare.data = [
        [cumulative["one"], cumulative["three"]],
        [survey["one"], survey["three"]],
    ]
    compare.categoryAxis.categoryNames = [one_label, three_label]
    _style_percent_chart(compare, font_name)
    compare.bars[0].fillColor = pdf.ACCENT
    compare.bars[1].fillColor = SURVEY_COLOUR
    compare.barLabelFormat = "values"  # take the labels from barLabelArray
    compare.barLabelArray = [
        [_percent(cumulative["one"]), _percent(cumulative["three"])],
        [_percent(survey["one"]), "≈" + _percent(survey["three"])],
    ]
    drawing.add(compare)

    legend = Legend()
    legend.x = compare.x + compare.width + 10
    legend.y = bottom + chart_height
    legend.fontName = font_name
    legend.fontSize = SMALL_SIZE
    legend.boxAnchor = "nw"
    legend.columnMaximum = 2
    legend.dx = legend.dy = 7
    legend.deltay = 12
    legend.strokeColor = None
    legend.colorNamePairs = [
        (pdf.ACCENT, _fit(ours_label, 60, font_name, SMALL_SIZE)),
        (SURVEY_COLOUR, _fit(survey_label, 60, font_name, SMALL_SIZE)),
    ]
    drawing.add(legend)
    drawing.add(
        String(
            compare.x + compare.width / 2,
            bottom - 24,
            gettext("cumulative share"),
            fontName=font_name,
            fontSize=SMALL_SIZE,
            fillColor=pdf.MUTED,
            textAnchor="middle",
        )
    )
    drawing.add(
        String(
            0,
            4,
            _fit(source, WIDTH, font_name, SMALL_SIZE),
            fontName=font_name,
            fontSize=SMALL_SIZE,
            fillColor=pdf.MUTED,
        )
    )
    return drawing


def _style_percent_chart(chart: VerticalBarChart, font_name: str) -> None:
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = 100
    chart.valueAxis.valueStep = 25
    chart.valueAxis.labelTextFormat = _percent
    chart.valueAxis.labels.fontName = font_name
    chart.valueAxis.labels.fontSize = SMALL_SIZE
    chart.valueAxis.strokeColor = pdf.RULE
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = pdf.SHADE
    chart.categoryAxis.labels.fontName = font_name
    chart.categoryAxis.labels.fontSize = LABEL_SIZE
    chart.categoryAxis.labels.dy = -2
    chart.categoryAxis.strokeColor = pdf.RULE
    chart.barLabels.fontName = font_name
    chart.barLabels.fontSize = SMALL_SIZE
    chart.barLabels.boxAnchor = "s"
    chart.barLabels.dy = 2
    chart.barSpacing = 2
    for i in range(len(chart.data)):
        chart.bars[i].strokeColor = None


_XML_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.DOTALL)
_SVG_IDS = re.compile(r'\bid="([^"]+)"')
_STYLE = re.compile(r' style="([^"]*)"')


def _attributes(match: re.Match[str]) -> str:
    """Return a style attribute's declarations as presentation attributes.

    A Content-Security-Policy without 'unsafe-inline' styles blocks style
    attributes, and the chart would lose its colours; presentation
    attributes are not styles and always apply.
    """
    parts = []
    for declaration in match.group(1).split(";"):
        name, colon, value = declaration.partition(":")
        name, value = name.strip(), value.strip()
        if colon and re.fullmatch(r"[a-z-]+", name) and value:
            parts.append(f' {name}="{value}"')
    return "".join(parts)


def svg(drawing: Drawing, *, element_id: str = "") -> str:
    """Return the drawing as an <svg> element to inline in HTML.

    The XML prolog and doctype are stripped; the element gets role="img",
    an aria-label and a <title> from the chart's description. Its internal
    ids are prefixed (with element_id or a name derived from the
    description) so that two charts on one page do not share an id.
    """
    description = str(getattr(drawing, "description", "") or "")
    text = renderSVG.drawToString(
        drawing,
        useClip=True,  # a clip attribute, not a clipPath with a page-wide id
        svgAttrs={"role": "img", "aria-label": description},
    )
    text = _XML_PROLOG.sub("", text, count=1)
    text = text.replace(
        "<title>...</title>", f"<title>{escape(description)}</title>", 1
    )
    text = text.replace("<desc>...</desc>", "", 1)
    prefix = element_id or f"chart-{zlib.crc32(description.encode()):08x}"
    text = _SVG_IDS.sub(lambda m: f'id="{prefix}-{m.group(1)}"', text)
    text = text.replace(f"font-family: {font()}", f"font-family: {SVG_FONTS}")
    return _STYLE.sub(_attributes, text).strip()
