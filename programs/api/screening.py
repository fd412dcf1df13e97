"""
Bulk screening: many business profiles against the catalogue at once.

Used by the JSON API (``/api/v1/screenings`` and ``/api/v1/screenings/csv``)
and by the staff screening page, so both read the same CSV and give the same
answers.

Contract
--------
* A screening CSV has a header row of contract field names
  (``contract.PROFILE_FIELDS``, any order, any subset that includes the
  required ones); sets are written ``a;b``; a blank cell means not answered.
  ``template_csv`` returns a header of every answer field and one example.
* ``read_screening_csv`` returns the rows, or one problem with the file as a
  whole (too large, in no encoding of ``CSV_ENCODINGS``, too many rows, no
  rows). Files saved by Excel on Chinese Windows (GBK/GB18030, or UTF-16
  "Unicode text", which is tab-separated) and old-Mac CR-only line endings
  are read as they are.
* ``screen`` returns per row the outcome per programme, or that row's
  errors: one bad row fails alone.
* ``write_result_csv`` writes one line per input row: the row number, the
  derived size class and urgency, one column per programme slug with its
  tier, and the row's errors. Codes stay codes (``micro``, ``near_miss``), so
  a file reads the same whatever the language; the fixed headings follow the
  active language. Every cell passes through ``cells.neutralise``.
* ``summarise`` counts rows, rows with errors and, per programme, the rows
  that are eligible, possibly eligible or a near miss.

Nothing here keeps an uploaded file or a result.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext

from programs import cells
from programs.catalogue import store
from programs.engine import contract, matching
from programs.engine.text import jsonable

if TYPE_CHECKING:
    from _typeshed import SupportsWrite
    from django.core.files.base import File

MAX_SCREENING_ROWS = 1000
MAX_SCREENING_BYTES = 2 * 1024 * 1024
#: The staff screening page hands files of more than MAX_SCREENING_ROWS rows,
#: up to this many, to a background worker (2 MB holds about 15,000 rows).
MAX_QUEUED_SCREENING_ROWS = 20_000

#: Tiers the summary counts, in the order it shows them.
SUMMARY_TIERS = tuple(tier.value for tier in matching.SHOWN_TIERS)

#: The example row of the template: a stall in Wuhan, answered in full.
TEMPLATE_EXAMPLE: dict[str, Any] = {
    "business_type": "street_stall",
    "registration": "individual_business",
    "province": "CN-HB",
    "city": "Wuhan",
    "employees": 2,
    "annual_revenue_cny": 300000,
    "years_operating": 3,
    "export_share_pct": 0,
    "export_markets": [],
    "platforms": ["alipay_merchant", "wechat_pay_merchant"],
    "cash_runway_months": 2,
    "cash_on_hand_cny": "",
    "monthly_fixed_costs_cny": "",
    "revenue_change_pct": -40,
    "has_bank_loan": "no",
    "premises": "rented_private",
    "vat_small_scale": "yes",
    "needs": ["financing", "rent_relief"],
}


#: The encodings a screening CSV is read in, tried in this order, with the
#: name the error message gives each: UTF-8 (with or without a byte order
#: mark); GB18030, a superset of GBK and GB2312, which is what Excel on Chinese
#: Windows saves "CSV" as; UTF-16, only when the file starts with its byte order
#: mark. A UTF-16 mark is never valid GB18030, so the order cannot mistake one
#: for the other.
CSV_ENCODINGS: tuple[tuple[str, str], ...] = (
    ("utf-8-sig", "UTF-8"),
    ("gb18030", "GB18030 (GBK)"),
    ("utf-16", "UTF-16"),
)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def decode_csv(data: bytes) -> str | None:
    """Return the text of an uploaded CSV in the first of ``CSV_ENCODINGS`` that fits, or None."""
    for codec, _name in CSV_ENCODINGS:
        if codec == "utf-16" and not data.startswith(_UTF16_BOMS):
            continue
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return None


def screen(
    rows: list[Any], as_of: datetime.date, *, first_row: int = 1
) -> dict[str, Any]:
    """Return per row the outcome per programme, or that row's errors: one bad row fails alone.

    Rows are numbered from ``first_row`` (a worker screens a file in parts).
    """
    catalogue = store.current_catalogue()
    out = []
    for index, raw in enumerate(rows, start=first_row):
        try:
            profile = contract.parse_profile(raw)
        except contract.ProfileError as error:
            out.append({"row": index, "errors": error.errors})
            continue
        report = matching.match(
            profile,
            catalogue.programmes,
            as_of=as_of,
            catalogue_version=catalogue.version,
        )
        out.append(
            {
                "row": index,
                "derived": {k: jsonable(v) for k, v in profile.derived().items()},
                "results": {
                    m.programme.slug: {
                        "outcome": m.outcome.value,
                        "near_miss": m.near_miss,
                        "tier": m.tier,
                    }
                    for m in report.matches
                },
            }
        )
    return {
        "as_of": as_of.isoformat(),
        "catalogue_version": catalogue.version,
        "rows": len(out),
        "errors": sum(1 for row in out if "errors" in row),
        "results": out,
    }


def read_screening_csv(
    file: File[bytes], *, max_rows: int = MAX_SCREENING_ROWS
) -> tuple[list[dict[str, Any]], str]:
    """Return the rows of an uploaded screening CSV, or a problem with the file as a whole."""
    if file.size > MAX_SCREENING_BYTES:
        return [], gettext("The file is larger than 2 MB.")
    text = decode_csv(file.read())
    if text is None:
        return [], gettext(
            "The file could not be read as text; the encodings tried were "
            "%(encodings)s. Save it from Excel as “CSV UTF-8” and upload it again."
        ) % {"encodings": ", ".join(name for _codec, name in CSV_ENCODINGS)}
    try:
        rows = _csv_rows(text, max_rows)
    except csv.Error:  # a cell over the csv module's limit (128 KiB), say
        return [], gettext("The file could not be read as CSV: a cell may be too long.")
    except _TooManyRows:
        return [], gettext("At most %(n)s rows at once.") % {"n": max_rows}
    if not rows:
        return [], gettext("The file has no rows.")
    return rows, ""


class _TooManyRows(Exception):
    pass


def _csv_rows(text: str, max_rows: int) -> list[dict[str, Any]]:
    # newline="": the csv module ends records at \r\n, \n or a lone \r (old Mac).
    header = text.split("\n", 1)[0].split("\r", 1)[0]
    # Excel's "Unicode text" (UTF-16) separates cells with tabs.
    delimiter = "\t" if "\t" in header and "," not in header else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[dict[str, Any]] = []
    for record in reader:
        if len(rows) == max_rows:
            raise _TooManyRows
        row: dict[str, Any] = {}
        for key, value in record.items():
            if key is None:  # more cells than headings
                continue
            value = (value or "").strip()
            if value == "":
                continue
            if key in contract.MASKED_FIELDS:  # sets are written a;b
                row[key] = [v.strip() for v in value.split(";") if v.strip()]
            else:
                row[key] = value
        rows.append(row)
    return rows


def _template_cell(value: Any) -> str:
    if isinstance(value, list):
        return ";".join(value)
    return str(value)


def template_csv() -> str:
    """Return a screening CSV to fill in: every answer field and one example row."""
    fp = io.StringIO()
    writer = csv.writer(fp)
    writer.writerow(contract.PROFILE_FIELDS)
    writer.writerow(
        _template_cell(TEMPLATE_EXAMPLE.get(name, ""))
        for name in contract.PROFILE_FIELDS
    )
    return fp.getvalue()


def programme_slugs(result: dict[str, Any]) -> list[str]:
    """Return the programme slugs of a screening result, sorted."""
    return sorted(
        {slug for row in result["results"] for slug in row.get("results", {})}
    )


def errors_text(errors: dict[str, list[str]]) -> str:
    """Return a row's errors as "field: message; field: message"."""
    return "; ".join(
        f"{field}: {message}"
        for field, messages in errors.items()
        for message in messages
    )


