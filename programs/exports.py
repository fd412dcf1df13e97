"""
Exports of the staff match report: result rows as CSV and XLSX, counts as PDF.

Contract
--------
* The rows come from ``reporting.report_queryset``: scoped to what the user
  may see, filtered, and annotated with ``shared_email``, ``shared_name`` and
  ``shared_phone``, which are empty in SQL for businesses that did not
  consent to share them. Exports read contacts from those annotations only,
  never from the profile's own columns.
* ``EXPORT_COLUMNS`` is the one column specification of every format:
  ``Column(key, heading, lookup, format)``. ``lookup`` is an argument of
  ``QuerySet.values_list`` (a path or an expression); ``format`` turns the
  value into a cell: text, a number, or None for an empty cell.
  ``columns()`` returns the specification for the active language
  (programme and provider names, code labels); call it once per export, when
  it starts, so a streamed response keeps the language of its request.
* ``iter_rows`` reads the rows in primary-key order with
  ``values_list().iterator()``, so memory does not grow with the number of
  rows. Every text cell passes through ``reports.neutralise``, so a
  spreadsheet never runs a cell as a formula; numbers stay numbers.
* ``write_csv`` writes to a text file object (open it with ``newline=""``;
  the caller adds a byte order mark if it wants one) and ``write_xlsx`` to
  a path or a binary file object; both return the number of rows.
  ``csv_response`` streams; ``xlsx_response`` builds the workbook in a
  temporary file that disappears when the response is closed.
* ``render_summary_pdf`` lays out a ``reporting.Summary``: counts and
  charts, never a contact detail.

Dates are ISO 8601 (2020-06-15); submission times are local
("2020-06-15 14:05" in settings.TIME_ZONE).
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import io
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import IO, Any, TextIO

import xlsxwriter
from django.conf import settings
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Coalesce, NullIf
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.http import content_disposition_header
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import SimpleDocTemplate, Spacer

from . import charts, matching, reporting, reports
from .models import StoredResult

# --------------------------------------------------------------------------
# The column specification
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    heading: Promise | str
    lookup: Any  # a values_list() path or expression
    format: Callable[[Any], Any]


class Labels:
    """Format a vocabulary code as its label; unknown codes pass through."""

    def __init__(self, choices: Iterable[tuple[str, Any]] | dict[str, Any]):
        self.labels = dict(choices)

    def __call__(self, code: str | None) -> str | None:
        if code is None or code == "":
            return None
        return str(self.labels.get(code, code))

    def resolved(self) -> Callable[[str | None], str | None]:
        """Return the format with the labels translated now, in the active language."""
        get = {code: str(label) for code, label in self.labels.items()}.get

        def label(code: str | None) -> str | None:
            return get(code, code) if code else None

        return label


def same(value: Any) -> Any:
    return value


class LocalMinute:
    """Format an aware datetime as local "YYYY-MM-DD HH:MM"."""

    def __call__(self, value: datetime.datetime | None) -> str | None:
        return self.resolved()(value)

    def resolved(self) -> Callable[[datetime.datetime | None], str | None]:
        """Return the format bound to the current time zone (looked up once)."""
        zone = timezone.get_current_timezone()

        def local_minute(value: datetime.datetime | None) -> str | None:
            if value is None:
                return None
            return value.astimezone(zone).isoformat(" ", "minutes")[:16]

        return local_minute


def iso_date(value: datetime.date | None) -> str | None:
    return None if value is None else value.isoformat()


#: The one column specification of the export (CSV and XLSX), English names.
EXPORT_COLUMNS: tuple[Column, ...] = (
    Column("submitted_at", _("Submitted at"), "profile__created_at", LocalMinute()),
    Column("profile", _("Profile"), "profile_id", same),
    Column("programme", _("Programme"), "programme__slug", same),
    Column("programme_name", _("Programme name"), "programme__name_en", same),
    Column("provider", _("Provider"), "programme__provider__name_en", same),
    Column(
        "tier", _("Result"), reporting.tier_expression(), Labels(reports.TIER_LABELS)
    ),
    Column(
        "availability",
        _("Availability"),
        "availability",
        Labels(matching.AVAILABILITY_LABELS),
    ),
    Column("score", _("Score"), "score", same),
    Column("as_of", _("As of"), "as_of", iso_date),
    Column("catalogue_version", _("Catalogue version"), "catalogue_version", same),
    Column(
        "business_type",
        _("Type of business"),
        "profile__business_type",
        Labels(matching.BUSINESS_TYPES),
    ),
    Column("province", _("Province"), "profile__province", Labels(matching.PROVINCES)),
    Column("city", _("City"), "profile__city", same),
    Column("employees", _("Employees"), "profile__employees", same),
    Column(
        "annual_revenue_cny",
        _("Annual revenue (CNY)"),
        "profile__annual_revenue_cny",
        same,
    ),
    Column(
        "size_class",
        _("Size class"),
        "profile__size_class",
        Labels(matching.SIZE_CLASSES),
    ),
    Column(
        "runway_months",
        _("Months of cash runway"),
        "profile__runway_months",
        same,
    ),
    Column("urgency", _("Urgency"), "profile__urgency", Labels(matching.URGENCIES)),
    Column("contact_name", _("Contact name"), "shared_name", same),
    Column("contact_email", _("Contact email"), "shared_email", same),
    Column("contact_phone", _("Contact phone"), "shared_phone", same),
)

#: Columns whose lookup ends in _en and has a _zh_hans twin.
LOCALIZED_KEYS = frozenset({"programme_name", "provider"})


def chinese_first(path: str) -> Coalesce:
    """Return <path>_zh_hans, or <path>_en where the Chinese is empty."""
    return Coalesce(NullIf(F(f"{path}_zh_hans"), Value("")), F(f"{path}_en"))


def columns() -> tuple[Column, ...]:
    """Return EXPORT_COLUMNS for the active language and time zone.

    Headings, names, labels and the time zone are fixed now, so rows written
    later (by a streamed response) keep them, and per-row work stays small.
    """
    chinese = (get_language() or "en").startswith("zh")
    result = []
    for column in EXPORT_COLUMNS:
        lookup, fmt = column.lookup, column.format
        if chinese and column.key in LOCALIZED_KEYS:
            lookup = chinese_first(lookup.removesuffix("_en"))
        if isinstance(fmt, Labels | LocalMinute):
            fmt = fmt.resolved()
        result.append(
            replace(column, heading=str(column.heading), lookup=lookup, format=fmt)
        )
    return tuple(result)


def headings(spec: Iterable[Column]) -> list[str]:
    return [reports.neutralise(str(column.heading)) for column in spec]


CHUNK_SIZE = 2000


def iter_rows(
    queryset: QuerySet[StoredResult], *, spec: tuple[Column, ...] | None = None
) -> Iterator[tuple[Any, ...]]:
    """Yield the export's rows as cells, in primary-key order, a chunk at a time."""
    spec = spec or columns()
    formatted = [(i, c.format) for i, c in enumerate(spec) if c.format is not same]
    prefixes, neutralise = reports.FORMULA_PREFIXES, reports.neutralise
    rows = (
        queryset.order_by("pk")
        .values_list(*(column.lookup for column in spec))
        .iterator(chunk_size=CHUNK_SIZE)
    )
    for values in rows:
        row = list(values)
        for i, fmt in formatted:
            row[i] = fmt(row[i])
        for i, value in enumerate(row):
            # The same test as neutralise's, inlined: this loop runs per cell.
            if isinstance(value, str) and value.startswith(prefixes):
                row[i] = neutralise(value)
        yield tuple(row)


