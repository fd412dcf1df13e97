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
* ``sectioned`` groups ranked matches into the results' ``SECTIONS`` (for
  what you need, you may also get, one step away, the rest), and ``folded``
  says which of them the page folds behind one line. The results page, its
  print and the PDF all group with them.
* ``write_csv`` writes to a text file object (open files with
  ``newline=""``). Every cell passes through ``neutralise``. The caller adds
  a byte order mark if it wants one.
* ``render_pdf`` returns an A4 PDF in the results page's order and folds:
  headline counts, date, notices, the sections' cards (the might-fits you may
  also get and the rest on one line each), the answers, and, when given a
  kept profile's private link, the link as text and as a QR code with its
  warning. All text is set in the CJK font named by
  ``settings.REPORT_CJK_FONT`` (it covers Latin too) and embedded, so the file
  reads the same on any machine. The font is registered once per process.

Dates are ISO 8601 (2020-06-15) in both languages: unambiguous, and sortable
in a spreadsheet.
"""

from __future__ import annotations

import csv
import datetime
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from django.db.models import Model, TextField
from django.utils.functional import Promise
from django.utils.translation import get_language, gettext, ngettext
from django.utils.translation import gettext_lazy as _
from reportlab.lib.units import mm
from reportlab.platypus import (
    CondPageBreak,
    KeepTogether,
    Spacer,
    Table,
    TableStyle,
)

from programs import pdf
from programs.cells import neutralise
from programs.engine.contract import FIELDS, PROFILE_FIELDS, display_value, in_sentence
from programs.engine.matching import (
    AVAILABILITY_LABELS,
    SHOWN_TIERS,
    Availability,
    ConditionKind,
    MatchReport,
    Programme,
    ProgrammeMatch,
    Tier,
)
from programs.engine.rules import STATE_LABELS, State
from programs.engine.text import list_separator
from programs.models import Criterion as CriterionRow
from programs.models import Programme as ProgrammeRow

#: Tiers a personal report covers; plain not-eligible programmes are left out.
REPORT_TIERS = frozenset(SHOWN_TIERS)


def report_matches(report: MatchReport) -> list[ProgrammeMatch]:
    """Return the eligible, possibly eligible and near-miss matches, ranked."""
    return [m for m in report.matches if m.tier in REPORT_TIERS]


# --------------------------------------------------------------------------
# The results' sections (the page, its print and the PDF)
# --------------------------------------------------------------------------

#: The results' sections in the order the page and the PDF show them: for
#: what you need (fit, then might fit), you may also get, one step away, and
#: the rest (not for this business, or not open on the date), folded to one line.
SECTIONS = ("for_needs", "also", "near_miss", "rest")


def section_of(match: ProgrammeMatch) -> str:
    """Return the section of the results a ranked match is shown in."""
    if match.availability is not Availability.OPEN or match.tier is Tier.NOT_ELIGIBLE:
        return "rest"
    if match.tier is Tier.NEAR_MISS:
        return "near_miss"
    return "for_needs" if match.needs_addressed else "also"


def sectioned(matches: Iterable[ProgrammeMatch]) -> dict[str, list[ProgrammeMatch]]:
    """Group ranked matches into the results' sections, keeping their order."""
    sections: dict[str, list[ProgrammeMatch]] = {name: [] for name in SECTIONS}
    for match in matches:
        sections[section_of(match)].append(match)
    return sections


def folded(match: ProgrammeMatch) -> bool:
    """Return whether "you may also get" folds this match behind one line:
    it only might fit, and not for what the owner said they need. (The rest
    is folded whole.)"""
    return section_of(match) == "also" and match.tier is not Tier.ELIGIBLE


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
    """Return the closing date ("2020-12-31 (our estimate)" where it is ours),
    said to be past when the programme has ended: it is never read as running."""
    programme = match.programme
    return programme.closed_text or programme.closes_on_text