def write_result_csv(result: dict[str, Any], fp: SupportsWrite[str]) -> int:
    """Write one line per screened row to a text file; return the number of rows.

    Open the file with ``newline=""``; the caller adds a byte order mark if
    it wants one.
    """
    slugs = programme_slugs(result)
    writer = csv.writer(fp)
    writer.writerow(
        cells.neutralise(heading)
        for heading in (
            gettext("Row"),
            gettext("Size class"),
            gettext("Urgency"),
            *slugs,
            gettext("Errors"),
        )
    )
    for row in result["results"]:
        derived = row.get("derived", {})
        outcomes = row.get("results", {})
        writer.writerow(
            cells.neutralise(cell)
            for cell in (
                row["row"],
                derived.get("size_class"),
                derived.get("urgency"),
                *(outcomes.get(slug, {}).get("tier") for slug in slugs),
                errors_text(row.get("errors", {})),
            )
        )
    return len(result["results"])


@dataclass(frozen=True)
class ScreeningSummary:
    rows: int
    errors: int
    as_of: str
    catalogue_version: str
    # slug, name, {"eligible": n, "possibly_eligible": n, "near_miss": n}
    per_programme: list[tuple[str, str, dict[str, int]]]
    #: The columns of ``per_programme``'s counts, in order.
    tiers: tuple[matching.Tier, ...] = matching.SHOWN_TIERS

    @property
    def screened(self) -> int:
        return self.rows - self.errors


def summarise(
    result: dict[str, Any], programmes: Iterable[matching.Programme] = ()
) -> ScreeningSummary:
    """Count rows, rows with errors and per programme the rows in each tier.

    ``programmes`` gives the names (in the active language); a slug without
    one is shown as itself.
    """
    names = {p.slug: str(p.name) or p.slug for p in programmes}
    counts = {slug: dict.fromkeys(SUMMARY_TIERS, 0) for slug in programme_slugs(result)}
    for row in result["results"]:
        for slug, outcome in row.get("results", {}).items():
            if outcome["tier"] in SUMMARY_TIERS:
                counts[slug][outcome["tier"]] += 1
    per_programme = sorted(
        ((slug, names.get(slug, slug), tiers) for slug, tiers in counts.items()),
        key=lambda item: (
            -item[2]["eligible"],
            -item[2]["possibly_eligible"],
            -item[2]["near_miss"],
            item[0],
        ),
    )
    return ScreeningSummary(
        rows=result["rows"],
        errors=result["errors"],
        as_of=result["as_of"],
        catalogue_version=result["catalogue_version"],
        per_programme=per_programme,
    )