Progress = Callable[[int], None]
PROGRESS_EVERY = 10_000


class _Counted:
    """Iterate over rows, counting them; call progress(n) every PROGRESS_EVERY rows."""

    def __init__(self, rows: Iterable[Any], progress: Progress | None = None):
        self.rows = rows
        self.progress = progress
        self.count = 0

    def __iter__(self) -> Iterator[Any]:
        progress = self.progress
        for row in self.rows:
            yield row
            self.count += 1
            if progress is not None and self.count % PROGRESS_EVERY == 0:
                progress(self.count)
        if progress is not None:
            progress(self.count)


# --------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------

BOM = "\ufeff"


def write_csv(
    queryset: QuerySet[StoredResult], fp: TextIO, *, progress: Progress | None = None
) -> int:
    """Write the rows as CSV, headings in the active language; return the row count."""
    spec = columns()
    writer = csv.writer(fp)
    writer.writerow(headings(spec))
    rows = _Counted(iter_rows(queryset, spec=spec), progress)
    writer.writerows(rows)
    return rows.count


class _Echo:
    """A file-like object whose write returns what it is given."""

    def write(self, value: str) -> str:
        return value


#: Lines are sent in chunks of about this many characters: a chunk per row
#: would cost a socket write (and chunked-encoding framing) per row.
STREAM_CHUNK = 32 * 1024


