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
from collections.abc import Callable
from typing import Any, TextIO

from django.utils.functional import Promise
from django.utils.translation import get_language, gettext, ngettext
from django.utils.translation import gettext_lazy as _
from reportlab.lib.units import mm
from reportlab.platypus import Spacer

from programs import pdf
from programs.cells import neutralise
from programs.engine.contract import FIELDS, PROFILE_FIELDS, display_value
from programs.engine.matching import (
    AVAILABILITY_LABELS,
    SHOWN_TIERS,
    ConditionKind,
    MatchReport,
    Programme,
    ProgrammeMatch,
    Tier,
)
from programs.engine.rules import STATE_LABELS, State
from programs.engine.text import list_separator
from programs.models import Criterion as CriterionRow

#: Tiers a personal report covers; plain not-eligible programmes are left out.
REPORT_TIERS = frozenset(SHOWN_TIERS)


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
    return str(match.tier.label)


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


def time_to_money(programme: Programme) -> str:
    """Return how fast the help comes, said to be our estimate where it is one."""
    days = programme.days_to_money
    if days is None:
        return ""
    if programme.days_to_money_assumed:
        return ngettext(
            "about %(days)s day (our estimate)",
            "about %(days)s days (our estimate)",
            days,
        ) % {"days": days}
    return ngettext("%(days)s day", "%(days)s days", days) % {"days": days}


def money_speed(match: ProgrammeMatch) -> str:
    return time_to_money(match.programme)


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
    if match.provider_decides:
        return gettext("None: the provider decides who gets it.")
    return list_separator().join(str(FIELDS[name].label) for name in match.questions)


def needs_addressed(match: ProgrammeMatch) -> str:
    """Return the owner's needs this programme addresses, each the sources do not
    state said to be our assumption."""
    needs, assumed = FIELDS["needs"], match.needs_assumed
    return list_separator().join(
        gettext("%(need)s (our assumption)") % {"need": needs.choice_label(c)}
        if c in assumed
        else needs.choice_label(c)
        for c in match.needs_addressed
    )


def actions(match: ProgrammeMatch) -> str:
    """Return what the owner could do to get a near miss (any one of them)."""
    return "\n".join(match.actions)


def condition_rows(match: ProgrammeMatch) -> list[tuple[str, str, str, str]]:
    """Return (mark, mark label, sentence, basis label) for each line of the
    programme's conditions, worded as on the page: alternatives under one
    heading, the ones that decide nothing as the rule, preferences as a bonus."""
    rows = []
    for condition in match.conditions:
        bonus = condition.kind is ConditionKind.BONUS
        if condition.kind is ConditionKind.ANY:
            rows.append(("", "", gettext("Any one of these is enough:"), ""))
        for mark, text, criterion in condition.lines:
            if bonus:
                label = gettext("bonus, met") if mark else gettext("bonus")
            else:
                label = str(STATE_LABELS[State(mark)]) if mark else ""
            basis = str(CriterionRow.Basis(criterion.basis).label)
            rows.append((mark, label, text, basis))
    return rows


def criteria(match: ProgrammeMatch) -> str:
    lines = []
    for _mark, label, text, basis in condition_rows(match):
        if not basis:  # a heading
            lines.append(text)
        elif label:
            lines.append(
                gettext("[%(state)s] %(reason)s (%(basis)s)")
                % {"state": label, "reason": text, "basis": basis}
            )
        else:
            lines.append(
                gettext("- %(rule)s (%(basis)s)") % {"rule": text, "basis": basis}
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
    (_("For what you need"), needs_addressed),
    (_("Availability"), availability_label),
    (_("Opens on"), opens_on),
    (_("Closes on"), closes_on),
    (_("What you get"), benefits),
    (_("Time to help"), money_speed),
    (_("How to apply"), how_to_apply),
    (_("Questions to settle"), questions),
    (_("What you could do"), actions),
    (_("Criteria"), criteria),
    (_("Sources"), sources),
)


# --------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------


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


