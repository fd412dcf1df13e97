"""
Exports of the staff match report: result rows as CSV and XLSX, counts as PDF.

Contract
--------
* The rows come from ``match_report.report_queryset``: scoped to what the user
  may see, filtered, and annotated with ``shared_email``, ``shared_name`` and
  ``shared_phone``, which are empty in SQL for businesses that did not
  consent to share them. Exports read contacts from those annotations only,
  never from the profile's own columns.
* ``EXPORT_COLUMNS`` is the one column specification of every format:
  ``Column(key, heading, lookup, format)``. ``lookup`` is an argument of
  ``QuerySet.values_list`` (a path or an expression). ``format`` is a
  ``Format`` with two forms that give the same cell: a Python form,
  ``format(value)``, which turns a value read through the ORM into a cell
  (text, a number, or None for an empty cell), and an SQL form,
  ``format.sql(expression)``, a PostgreSQL expression whose value is the
  finished cell: labels, local times and dates as text, text neutralised
  (unless ``formula_guard=False``), empty text as NULL, numbers as they are.
  ``columns()`` returns the specification for the active language and time
  zone (programme and provider names, code labels); call it once per
  export, when it starts, so a streamed response keeps the language of its
  request.
* ``iter_rows`` reads the rows in primary-key order with
  ``values_list().iterator()``, so memory does not grow with the number of
  rows. On PostgreSQL it selects the SQL forms, so rows arrive finished;
  elsewhere (or with ``sql_formats=False``) it applies the Python forms and
  passes every text cell through ``cells.neutralise``. Either way a
  spreadsheet never runs a cell as a formula, and numbers stay numbers.
  The guard's apostrophe is for CSV, whose cells a spreadsheet parses; XLSX
  writes every text cell as a string cell (``write_string``), which is never
  evaluated, so it reads ``iter_rows(formula_guard=False)`` and "=1+1" stays
  "=1+1".
* CSV: on PostgreSQL the rows are ``COPY (<the SQL forms' SELECT>) TO STDOUT
  (FORMAT csv)`` of the very same queryset, streamed from psycopg as it
  comes; elsewhere Python's csv module writes ``iter_rows``. The two give
  the same bytes for the same rows: fields quoted only where they hold a
  comma, a quote, CR or LF; empty text and NULL both as an empty field;
  lines ending in "\\n"; numbers as the database keeps them (2000000.00).
  ``write_csv`` writes to a text file object (open it with ``newline=""``;
  the caller adds a byte order mark if it wants one; ``copy=False`` makes
  it use Python's csv module on PostgreSQL too) and ``write_xlsx`` to
  a path or a binary file object; both return the number of rows and call
  ``progress(rows so far)`` after every ``PROGRESS_EVERY`` rows and at the
  end. ``csv_response`` streams with a byte order mark, in chunks of about
  ``STREAM_CHUNK`` bytes; ``xlsx_response`` builds the workbook in a
  temporary file that disappears when the response is closed.
* ``render_summary_pdf`` lays out a ``match_report.Summary``: counts and
  charts, never a contact detail.

Dates are ISO 8601 (2020-06-15); submission times are local
("2020-06-15 14:05" in the current time zone, settings.TIME_ZONE).
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import IO, TYPE_CHECKING, Any, cast

import xlsxwriter
from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Case, CharField, F, Func, QuerySet, Value, When
from django.db.models.functions import Coalesce, Left, NullIf, StrIndex
from django.db.models.lookups import Exact, GreaterThan, In, Lookup
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.http import content_disposition_header
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Spacer

from programs import cells, pdf
from programs.engine import contract, matching
from programs.engine.matching import Tier
from programs.models import StoredResult
from programs.staff import charts, match_report

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.postgresql.operations import (
        DatabaseOperations as PostgresOperations,
    )
    from django.db.models.sql.compiler import SQLCompiler

# --------------------------------------------------------------------------
# Cell formats, in Python and in SQL
# --------------------------------------------------------------------------


def neutralised(expression: Any, *, formula_guard: bool = True) -> Any:
    """Return the SQL form of ``cells.neutralise`` for a text expression.

    Text that starts with one of ``cells.FORMULA_PREFIXES`` gets a leading
    ', as neutralise gives it; empty text becomes NULL, which CSV and XLSX
    write as an empty cell, as they write the Python form's "". Without the
    formula guard (XLSX) only the empty text becomes NULL.
    """
    if not formula_guard:
        return NullIf(expression, Value(""))
    characters = "".join(p for p in cells.FORMULA_PREFIXES if len(p) == 1)
    longer: dict[int, list[str]] = {}
    for prefix in cells.FORMULA_PREFIXES:
        if len(prefix) > 1:
            longer.setdefault(len(prefix), []).append(prefix)
    # One-character prefixes: one strpos() call rather than an IN list.
    formula: list[Lookup[Any]] = [
        In(Left(expression, n), prefixes) for n, prefixes in longer.items()
    ]
    if characters:
        formula.insert(
            0, GreaterThan(StrIndex(Value(characters), Left(expression, 1)), 0)
        )
    quoted = Func(
        Value("'"),
        expression,
        template="(%(expressions)s)",
        arg_joiner=" || ",
        output_field=CharField(),
    )
    return Case(
        When(Exact(expression, Value("")), then=Value(None)),
        *(When(condition, then=quoted) for condition in formula),
        default=expression,
        output_field=CharField(),
    )


class SimpleCase(Func):
    """``CASE <value> WHEN <code> THEN <label> … ELSE <default> END``.

    A simple CASE evaluates its value once, where Case(When(…)) would test
    it again for every code.
    """

    output_field = CharField()

    def __init__(self, value: Any, labels: dict[str, str | None], default: Any):
        pairs = [
            Value(item, output_field=CharField())
            for code, label in labels.items()
            for item in (code, label)
        ]
        super().__init__(value, *pairs, default)

    def as_sql(
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, list[Any]]:
        parts: list[str] = []
        params: list[Any] = []
        for expression in self.get_source_expressions():
            sql, expression_params = compiler.compile(expression)
            parts.append(sql)
            params.extend(expression_params)
        value, *pairs, default = parts
        whens = " ".join(
            f"WHEN {code} THEN {label}"
            for code, label in zip(pairs[::2], pairs[1::2], strict=True)
        )
        return f"CASE {value} {whens} ELSE {default} END", params


class Format:
    """How a column's values become cells: text, by default.

    ``format(value)`` is the Python form; ``format.sql(expression)`` the SQL
    form, which must give the cell the Python form gives, after
    ``cells.neutralise`` for text (see ``neutralised``). ``resolved()``
    returns the format bound to the active language and time zone.
    """

    #: The Python form returns values unchanged (iter_rows skips it).
    identity = True
    #: Cells are numbers: written as numbers, never neutralised.
    number = False

    def __call__(self, value: Any) -> Any:
        return value

    def sql(self, expression: Any, *, formula_guard: bool = True) -> Any:
        return neutralised(expression, formula_guard=formula_guard)

    def resolved(self) -> Format:
        return self


class Number(Format):
    """Integers and decimals as they are.

    PostgreSQL writes them as Python's str() does, a decimal at its column's
    scale (1.50, 0.00), so the SQL form needs no formatting.
    """

    number = True

    def sql(self, expression: Any, *, formula_guard: bool = True) -> Any:
        return expression


TEXT = Format()
NUMBER = Number()


class Labels(Format):
    """Format a vocabulary code as its label; unknown codes pass through."""

    identity = False

    def __init__(self, choices: Iterable[tuple[str, Any]] | dict[str, Any]):
        self.labels = dict(choices)

    def __call__(self, code: str | None) -> str | None:
        if code is None or code == "":
            return None
        return str(self.labels.get(code, code))

    def sql(self, expression: Any, *, formula_guard: bool = True) -> Any:
        guard = cells.neutralise if formula_guard else str
        labels = {code: guard(label) or None for code, label in self.labels.items()}
        default = neutralised(expression, formula_guard=formula_guard)
        if not labels:
            return default
        return SimpleCase(expression, labels, default)

    def resolved(self) -> Labels:
        """Return the labels translated now, in the active language."""
        return Labels({code: str(label) for code, label in self.labels.items()})


class LocalMinute(Format):
    """Format an aware datetime as local "YYYY-MM-DD HH:MM"."""

    identity = False

    def __init__(self, zone: datetime.tzinfo | None = None):
        self.zone = zone  # None: the current time zone, looked up per call

    def __call__(self, value: datetime.datetime | None) -> str | None:
        if value is None:
            return None
        zone = self.zone or timezone.get_current_timezone()
        return value.astimezone(zone).isoformat(" ", "minutes")[:16]

    def sql(self, expression: Any, *, formula_guard: bool = True) -> Func:
        zone = self.zone or timezone.get_current_timezone()
        return Func(
            expression,
            Value(str(zone)),  # an IANA name, as settings.TIME_ZONE, or UTC
            template="to_char(%(expressions)s, 'YYYY-MM-DD HH24:MI')",
            arg_joiner=" AT TIME ZONE ",
            output_field=CharField(),
        )

    def resolved(self) -> LocalMinute:
        """Return the format bound to the current time zone (looked up once)."""
        return LocalMinute(timezone.get_current_timezone())


class IsoDate(Format):
    """Format a date as ISO 8601, 2020-06-15."""

    identity = False

    def __call__(self, value: datetime.date | None) -> str | None:
        return None if value is None else value.isoformat()

    def sql(self, expression: Any, *, formula_guard: bool = True) -> Func:
        return Func(
            expression,
            template="to_char(%(expressions)s, 'YYYY-MM-DD')",
            output_field=CharField(),
        )


# --------------------------------------------------------------------------
# The column specification
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    heading: Promise | str
    lookup: Any  # a values_list() path or expression
    format: Format = TEXT

    def sql(self, *, formula_guard: bool = True) -> Any:
        """Return the column's SQL form: the finished cell of each row."""
        lookup = F(self.lookup) if isinstance(self.lookup, str) else self.lookup
        return self.format.sql(lookup, formula_guard=formula_guard)


