"""
The public programme catalogue: every programme as a card, filtered by a GET
form that works without JavaScript, and one programme's rules in plain
language.

Both pages read ``store.current_catalogue()`` once, so each costs the same
fixed handful of queries whatever the filters or the size of the catalogue.
Invalid filter values never raise: each is ignored and explained next to its
field.
"""

from __future__ import annotations

import datetime
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import groupby
from operator import attrgetter
from urllib.parse import urlsplit

from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from programs.catalogue import store
from programs.engine import contract, matching
from programs.engine.text import Text
from programs.models import Criterion as CriterionRow
from programs.models import Provider

NEED_LABELS = dict(contract.NEEDS)
AVAILABILITY_BADGES = {
    matching.Availability.OPEN: "text-bg-success",
    matching.Availability.NOT_YET_OPEN: "text-bg-info",
    matching.Availability.CLOSED: "text-bg-secondary",
}
#: Width of the summary on a card (three or four lines on a phone); the full
#: summary is on the detail page.
SUMMARY_LINE_COLUMNS = 150
#: A date input sends YYYY-MM-DD; anything much longer is not a date.
MAX_DATE_CHARS = 10


# --------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogueFilters:
    """The filters in force; ``""`` means "any". ``errors`` maps a field to why it was ignored."""

    open_on: datetime.date
    provider: str = ""
    need: str = ""
    status: str = ""
    errors: Mapping[str, str] = field(default_factory=dict)

    def keeps(self, programme: matching.Programme) -> bool:
        return (
            (not self.provider or programme.provider == self.provider)
            and (not self.need or self.need in programme.needs)
            and (not self.status or programme.availability(self.open_on) == self.status)
        )


def parse_filters(
    query: QueryDict, *, providers: Collection[str], today: datetime.date
) -> CatalogueFilters:
    """Return the filters asked for in the query; an invalid one is ignored and explained."""
    choices = (
        (
            "provider",
            providers,
            gettext(
                "That provider is not in the catalogue, so all providers are shown."
            ),
        ),
        (
            "need",
            NEED_LABELS,
            gettext(
                "That need is not on the list, so programmes for every need are shown."
            ),
        ),
        (
            "status",
            matching.AVAILABILITY_LABELS,
            gettext(
                "That status is not on the list, so programmes of every status are shown."
            ),
        ),
    )
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name, allowed, message in choices:
        raw = query.get(name, "").strip()
        if raw and raw not in allowed:
            errors[name] = message
            raw = ""
        values[name] = raw
    open_on = today
    if raw_date := query.get("open_on", "").strip():
        if (parsed := _parse_iso_date(raw_date)) is None:
            errors["open_on"] = gettext(
                "That is not a date, so today's date is used. "
                "Enter a date like %(example)s."
            ) % {"example": "2020-04-15"}
        else:
            open_on = parsed
    return CatalogueFilters(open_on=open_on, errors=errors, **values)


def _parse_iso_date(raw: str) -> datetime.date | None:
    if len(raw) > MAX_DATE_CHARS:
        return None
    try:
        return parse_date(raw)
    except ValueError:  # well formed but impossible, such as 2020-13-45
        return None


def provider_choices(
    programmes: Collection[matching.Programme],
) -> list[tuple[str, str]]:
    """Return (slug, name in the active language) of each provider in the catalogue, by name."""
    names = {p.provider: str(p.provider_name) or p.provider for p in programmes}
    return sorted(names.items(), key=lambda item: item[1])


# --------------------------------------------------------------------------
# What the templates show
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    """One programme in the list, with its availability on the chosen date."""

    programme: matching.Programme
    availability: matching.Availability

    @property
    def availability_label(self) -> str:
        return str(matching.AVAILABILITY_LABELS[self.availability])

    @property
    def badge_class(self) -> str:
        return AVAILABILITY_BADGES[self.availability]

    @property
    def needs(self) -> list[str]:
        """Return the needs it addresses, each the sources do not state said to be
        our assumption."""
        p = self.programme
        return [
            gettext("%(need)s (our assumption)") % {"need": label}
            if code in p.needs_assumed
            else str(label)
            for code, label in contract.NEEDS
            if code in p.needs
        ]

    @property
    def summary_line(self) -> str:
        return summary_line(str(self.programme.summary))


def summary_line(summary: str) -> str:
    """Return the start of a summary, about SUMMARY_LINE_COLUMNS wide.

    A Chinese character counts two columns, so both languages fill about the
    same space on a phone. The cut falls at the end of a sentence when one
    ends in the second half, else between words with an ellipsis.
    """
    columns = 0
    for i, char in enumerate(summary):
        columns += 2 if unicodedata.east_asian_width(char) in "WF" else 1
        if columns > SUMMARY_LINE_COLUMNS:
            cut = summary[:i]
            sentence_end = max(cut.rfind("。"), cut.rfind(". "))
            if sentence_end >= len(cut) // 2:
                return cut[: sentence_end + 1]
            if (space := cut.rfind(" ")) >= len(cut) // 2:
                cut = cut[:space]
            return cut.rstrip(" ,;:") + "…"
    return summary