def _answers(report: MatchReport, styles: pdf.Styles) -> list[Any]:
    profile = report.profile
    rows = []
    for name in PROFILE_FIELDS:
        value = getattr(profile, name)
        answered = value is not None and value != ""
        rows.append(
            [
                pdf.para(pdf.upper_first(str(FIELDS[name].label)), styles.label),
                pdf.para(
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
                pdf.para(pdf.upper_first(str(FIELDS[name].label)), styles.label),
                pdf.para(display_value(name, value), styles.body)
                if value is not None
                else pdf.para(gettext("not known yet"), styles.muted),
            ]
        )
    widths = [pdf.LABEL_WIDTH + 16 * mm, pdf.CONTENT_WIDTH - pdf.LABEL_WIDTH - 16 * mm]
    return [
        *pdf.heading(gettext("Your answers"), styles.h2, 40 * mm),
        pdf.grid(rows, widths),
        *pdf.heading(gettext("Worked out from your answers"), styles.h2, 25 * mm),
        pdf.grid(derived, widths),
    ]


def _counts(report: MatchReport, styles: pdf.Styles) -> list[Any]:
    counts = report.counts()
    width = pdf.CONTENT_WIDTH / len(Tier)
    table = pdf.grid(
        [
            [pdf.para(pdf.upper_first(str(t.label)), styles.label) for t in Tier],
            [pdf.para(str(counts[t]), styles.tiers[t]) for t in Tier],
        ],
        [width] * len(Tier),
        header=True,
    )
    return [
        *pdf.heading(gettext("Results at a glance"), styles.h2, 30 * mm),
        table,
        Spacer(1, 3),
        pdf.para(
            gettext(
                "This report describes the eligible, possibly eligible and near-miss "
                "programmes, best first. Programmes you do not qualify for are left out."
            ),
            styles.muted,
        ),
    ]


def _card(rank: int, match: ProgrammeMatch, styles: pdf.Styles) -> list[Any]:
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
            flowables += pdf.heading(title, styles.h3, 50 * mm)
        elif accessor is criteria:
            criteria_heading = str(heading)  # laid out below as a table
        else:
            value = accessor(match)
            style = (
                styles.tiers[match.tier] if accessor is result_label else styles.body
            )
            rows.append(
                [
                    pdf.para(str(heading), styles.label),
                    pdf.para(value, style) if value else pdf.para("—", styles.muted),
                ]
            )
    flowables.append(
        pdf.grid(rows, [pdf.LABEL_WIDTH, pdf.CONTENT_WIDTH - pdf.LABEL_WIDTH])
    )
    if match.results:
        state_width, basis_width = 20 * mm, 30 * mm
        criteria_rows: list[list[Any]] = [
            [
                pdf.para(gettext("State"), styles.label),
                pdf.para(criteria_heading, styles.label),
                pdf.para(gettext("Basis"), styles.label),
            ]
        ]
        for mark, label, text, basis in condition_rows(match):
            criteria_rows.append(
                [
                    pdf.para(
                        label, styles.states[State(mark)] if mark else styles.muted
                    ),
                    pdf.para(text, styles.small),
                    pdf.para(basis, styles.muted),
                ]
            )
        flowables += [
            Spacer(1, 4),
            pdf.grid(
                criteria_rows,
                [
                    state_width,
                    pdf.CONTENT_WIDTH - state_width - basis_width,
                    basis_width,
                ],
                header=True,
            ),
        ]
    return flowables


def render_pdf(report: MatchReport) -> bytes:
    """Return the report as an A4 PDF in the active language."""
    font = pdf.cjk_font()
    language = get_language() or "en"
    styles = pdf.Styles(font, chinese=language.startswith("zh"))
    title = gettext("ReliefMatch report")
    story: list[Any] = [
        pdf.para(title, styles.title),
        pdf.para(
            gettext("Results as of %(date)s · catalogue version %(version)s")
            % {"date": _date(report.as_of), "version": report.catalogue_version or "—"},
            styles.meta,
        ),
    ]
    story += _answers(report, styles)
    story += _counts(report, styles)
    story += pdf.heading(gettext("Programmes in this report"), styles.h2, 60 * mm)
    matches = report_matches(report)
    if not matches:
        story.append(
            pdf.para(gettext("No programme fits your answers yet."), styles.body)
        )
    for rank, match in enumerate(matches, start=1):
        story += _card(rank, match, styles)

    return pdf.build(
        story,
        title=title,
        font=font,
        disclaimer=gettext(
            "ReliefMatch shows 2020 programmes from public sources; check with the "
            "provider before you apply."
        ),
    )