def sources_checked_on(match: ProgrammeMatch) -> str:
    return _date(match.programme.last_verified_on)


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
    labels = [
        # "Going digital or online, buying stock and supplies"
        needs.choice_label(c) if i == 0 else in_sentence(needs, needs.choice_label(c))
        for i, c in enumerate(match.needs_addressed)
    ]
    return list_separator().join(
        gettext("%(need)s (our assumption)") % {"need": label}
        if c in assumed
        else label
        for c, label in zip(match.needs_addressed, labels, strict=True)
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
    """Return each source's title (with its Chinese explanation in Chinese) and address."""
    return "\n".join(
        gettext("%(title)s (%(address)s)") % {"title": s.shown_title, "address": s.url}
        if s.url
        else s.shown_title
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
    (_("Sources checked on"), sources_checked_on),
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


def _counts(sections: dict[str, list[ProgrammeMatch]], styles: pdf.Styles) -> list[Any]:
    """Return the page's headline: how many programmes each section holds,
    for what you need always, the others when they hold any."""
    n = {name: len(matches) for name, matches in sections.items()}
    lines = [
        ngettext(
            "%(n)s programme for what you need",
            "%(n)s programmes for what you need",
            n["for_needs"],
        )
        % {"n": n["for_needs"]}
    ]
    if n["also"]:
        lines.append(
            ngettext(
                "%(n)s more you may also get", "%(n)s more you may also get", n["also"]
            )
            % {"n": n["also"]}
        )
    if n["near_miss"]:
        lines.append(
            ngettext(
                "%(n)s you could get with one step",
                "%(n)s you could get with one step",
                n["near_miss"],
            )
            % {"n": n["near_miss"]}
        )
    return [pdf.para(line, styles.lead) for line in lines]


def _nothing_open(report: MatchReport) -> bool:
    return bool(report.matches) and not any(
        m.availability is Availability.OPEN for m in report.matches
    )


def _notices(report: MatchReport, styles: pdf.Styles) -> list[Any]:
    """Return the page's notices: nothing open on the date, and the cash warning."""
    as_of = _date(report.as_of)
    flowables: list[Any] = []
    if _nothing_open(report):
        text = gettext(
            "No programme is open on %(as_of)s. They ran in 2020; the answers below "
            "are for that date, so most are under “other programmes”."
        ) % {"as_of": as_of}
        flowables += [Spacer(1, 4), pdf.boxed([pdf.para(text, styles.body)], "info")]
    urgency = report.profile.urgency
    if urgency in ("critical", "high"):
        if urgency == "critical":
            headline = gettext("You have cash for a month or less.")
            survey = (
                gettext(
                    "In February 2020, 14%% of the 2,349 small businesses in Peking "
                    "University's survey were in the same position. Programmes that pay "
                    "fastest are listed first."
                )
                % {}
            )
        else:
            headline = gettext("You have cash for three months or less.")
            survey = gettext(
                "In February 2020, about half of the 2,349 small businesses in Peking "
                "University's survey were in the same position. Programmes that pay "
                "fastest are listed first."
            )
        flowables += [
            Spacer(1, 4),
            pdf.boxed(
                [pdf.para(headline, styles.strong), pdf.para(survey, styles.body)],
                "danger" if urgency == "critical" else "warning",
            ),
        ]
    return flowables


#: The headings of the sections shown as cards, in order, and the line under some.
SECTION_HEADINGS = {
    "for_needs": _("For what you need"),
    "also": _("You may also get"),
    "near_miss": _("One step away"),
}
SECTION_NOTES = {
    "also": _(
        "These fit or might fit your business, though not for what you said you need."
    ),
    "near_miss": _(
        "Each of these needs one thing you can do yourself, said on the card."
    ),
}


def _sections(
    report: MatchReport, sections: dict[str, list[ProgrammeMatch]], styles: pdf.Styles
) -> list[Any]:
    """Return the programmes in the page's sections and order, folded as it folds
    them: the might-fits you may also get and the rest each on one line."""
    story: list[Any] = []
    rank = 0
    for name, heading in SECTION_HEADINGS.items():
        matches = sections[name]
        if not matches and name != "for_needs":
            continue
        story += pdf.heading(str(heading), styles.h2, 60 * mm)
        if name in SECTION_NOTES:
            story.append(pdf.para(str(SECTION_NOTES[name]), styles.muted))
        if not matches:
            # As the page says it; but with nothing shown at all though
            # programmes are open, the plainer truth.
            shown = sections["also"] or sections["near_miss"]
            story.append(
                pdf.para(
                    gettext("None that are open on this date.")
                    if shown or _nothing_open(report)
                    else gettext("No programme fits your answers yet."),
                    styles.body,
                )
            )
        for match in matches:
            if folded(match):
                continue
            rank += 1
            story += _card(rank, match, styles)
        if might := [m for m in matches if folded(m)]:
            summary = ngettext(
                "%(n)s more might fit", "%(n)s more might fit", len(might)
            ) % {"n": len(might)}
            names = list_separator().join(programme_name(m) for m in might)
            story += [
                Spacer(1, 6),
                pdf.para(
                    gettext("%(summary)s: %(names)s")
                    % {"summary": summary, "names": names},
                    styles.body,
                ),
            ]
    if rest := len(sections["rest"]):
        story += [
            Spacer(1, 10),
            pdf.para(
                ngettext(
                    "%(n)s other programme: not for you, or not open on %(as_of)s",
                    "%(n)s other programmes: not for you, or not open on %(as_of)s",
                    rest,
                )
                % {"n": rest, "as_of": _date(report.as_of)},
                styles.h3,
            ),
        ]
    return story


def _private_link(link: str, styles: pdf.Styles) -> list[Any]:
    """Return the private link as text and as a QR code, with its warning."""
    size = 38 * mm
    text = [
        pdf.para(
            gettext(
                "Open these results again from any phone or computer with this link."
            ),
            styles.body,
        ),
        Spacer(1, 3),
        pdf.link(link, styles.link),
        Spacer(1, 5),
        pdf.para(
            gettext(
                "Anyone with this link can see and change your answers. "
                "Share it only with people you trust."
            ),
            styles.strong,
        ),
        Spacer(1, 3),
        pdf.para(
            gettext("Scan this code with another phone to open these results there."),
            styles.muted,
        ),
    ]
    table = Table(
        [[text, pdf.qr_code(link, size)]],
        colWidths=[pdf.CONTENT_WIDTH - size - 4 * mm, size + 4 * mm],
        hAlign="LEFT",
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return [
        *pdf.heading(gettext("Your private link"), styles.h2, size + 14 * mm),
        KeepTogether([table]),
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
        elif value := accessor(match):  # as on the page, what is empty is left out
            style = (
                styles.tiers[match.tier] if accessor is result_label else styles.body
            )
            rows.append([pdf.para(str(heading), styles.label), pdf.para(value, style)])
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
            # A table that starts at a page's foot would leave only its
            # heading row there; start it on the next page instead.
            CondPageBreak(30 * mm),
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


def render_pdf(report: MatchReport, *, link: str = "") -> bytes:
    """Return the report as an A4 PDF in the active language.

    In the results page's order: its headline counts, the date, the notices,
    the programmes in its sections (folded where it folds them), then the
    answers and, for a kept profile, its private ``link`` with a QR code.
    """
    font = pdf.cjk_font()
    language = get_language() or "en"
    styles = pdf.Styles(font, chinese=language.startswith("zh"))
    title = gettext("ReliefMatch report")
    sections = sectioned(report.matches)
    story: list[Any] = [pdf.para(title, styles.title)]
    story += _counts(sections, styles)
    story.append(
        pdf.para(
            gettext("Results as of %(date)s · %(catalogue)s")
            % {
                "date": _date(report.as_of),
                "catalogue": report.catalogue_edition or "—",
            },
            styles.meta,
        )
    )
    story += _notices(report, styles)
    story += _sections(report, sections, styles)
    story += _answers(report, styles)
    if link:
        story += _private_link(link, styles)

    return pdf.build(
        story,
        title=title,
        font=font,
        disclaimer=gettext(
            "ReliefMatch shows 2020 programmes from public sources; check with the "
            "provider before you apply."
        ),
    )


# --------------------------------------------------------------------------
# Long programme texts
# --------------------------------------------------------------------------

#: A soft limit, in characters, on each programme text and criterion
#: explanation. A longer one is saved, and prints in full across pages
#: (``pdf.FlowingTable``), but the admin warns: 2,000 characters of Chinese
#: fill most of a PDF page, and every matched owner's report carries the
#: programme's texts (the catalogue page its criteria's explanations too).
LONG_TEXT_CHARS = 2000


def long_texts(programme: ProgrammeRow) -> list[str]:
    """Return, in words, each of the programme's texts over LONG_TEXT_CHARS.

    Every text field of the programme and of its criteria counts, in both
    languages.
    """
    found = []
    rows: list[tuple[Model, str]] = [(programme, "")]
    # Read afresh: the admin's programme carries its criteria as loaded.
    criteria = CriterionRow.objects.filter(programme_id=programme.pk).order_by("pk")
    rows += [(criterion, str(criterion)) for criterion in criteria]
    for row, criterion in rows:
        for field in row._meta.concrete_fields:
            if not isinstance(field, TextField):
                continue
            length = len(getattr(row, field.attname) or "")
            if length <= LONG_TEXT_CHARS:
                continue
            values = {"field": field.verbose_name, "count": f"{length:,}"}
            found.append(
                gettext(
                    "“%(field)s” of the criterion “%(criterion)s” (%(count)s characters)"
                )
                % {**values, "criterion": criterion}
                if criterion
                else gettext("“%(field)s” (%(count)s characters)") % values
            )
    return found
