"""
Bulk work over every stored profile, on PostgreSQL.

* The admin's impact view: every programme's outcome counts over all
  profiles in one aggregate query (``sql.outcome_counts``), side by side
  with a bare ``SELECT count(*)`` over the same table and with the same
  counts computed in Python (rows read with the ORM, ``matching.assess``).
* The admin's rule preview: an edit of Spring Thunder's export share
  threshold (10% -> 30%) previewed over all profiles: both versions' tier
  counts in one aggregate query (``preview.tier_counts``), and everything
  the preview shows (``preview.preview_rules``: the counts, the scenarios
  and the criteria that cannot change any outcome).
* Rematch after a rule change: one programme's criterion is changed and
  ``sql.rematch`` recomputes that programme's stored result for every
  profile; each run is rolled back so every run starts from the same data.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections import Counter
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from bench.common import log, median_seconds, timed
from programs.catalogue import preview, store
from programs.engine import contract, matching, sql
from programs.models import BusinessProfile, Criterion, StoredResult

AS_OF = datetime.date(2020, 6, 15)
#: The rule changed for the rematch measurement: MYbank's loan opens to more firms.
CHANGED_PROGRAMME = "mybank-contact-free-loans"


def count_all() -> int:
    return BusinessProfile.objects.count()


def impact_counts(catalogue: store.Catalogue) -> dict:
    return sql.outcome_counts(BusinessProfile.objects.all(), catalogue.programmes)


def python_counts(catalogue: store.Catalogue, limit: int | None = None) -> dict:
    """The same counts in Python: every profile read and assessed in this process."""
    counts: dict[str, Counter] = {p.slug: Counter() for p in catalogue.programmes}
    rows = BusinessProfile.objects.order_by("pk")
    if limit is not None:
        rows = rows[:limit]
    for row in rows.iterator(chunk_size=5000):
        profile = contract.from_columns(row)
        # With the answers other answers imply, as the SQL path applies them.
        facts, implied = matching.facts_of(profile)
        for programme in catalogue.programmes:
            m = matching.assess(
                profile, programme, as_of=AS_OF, facts=facts, implied=implied
            )
            counts[programme.slug][m.outcome.value] += 1
            counts[programme.slug]["near_miss"] += m.near_miss
    return counts


#: The rule edit previewed: Spring Thunder's export share threshold raised.
PREVIEWED_PROGRAMME = "alibaba-spring-thunder-export"


def previewed_edit(
    catalogue: store.Catalogue,
) -> tuple[matching.Programme, matching.Programme]:
    """Return the programme as saved and with its export share threshold at 30%."""
    before = catalogue.get(PREVIEWED_PROGRAMME)
    assert before is not None
    after = dataclasses.replace(
        before,
        criteria=tuple(
            dataclasses.replace(c, value=Decimal(30))
            if c.field == "export_share_pct"
            else c
            for c in before.criteria
        ),
    )
    return before, after


def rematch_changed_programme() -> float:
    """Change one criterion, rematch that programme, roll back; return the rematch time."""
    seconds = 0.0

    class Rollback(Exception):
        pass

    try:
        with transaction.atomic():
            criterion = (
                Criterion.objects.filter(programme__slug=CHANGED_PROGRAMME)
                .order_by("pk")
                .first()
            )
            criterion.required = not criterion.required
            criterion.save()
            seconds, report = timed(
                lambda: sql.rematch(slugs=[CHANGED_PROGRAMME], as_of=AS_OF)
            )
            log(
                f"  rematch moved {sum(report.changed[CHANGED_PROGRAMME].values()):,} results"
            )
            raise Rollback
    except Rollback:
        pass
    return seconds


def run(*, quick: bool) -> dict[str, Any]:
    catalogue = store.current_catalogue()
    profiles = count_all()
    runs = 3 if quick else 5
    count_s, _ = median_seconds(count_all, runs)
    impact_s, _ = median_seconds(lambda: impact_counts(catalogue), runs)
    # Python is slow by design; over the full table it runs once.
    python_s, python = timed(lambda: python_counts(catalogue))
    sql = impact_counts(catalogue)
    for slug, counted in python.items():
        for outcome in ("eligible", "possibly_eligible", "not_eligible", "near_miss"):
            if counted[outcome] != sql[slug][outcome]:
                raise SystemExit(f"Python and SQL disagree on {slug} {outcome}")
    results: dict[str, Any] = {
        "profiles": profiles,
        "programmes": len(catalogue.programmes),
        "count_star_seconds": round(count_s, 4),
        "impact_seconds": round(impact_s, 3),
        "impact_vs_count_star": round(impact_s / count_s, 1),
        "python_seconds": round(python_s, 1),
        "python_vs_impact": round(python_s / impact_s, 1),
    }
    before, after = previewed_edit(catalogue)
    counts_s, _ = median_seconds(lambda: preview.tier_counts(before, after), runs)
    preview_s, _ = median_seconds(lambda: preview.preview_rules(before, after), runs)
    results["preview_counts_seconds"] = round(counts_s, 3)
    results["preview_seconds"] = round(preview_s, 3)
    log(f"bulk impact: {results}")
    rematch_runs = 1 if quick else 3
    rematch_times = [rematch_changed_programme() for _ in range(rematch_runs)]
    results["rematch_one_programme_seconds"] = round(
        sorted(rematch_times)[len(rematch_times) // 2], 1
    )
    results["rematch_runs"] = rematch_runs
    results["stored_results"] = StoredResult.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        results["postgresql_parallel_workers_per_gather"] = cursor.fetchone()[0]
    return results