def _csv_stream(
    queryset: QuerySet[StoredResult], spec: tuple[Column, ...]
) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield BOM + writer.writerow(headings(spec))
    lines: list[str] = []
    size = 0
    for row in iter_rows(queryset, spec=spec):
        line = writer.writerow(row)
        lines.append(line)
        size += len(line)
        if size >= STREAM_CHUNK:
            yield "".join(lines)
            lines.clear()
            size = 0
    if lines:
        yield "".join(lines)


def csv_response(
    queryset: QuerySet[StoredResult], filename: str
) -> StreamingHttpResponse:
    """Return the rows as a streamed CSV attachment with a byte order mark."""
    spec = columns()  # now, in the request's language, not when streaming
    response = StreamingHttpResponse(
        _csv_stream(queryset, spec), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


# --------------------------------------------------------------------------
# XLSX
# --------------------------------------------------------------------------

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Column widths in characters; others get DEFAULT_WIDTH.
WIDTHS = {
    "submitted_at": 17,
    "profile": 8,
    "programme": 28,
    "programme_name": 40,
    "provider": 24,
    "tier": 16,
    "business_type": 26,
    "city": 14,
    "urgency": 30,
    "contact_name": 16,
    "contact_email": 28,
    "contact_phone": 16,
}
DEFAULT_WIDTH = 12


def write_xlsx(
    queryset: QuerySet[StoredResult],
    target: str | IO[bytes],
    *,
    progress: Progress | None = None,
) -> int:
    """Write the rows as an XLSX workbook to a path or binary file; return the row count.

    XlsxWriter's constant-memory mode flushes each row to a temporary file
    once the next starts, so memory stays flat; rows must come in order.
    """
    spec = columns()
    workbook = xlsxwriter.Workbook(
        target,
        {
            "constant_memory": True,
            "in_memory": False,
            # Cells are data, never formulas or links, whatever their text.
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    try:
        sheet = workbook.add_worksheet(gettext("Matches")[:31])
        bold = workbook.add_format({"bold": True})
        for i, column in enumerate(spec):
            sheet.set_column(i, i, WIDTHS.get(column.key, DEFAULT_WIDTH))
        for i, heading in enumerate(headings(spec)):
            sheet.write_string(0, i, heading, bold)
        sheet.freeze_panes(1, 0)
        rows = _Counted(iter_rows(queryset, spec=spec), progress)
        for count, row in enumerate(rows, start=1):
            for i, value in enumerate(row):
                if value is None or value == "":
                    continue
                if isinstance(value, str):
                    sheet.write_string(count, i, value)
                elif isinstance(value, Decimal):
                    sheet.write_number(count, i, float(value))
                else:
                    sheet.write_number(count, i, value)
        sheet.autofilter(0, 0, max(rows.count, 1), len(spec) - 1)
    except BaseException:
        # Close to remove XlsxWriter's own temporary files; the caller
        # discards the partial workbook.
        with contextlib.suppress(Exception):  # the first error is the one to report
            workbook.close()
        raise
    workbook.close()
    return rows.count


def xlsx_response(queryset: QuerySet[StoredResult], filename: str) -> FileResponse:
    """Return the rows as an XLSX attachment, built in a temporary file.

    The file has no name on POSIX (TemporaryFile unlinks it at once) and is
    gone when the response closes it after sending.
    """
    fh = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - the response closes it
    try:
        write_xlsx(queryset, fh)
        fh.seek(0)
    except BaseException:
        fh.close()
        raise
    return FileResponse(
        fh, as_attachment=True, filename=filename, content_type=XLSX_TYPE
    )


# --------------------------------------------------------------------------
# PDF summary
# --------------------------------------------------------------------------


def _count(n: int) -> str:
    return format(n, ",")


def _table(
    header: list[str],
    rows: list[list[str]],
    widths: list[float],
    styles: Any,
) -> Any:
    """Return a table with a text first column and right-aligned counts."""
    label_right = ParagraphStyle("label-right", styles.label, alignment=TA_RIGHT)
    body_right = ParagraphStyle("body-right", styles.body, alignment=TA_RIGHT)
    cells = [
        [
            reports._para(text, styles.label if i == 0 else label_right)
            for i, text in enumerate(header)
        ]
    ]
    cells += [
        [
            reports._para(text, styles.body if i == 0 else body_right)
            for i, text in enumerate(row)
        ]
        for row in rows
    ]
    return reports._grid(cells, widths, header=True)


def _urgencies(summary: reporting.Summary) -> list[tuple[str, str, int]]:
    """Return the urgency counts from most to least urgent, unknown last."""
    order = [code for code, _label in matching.URGENCIES] + ["unknown"]
    return [
        (code, gettext("not known") if code == "unknown" else label, n)
        for code, label, n in sorted(
            summary.per_urgency,
            key=lambda row: order.index(row[0]) if row[0] in order else len(order),
        )
    ]


def render_summary_pdf(
    summary: reporting.Summary, *, title: str, filters_text: str
) -> bytes:
    """Return the summary as an A4 PDF in the active language: counts, charts, tables."""
    font = reports.cjk_font()
    language = get_language() or "en"
    styles = reports._Styles(font, chinese=language.startswith("zh"))
    now = timezone.localtime()
    story: list[Any] = [
        reports._para(title, styles.title),
        reports._para(
            gettext("Generated %(time)s (%(zone)s)")
            % {"time": now.strftime("%Y-%m-%d %H:%M"), "zone": settings.TIME_ZONE},
            styles.meta,
        ),
        reports._para(
            gettext("Filters: %(filters)s") % {"filters": filters_text}, styles.body
        ),
        reports._para(
            gettext("%(rows)s result rows from %(profiles)s businesses.")
            % {"rows": _count(summary.rows), "profiles": _count(summary.profiles)},
            styles.body,
        ),
        Spacer(1, 8),
        charts.eligible_per_programme(summary),
        Spacer(1, 10),
        charts.runway_vs_survey(summary),
    ]
    if summary.runway_unknown:
        story.append(
            reports._para(
                gettext(
                    "%(unknown)s businesses did not give a cash runway and are left "
                    "out of the runway chart."
                )
                % {"unknown": _count(summary.runway_unknown)},
                styles.muted,
            )
        )

    tiers = reporting.TIERS
    tier_width = 21 * mm
    name_width = reports.CONTENT_WIDTH - tier_width * (len(tiers) + 1)
    story += reports._heading(gettext("Results per programme"), styles.h2, 30 * mm)
    if summary.per_programme:
        story.append(
            _table(
                [
                    gettext("Programme"),
                    *(reports._upper_first(str(reports.TIER_LABELS[t])) for t in tiers),
                    gettext("Total"),
                ],
                [
                    [
                        str(name),
                        *(_count(counts[t]) for t in tiers),
                        _count(sum(counts.values())),
                    ]
                    for _slug, name, counts in summary.per_programme
                ],
                [name_width] + [tier_width] * (len(tiers) + 1),
                styles,
            )
        )
    else:
        story.append(
            reports._para(gettext("No results match these filters."), styles.muted)
        )

    count_width = 30 * mm
    for heading, label_heading, rows in (
        (gettext("Businesses per province"), gettext("Province"), summary.per_province),
        (gettext("Businesses per urgency"), gettext("Urgency"), _urgencies(summary)),
    ):
        story += reports._heading(heading, styles.h2, 30 * mm)
        if rows:
            story.append(
                _table(
                    [label_heading, gettext("Businesses")],
                    [[str(label), _count(n)] for _code, label, n in rows],
                    [reports.CONTENT_WIDTH - count_width, count_width],
                    styles,
                )
            )
        else:
            story.append(
                reports._para(gettext("No results match these filters."), styles.muted)
            )

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=reports.MARGIN,
        rightMargin=reports.MARGIN,
        topMargin=reports.MARGIN,
        bottomMargin=reports.MARGIN + 4 * mm,
        title=title,
        author="ReliefMatch",
        lang=language,
        initialFontName=font,
    )
    footer = reports._footer(
        font,
        gettext("ReliefMatch match report: counts only, no contact details."),
        gettext("Page %(number)s"),
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
