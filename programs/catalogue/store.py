"""
The catalogue as the engine sees it: programme rows as plain data, compiled
once per process and reused until the catalogue changes.

Reads build ``engine.matching`` dataclasses from rows in a fixed number of
queries; ``run_match`` matches a profile against the current catalogue.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.utils import timezone

from programs.engine import matching, rules
from programs.engine.contract import Profile
from programs.engine.text import Text
from programs.models import CatalogueRevision, Criterion, Programme, Source


def criterion_rules(row: Criterion) -> matching.Criterion:
    return matching.Criterion(
        field=row.field,
        operator=rules.operator(row.operator),
        value=rules.clean_criterion_value(row.field, row.operator, row.value),
        group=row.group,
        required=row.required,
        basis=matching.Basis(row.basis),
        explanation=Text(row.explanation_en, row.explanation_zh_hans),
    )


def programme_rules(row: Programme) -> matching.Programme:
    """Return the plain-data programme; expects criteria, sources and provider prefetched."""
    return build_programme(row, row.criteria.all(), row.sources.all())


def build_programme(
    row: Programme, criteria: Iterable[Criterion], sources: Iterable[Source]
) -> matching.Programme:
    """Return the plain-data programme from rows, saved or not."""
    return matching.Programme(
        slug=row.slug,
        provider=row.provider.slug,
        provider_kind=row.provider.kind,
        provider_name=Text(row.provider.name_en, row.provider.name_zh_hans),
        name=Text(row.name_en, row.name_zh_hans),
        criteria=tuple(criterion_rules(c) for c in criteria),
        summary=Text(row.summary_en, row.summary_zh_hans),
        benefits=Text(row.benefits_en, row.benefits_zh_hans),
        apply_channel=Text(row.apply_channel_en, row.apply_channel_zh_hans),
        apply_steps=Text(row.apply_steps_en, row.apply_steps_zh_hans),
        apply_url=row.apply_url,
        announced_on=row.announced_on,
        opens_on=row.opens_on,
        closes_on=row.closes_on,
        closes_on_assumed=row.closes_on_assumed,
        withdrawn=row.status == Programme.Status.WITHDRAWN,
        last_verified_on=row.last_verified_on,
        days_to_money=row.days_to_money,
        days_to_money_assumed=row.days_to_money_assumed,
        max_amount_cny=row.max_amount_cny,
        needs=frozenset(row.needs),
        needs_assumed=frozenset(row.needs_assumed),
        discretionary=Text(row.discretionary_en, row.discretionary_zh_hans),
        sources=tuple(
            matching.Source(
                s.title, s.url, s.published_on, s.confidence, s.title_zh_hans
            )
            for s in sources
        ),
    )


def programme_queryset() -> QuerySet[Programme]:
    return Programme.objects.select_related("provider").prefetch_related(
        "criteria", "sources"
    )


@dataclass(frozen=True)
class Catalogue:
    programmes: tuple[matching.Programme, ...]
    version: str
    #: slug -> primary key of each programme row, for storing results.
    ids: Mapping[str, int] = field(default_factory=dict, compare=False)

    def get(self, slug: str) -> matching.Programme | None:
        return next((p for p in self.programmes if p.slug == slug), None)

    @property
    def edition(self) -> str:
        """Return the catalogue as a reader names it: "Catalogue of 2026-11-24".

        ``version`` stays a fingerprint for caches and stored results.
        """
        return matching.catalogue_edition(
            matching.catalogue_checked_on(self.programmes)
        )


def read_catalogue() -> Catalogue:
    """Return every programme as plain data with the catalogue version (three queries)."""
    rows = list(programme_queryset())
    programmes = tuple(programme_rules(row) for row in rows)
    return Catalogue(
        programmes,
        matching.catalogue_version(programmes),
        ids={row.slug: row.pk for row in rows},
    )


def catalogue_revision() -> str | None:
    """Return the token that changes with every catalogue change (one query).

    None when the revision row is missing (a database without the triggers
    of migration 0006): then nothing may be cached.
    """
    return (
        CatalogueRevision.objects.filter(pk=1).values_list("token", flat=True).first()
    )


#: (revision token, catalogue) compiled by this process; replaced, never mutated.
_compiled: tuple[str, Catalogue] | None = None


def current_catalogue(*, revision: str | None = None) -> Catalogue:
    """Return the current catalogue: one query while it is unchanged, four after a change.

    `revision` is a token the caller already read in a query of its own
    (``kept_profile_and_catalogue``); then an unchanged catalogue costs no query.

    Each process keeps the catalogue it last read with the revision token it
    read first. A change anywhere in the catalogue gives the revision a new
    token (database triggers), so the next call reads the catalogue again.
    Reading the token before the rows means a change racing with the read
    can only make the cache rebuild once more, never keep stale rules.
    """
    global _compiled
    token = revision if revision is not None else catalogue_revision()
    compiled = _compiled
    if token is not None and compiled is not None and compiled[0] == token:
        return compiled[1]
    catalogue = read_catalogue()
    if token is not None:
        _compiled = (token, catalogue)
    return catalogue


def run_match(
    *,
    profile: Profile,
    as_of: datetime.date | None = None,
    catalogue: Catalogue | None = None,
) -> matching.MatchReport:
    """Return the ranked results for a profile against the (current) catalogue."""
    catalogue = catalogue or current_catalogue()
    return matching.match(
        profile,
        catalogue.programmes,
        as_of=as_of or timezone.localdate(),
        catalogue_version=catalogue.version,
    )


def compiled_catalogue(version: str) -> Catalogue | None:
    """Return this process's compiled catalogue if it has that version, else None."""
    compiled = _compiled
    if compiled is not None and compiled[1].version == version:
        return compiled[1]
    return None