#: The one column specification of the export (CSV, XLSX), English names.
EXPORT_COLUMNS: tuple[Column, ...] = (
    Column("submitted_at", _("Submitted at"), "profile__created_at", LocalMinute()),
    Column("profile", _("Profile"), "profile_id", NUMBER),
    Column("programme", _("Programme"), "programme__slug"),
    Column("programme_name", _("Programme name"), "programme__name_en"),
    Column("provider", _("Provider"), "programme__provider__name_en"),
    Column(
        "tier",
        _("Result"),
        match_report.tier_expression(),
        Labels(Tier.choices()),
    ),
    Column(
        "availability",
        _("Availability"),
        "availability",
        Labels(matching.AVAILABILITY_LABELS.items()),
    ),
    Column("score", _("Score"), "score", NUMBER),
    Column("as_of", _("As of"), "as_of", IsoDate()),
    Column("catalogue_version", _("Catalogue version"), "catalogue_version"),
    Column(
        "business_type",
        _("Type of business"),
        "profile__business_type",
        Labels(contract.BUSINESS_TYPES),
    ),
    Column("province", _("Province"), "profile__province", Labels(contract.PROVINCES)),
    Column("city", _("City"), "profile__city"),
    Column("employees", _("Employees"), "profile__employees", NUMBER),
    Column(
        "annual_revenue_cny",
        _("Annual revenue (CNY)"),
        "profile__annual_revenue_cny",
        NUMBER,
    ),
    Column(
        "size_class",
        _("Size class"),
        "profile__size_class",
        Labels(contract.SIZE_CLASSES),
    ),
    Column(
        "runway_months",
        _("Months of cash runway"),
        "profile__runway_months",
        NUMBER,
    ),
    Column("urgency", _("Urgency"), "profile__urgency", Labels(contract.URGENCIES)),
    Column("contact_name", _("Contact name"), "shared_name"),
    Column("contact_email", _("Contact email"), "shared_email"),
    Column("contact_phone", _("Contact phone"), "shared_phone"),
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
        lookup = column.lookup
        if chinese and column.key in LOCALIZED_KEYS:
            lookup = chinese_first(lookup.removesuffix("_en"))
        result.append(
            replace(
                column,
                heading=str(column.heading),
                lookup=lookup,
                format=column.format.resolved(),
            )
        )
    return tuple(result)


def headings(spec: Iterable[Column], *, formula_guard: bool = True) -> list[str]:
    guard = cells.neutralise if formula_guard else str
    return [guard(str(column.heading)) for column in spec]


def formats_in_sql(queryset: QuerySet[StoredResult]) -> bool:
    """Say whether the queryset's database runs the SQL forms (PostgreSQL)."""
    return connections[queryset.db].vendor == "postgresql"


CHUNK_SIZE = 2000


def iter_rows(
    queryset: QuerySet[StoredResult],
    *,
    spec: tuple[Column, ...] | None = None,
    sql_formats: bool | None = None,
    formula_guard: bool = True,
) -> Iterator[tuple[Any, ...]]:
    """Yield the export's rows as cells, in primary-key order, a chunk at a time.

    With sql_formats (the default on PostgreSQL) the database formats the
    cells; otherwise the Python forms and cells.neutralise do. Without the
    formula guard (for XLSX's string cells) text is left as it is.
    """
    spec = spec or columns()
    if sql_formats is None:
        sql_formats = formats_in_sql(queryset)
    ordered = queryset.order_by("pk")
    if sql_formats:
        expressions = (c.sql(formula_guard=formula_guard) for c in spec)
        yield from ordered.values_list(*expressions).iterator(chunk_size=CHUNK_SIZE)
        return
    formatted = [(i, c.format) for i, c in enumerate(spec) if not c.format.identity]
    # No prefix starts a string: no cell is quoted.
    prefixes = cells.FORMULA_PREFIXES if formula_guard else ()
    neutralise = cells.neutralise
    rows = ordered.values_list(*(column.lookup for column in spec)).iterator(
        chunk_size=CHUNK_SIZE
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
#: Lines are sent in chunks of about this many bytes: a chunk per row
#: would cost a socket write (and chunked-encoding framing) per row.
STREAM_CHUNK = 32 * 1024


def _csv_writer(fp: Any) -> Any:
    # Python's csv quotes a field that holds a character of the line
    # terminator, so "\r\n" makes it quote CR as well as LF, as COPY does;
    # _csv_line then ends the line with COPY's "\n".
    return csv.writer(fp, lineterminator="\r\n")


def _csv_line(writer: Any, row: Iterable[Any]) -> str:
    return writer.writerow(row)[:-2] + "\n"


def heading_line(spec: Sequence[Column]) -> str:
    """Return the CSV line of the headings, as the rows' lines are written."""
    return _csv_line(_csv_writer(_Echo()), headings(spec))


class _Echo:
    """A file-like object whose write returns what it is given."""

    def write(self, value: str) -> str:
        return value


def select_sql(queryset: QuerySet[StoredResult], expressions: Iterable[Any]) -> str:
    """Return the queryset's SELECT of `expressions` in primary-key order, as literal SQL.

    COPY takes no parameters, so they are merged into the text client-side.
    Raises EmptyResultSet for a queryset that can have no rows.
    """
    connection = connections[queryset.db]
    values = queryset.order_by("pk").values_list(*expressions)
    sql, params = values.query.get_compiler(connection=connection).as_sql()
    # Only called on PostgreSQL, whose operations alone have compose_sql().
    ops = cast("PostgresOperations", connection.ops)
    return ops.compose_sql(sql, params)


def copy_statement(select: str) -> str:
    return f"COPY ({select}) TO STDOUT (FORMAT csv)"


def copy_lines(
    queryset: QuerySet[StoredResult], spec: tuple[Column, ...]
) -> Iterator[memoryview]:
    """Yield the rows as CSV lines from PostgreSQL's COPY of the SQL forms.

    Each item is one whole row (COPY sends a message per row) in the
    connection's encoding, UTF-8, as psycopg hands it over: nothing is
    buffered beyond the chunk being read.
    """
    try:
        statement = copy_statement(select_sql(queryset, (c.sql() for c in spec)))
    except EmptyResultSet:
        return
    connection = connections[queryset.db]
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(statement) as copy,
    ):
        yield from copy


def python_lines(
    queryset: QuerySet[StoredResult], spec: tuple[Column, ...]
) -> Iterator[str]:
    """Yield the rows as CSV lines written by Python, the same as copy_lines's."""
    writer = _csv_writer(_Echo())
    for row in iter_rows(queryset, spec=spec, sql_formats=False):
        yield _csv_line(writer, row)


def csv_chunks(
    queryset: QuerySet[StoredResult],
    spec: tuple[Column, ...],
    *,
    copy: bool | None = None,
) -> Iterator[tuple[bytes, int]]:
    """Yield (chunk, rows so far): the rows' CSV lines in UTF-8, joined in chunks.

    A chunk is about STREAM_CHUNK bytes of whole lines, and also ends after
    every PROGRESS_EVERY-th row, so progress can be told exactly. With copy
    (the default on PostgreSQL) the lines come from COPY, otherwise from
    Python's csv module.
    """
    if copy is None:
        copy = formats_in_sql(queryset)
    lines: Iterable[Any]
    join: Callable[[list[Any]], bytes]
    if copy:
        lines, join = copy_lines(queryset, spec), b"".join
    else:
        lines = python_lines(queryset, spec)

        def join_text(parts: list[str]) -> bytes:
            return "".join(parts).encode()

        join = join_text

    every = PROGRESS_EVERY
    parts: list[Any] = []
    size = count = 0
    for line in lines:
        parts.append(line)
        size += len(line)
        count += 1
        if size >= STREAM_CHUNK or count % every == 0:
            yield join(parts), count
            parts.clear()
            size = 0
    if parts:
        yield join(parts), count


def write_csv(
    queryset: QuerySet[StoredResult],
    fp: IO[str],
    *,
    progress: Progress | None = None,
    copy: bool | None = None,
) -> int:
    """Write the rows as CSV, headings in the active language; return the row count.

    copy: use PostgreSQL's COPY (None: where the database is PostgreSQL).
    """
    spec = columns()
    fp.write(heading_line(spec))
    count = 0
    for chunk, count in csv_chunks(queryset, spec, copy=copy):
        fp.write(chunk.decode())
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(count)
    if progress is not None:
        progress(count)
    return count


def _csv_stream(
    queryset: QuerySet[StoredResult], spec: tuple[Column, ...]
) -> Iterator[bytes]:
    yield (BOM + heading_line(spec)).encode()
    for chunk, _count in csv_chunks(queryset, spec):
        yield chunk


def csv_response(
    queryset: QuerySet[StoredResult], filename: str
) -> StreamingHttpResponse:
    """Return the rows as a streamed CSV attachment with a byte order mark."""
    spec = columns()  # now, in the request's language, not when streaming
    response = StreamingHttpResponse(
        _csv_stream(queryset, spec), content_type="text/csv; charset=utf-8"
    )
    disposition = content_disposition_header(True, filename)
    assert disposition is not None  # always a header for an attachment
    response["Content-Disposition"] = disposition
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
    Text is written as string cells, never evaluated, so it needs no formula
    guard: "=1+1" is the text "=1+1".
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
        for i, heading in enumerate(headings(spec, formula_guard=False)):
            sheet.write_string(0, i, heading, bold)
        sheet.freeze_panes(1, 0)
        write_string, write_number = sheet.write_string, sheet.write_number

        def number(row: int, col: int, value: Any) -> Any:
            return write_number(row, col, float(value))  # a Decimal too

        writers = [number if c.format.number else write_string for c in spec]
        rows = _Counted(iter_rows(queryset, spec=spec, formula_guard=False), progress)
        for count, row in enumerate(rows, start=1):
            for i, value in enumerate(row):
                # None and "" are empty cells, left unwritten.
                if value is not None and value != "":
                    writers[i](count, i, value)
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
            pdf.para(text, styles.label if i == 0 else label_right)
            for i, text in enumerate(header)
        ]
    ]
    cells += [
        [
            pdf.para(text, styles.body if i == 0 else body_right)
            for i, text in enumerate(row)
        ]
        for row in rows
    ]
    return pdf.grid(cells, widths, header=True)


