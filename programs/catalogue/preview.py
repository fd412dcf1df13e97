"""
What an edit of a programme's rules would change, worked out before it is saved.

``preview_rules`` takes the programme as saved and as edited (plain data,
``engine.matching``; the admin builds the edited one from its unsaved form)
and returns:

* how many stored profiles are in each tier with either version: one
  aggregate query over every stored profile for both versions together
  (``sql.outcome_counts``, the impact query), so the figures are those the
  impact report gives after a save;
* the programme's scenarios whose tier the edit moves, and those that
  would fail against the edited rules (``catalogue.scenarios``);
* the edited programme's criteria that cannot change any outcome
  (``engine.shadowing``).

Nothing here writes: it reads stored profiles and the scenario file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.db.models import QuerySet
from django.utils.text import capfirst
from django.utils.translation import gettext

from programs.catalogue import scenarios
from programs.engine import contract, matching, shadowing, sql
from programs.engine.matching import Tier
from programs.engine.text import together
from programs.models import BusinessProfile


@dataclass(frozen=True)
class TierCount:
    """Stored profiles in one tier with the saved rules (None: a new programme)
    and with the edited ones."""

    tier: Tier
    before: int | None
    after: int

    @property
    def change(self) -> int | None:
        return None if self.before is None else self.after - self.before


@dataclass(frozen=True)
class ScenarioChange:
    """A scenario whose tier the edit moves."""

    scenario: scenarios.Scenario
    before: Tier | None  # None: a new programme
    after: Tier
    passes: bool  # with the edited rules


@dataclass(frozen=True)
class FailingScenario:
    """A scenario that fails against the edited rules, and why, as staff read it."""

    scenario: scenarios.Scenario
    why: str


def why_failing(result: scenarios.ScenarioResult) -> str:
    """Return how a scenario's outcome differs from the expected one, in words."""
    s, m = result.scenario, result.match
    if m is None:
        return ""
    if not result.tier_holds:
        return gettext("expected %(expected)s, gets %(got)s") % {
            "expected": s.expected.label,
            "got": m.tier.label,
        }
    if not result.decided_by_holds:
        return gettext(
            "%(tier)s as expected, but decided by %(got)s instead of %(expected)s"
        ) % {
            "tier": capfirst(m.tier.label),
            "got": decided_by_names(result.decided_by),
            "expected": decided_by_names([s.decided_by]),
        }
    assert s.availability is not None  # the only other way to fail
    return gettext("expected %(expected)s on %(date)s, gets %(got)s") % {
        "expected": matching.AVAILABILITY_LABELS[s.availability],
        "date": s.as_of.isoformat(),
        "got": matching.AVAILABILITY_LABELS[m.availability],
    }


def decided_by_names(fields: Iterable[str]) -> str:
    """Return what decides an outcome as staff read it: field names, or the provider."""
    return together(
        [
            gettext("the provider's own selection")
            if name == scenarios.DISCRETION
            else contract.FIELDS[name].name_in_sentence
            for name in fields
        ]
    ) or gettext("nothing")


@dataclass(frozen=True)
class RulePreview:
    total: int  # stored profiles counted
    tiers: tuple[TierCount, ...]
    changed: tuple[ScenarioChange, ...]
    #: Scenarios that fail against the edited rules, whether the edit moved them or not.
    failing: tuple[FailingScenario, ...]
    scenario_count: int
    #: Why the scenarios could not be run (empty when they were).
    scenario_problems: tuple[str, ...]
    shadowed: tuple[shadowing.Shadowed, ...]

    @property
    def moved(self) -> bool:
        """Return whether any tier count changes."""
        return any(row.change for row in self.tiers)


def tiers_of(counts: dict[str, int]) -> dict[Tier, int]:
    """Return ``sql.outcome_counts`` figures by tier (near misses out of not eligible)."""
    near_miss = counts["near_miss"]
    return {
        Tier.ELIGIBLE: counts[matching.Outcome.ELIGIBLE],
        Tier.POSSIBLY_ELIGIBLE: counts[matching.Outcome.POSSIBLY_ELIGIBLE],
        Tier.NEAR_MISS: near_miss,
        Tier.NOT_ELIGIBLE: counts[matching.Outcome.NOT_ELIGIBLE] - near_miss,
    }


def tier_counts(
    before: matching.Programme | None,
    after: matching.Programme,
    profiles: QuerySet[BusinessProfile] | None = None,
) -> tuple[TierCount, ...]:
    """Return stored profiles per tier with both versions, in one query."""
    versions = {"after": after} | ({"before": before} if before else {})
    counts = sql.outcome_counts(
        BusinessProfile.objects.all() if profiles is None else profiles,
        [dataclasses.replace(p, slug=key) for key, p in versions.items()],
    )
    after_tiers = tiers_of(counts["after"])
    before_tiers = tiers_of(counts["before"]) if before else None
    return tuple(
        TierCount(tier, None if before_tiers is None else before_tiers[tier], n)
        for tier, n in after_tiers.items()
    )


def scenario_changes(
    before: matching.Programme | None,
    after: matching.Programme,
    *,
    path: Path = scenarios.SCENARIOS_FILE,
) -> tuple[
    tuple[ScenarioChange, ...],
    tuple[FailingScenario, ...],
    int,
    tuple[str, ...],
]:
    """Return the scenarios the edit moves, those failing after it, how many
    scenarios the programme has, and the scenario file's problems if any.

    The programme's scenarios are those of its saved slug.
    """
    slug = before.slug if before else after.slug
    try:
        loaded = scenarios.load_scenarios(path)
    except scenarios.ScenarioError as error:
        return (), (), 0, tuple(error.problems)
    own = [s for s in loaded if s.programme == slug]
    edited = scenarios.run_scenarios(own, [dataclasses.replace(after, slug=slug)])
    saved: list[Tier | None] = (
        [r.tier for r in scenarios.run_scenarios(own, [before])]
        if before
        else [None] * len(own)
    )
    changed = tuple(
        ScenarioChange(r.scenario, tier, r.tier, r.passed)
        for r, tier in zip(edited, saved, strict=True)
        if r.tier is not None and r.tier is not tier
    )
    failing = tuple(
        FailingScenario(r.scenario, why_failing(r)) for r in edited if not r.passed
    )
    return changed, failing, len(own), ()


def preview_rules(
    before: matching.Programme | None,
    after: matching.Programme,
    *,
    profiles: QuerySet[BusinessProfile] | None = None,
    scenario_file: Path = scenarios.SCENARIOS_FILE,
) -> RulePreview:
    """Return what saving ``after`` in place of ``before`` would change (see above)."""
    tiers = tier_counts(before, after, profiles)
    changed, failing, count, problems = scenario_changes(
        before, after, path=scenario_file
    )
    return RulePreview(
        total=sum(row.after for row in tiers),
        tiers=tiers,
        changed=changed,
        failing=failing,
        scenario_count=count,
        scenario_problems=problems,
        shadowed=shadowing.shadowed_criteria(after),
    )