def criterion_sentence(criterion: matching.Criterion) -> str:
    """Return a criterion as the catalogue states it, in the active language.

    The operator words it (``rules``): "Size class must be micro or small.";
    yes/no fields state what the owner must be able to say: "Only if you
    have a bank loan."
    """
    return criterion.describe()


@dataclass(frozen=True)
class Rule:
    sentence: str
    explanation: Text
    assumed: bool
    basis_label: str

    @property
    def badge_class(self) -> str:
        return "text-bg-warning" if self.assumed else "text-bg-success"


def rule_of(criterion: matching.Criterion) -> Rule:
    return Rule(
        sentence=criterion_sentence(criterion),
        explanation=criterion.explanation,
        assumed=criterion.basis is matching.Basis.ASSUMED,
        basis_label=str(CriterionRow.Basis(criterion.basis).label),
    )


@dataclass(frozen=True)
class RuleGroup:
    """Required criteria of one group: meeting any one of them passes the group."""

    rules: tuple[Rule, ...]

    @property
    def alternatives(self) -> bool:
        return len(self.rules) > 1


def required_groups(programme: matching.Programme) -> tuple[RuleGroup, ...]:
    """Return the required criteria grouped as the matcher reads them, by group number."""
    required = sorted(
        (c for c in programme.criteria if c.required), key=attrgetter("group")
    )
    return tuple(
        RuleGroup(tuple(rule_of(c) for c in criteria))
        for _group, criteria in groupby(required, key=attrgetter("group"))
    )


@dataclass(frozen=True)
class SourceView:
    title: str  # the original title; on Chinese pages with its Chinese explanation
    address: str
    published_on: datetime.date | None
    confidence_label: str  # "Confidence: high", "可信度高"
    confidence_meaning: str  # what the grade means


#: What each grade means, beside the grade spelled out.
CONFIDENCE_MEANINGS = {
    "H": _("official, or several reports agree"),
    "M": _("one reputable report"),
    "L": _("a thin or garbled source"),
}


def source_view(source: matching.Source) -> SourceView:
    meaning = CONFIDENCE_MEANINGS.get(source.confidence)
    return SourceView(
        title=source.shown_title,
        address=source.url,
        published_on=source.published_on,
        confidence_label=source.confidence_label,
        confidence_meaning="" if meaning is None else str(meaning),
    )


def safe_link(url: str) -> str:
    """Return url when it is an absolute http(s) address, else "" (never a javascript: link)."""
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in {"http", "https"} and parts.netloc else ""


def amount_in_cny(amount: Decimal | None) -> str:
    """Return an amount with thousands separators and the currency, e.g. "100,000 CNY"."""
    if amount is None:
        return ""
    number = f"{amount.normalize() + 0:,f}"
    return gettext("%(amount)s CNY") % {"amount": number}


# --------------------------------------------------------------------------
# Views
# --------------------------------------------------------------------------


@require_safe
def programme_list(request: HttpRequest) -> HttpResponse:
    catalogue = store.current_catalogue()
    providers = provider_choices(catalogue.programmes)
    filters = parse_filters(
        request.GET, providers=dict(providers), today=timezone.localdate()
    )
    cards = [
        Card(p, p.availability(filters.open_on))
        for p in catalogue.programmes
        if filters.keeps(p)
    ]
    cards.sort(
        key=lambda c: (
            matching.AVAILABILITY_ORDER[c.availability],
            str(c.programme.name),
        )
    )
    return render(
        request,
        "programs/catalogue/list.html",
        {
            "cards": cards,
            "total": len(catalogue.programmes),
            "edition": catalogue.edition,
            "filters": filters,
            "providers": providers,
            "needs": contract.NEEDS,
            "statuses": list(matching.AVAILABILITY_LABELS.items()),
        },
    )


@require_safe
def programme_detail(request: HttpRequest, slug: str) -> HttpResponse:
    programme = store.current_catalogue().get(slug)
    if programme is None:
        raise Http404("No programme with this slug.")
    kinds = dict(Provider.Kind.choices)
    return render(
        request,
        "programs/catalogue/detail.html",
        {
            "programme": programme,
            "card": Card(programme, programme.availability(timezone.localdate())),
            "kind": kinds.get(programme.provider_kind, ""),
            "max_amount": amount_in_cny(programme.max_amount_cny),
            "apply_link": safe_link(programme.apply_url),
            "required_groups": required_groups(programme),
            "preferences": [rule_of(c) for c in programme.criteria if not c.required],
            "sources": [source_view(s) for s in programme.sources],
        },
    )