def _urgencies(summary: match_report.Summary) -> list[tuple[str, str, int]]:
    """Return the urgency counts from most to least urgent, unknown last."""
    order = [code for code, _label in contract.URGENCIES] + ["unknown"]
    return [
        (code, gettext("not known") if code == "unknown" else label, n)
        for code, label, n in sorted(
            summary.per_urgency,
            key=lambda row: order.index(row[0]) if row[0] in order else len(order),
        )
    ]


def render_summary_pdf(
    summary: match_report.Summary, *, title: str, filters_text: str
) -> bytes:
    """Return the summary as an A4 PDF in the active language: counts, charts, tables."""
    font = pdf.cjk_font()
    language = get_language() or "en"
    styles = pdf.Styles(font, chinese=language.startswith("zh"))
    now = timezone.localtime()
    story: list[Any] = [
        pdf.para(title, styles.title),
        pdf.para(
            gettext("Generated %(time)s (%(zone)s)")
            % {"time": now.strftime("%Y-%m-%d %H:%M"), "zone": settings.TIME_ZONE},
            styles.meta,
        ),
        pdf.para(
            gettext("Filters: %(filters)s") % {"filters": filters_text}, styles.body
        ),
        pdf.para(
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
            pdf.para(
                gettext(
                    "%(unknown)s businesses did not give a cash runway and are left "
                    "out of the runway chart."
                )
                % {"unknown": _count(summary.runway_unknown)},
                styles.muted,
            )
        )

    tiers = match_report.TIERS
    tier_width = 21 * mm
    name_width = pdf.CONTENT_WIDTH - tier_width * (len(tiers) + 1)
    story += pdf.heading(gettext("Results per programme"), styles.h2, 30 * mm)
    if summary.per_programme:
        story.append(
            _table(
                [
                    gettext("Programme"),
                    *(pdf.upper_first(str(Tier(t).label)) for t in tiers),
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
        story.append(pdf.para(gettext("No results match these filters."), styles.muted))

    count_width = 30 * mm
    for heading, label_heading, rows in (
        (gettext("Businesses per province"), gettext("Province"), summary.per_province),
        (gettext("Businesses per urgency"), gettext("Urgency"), _urgencies(summary)),
    ):
        story += pdf.heading(heading, styles.h2, 30 * mm)
        if rows:
            story.append(
                _table(
                    [label_heading, gettext("Businesses")],
                    [[str(label), _count(n)] for _code, label, n in rows],
                    [pdf.CONTENT_WIDTH - count_width, count_width],
                    styles,
                )
            )
        else:
            story.append(
                pdf.para(gettext("No results match these filters."), styles.muted)
            )

    return pdf.build(
        story,
        title=title,
        font=font,
        disclaimer=gettext(
            "ReliefMatch match report: counts only, no contact details."
        ),
    )
