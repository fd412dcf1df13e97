"""Criteria that cannot change any outcome: found, named, and truly idle."""

from __future__ import annotations

import dataclasses

import pytest

from programs import demo
from programs.catalogue import loader, scenarios, store
from programs.engine import matching
from programs.engine.shadowing import shadowed_criteria
from tests.builders import AS_OF, make_profile, make_programme, rule

EXPORT_MARKETS_ALL = [
    "southeast_asia",
    "east_asia",
    "south_asia",
    "middle_east",
    "europe",
    "north_america",
    "latin_america",
    "africa",
    "oceania",
    "russia_central_asia",
]


def export_group(threshold: int, **kw):
    return make_programme(
        "spring",
        rule("export_share_pct", "gte", threshold, group=1),
        rule("export_markets", "contains_any", EXPORT_MARKETS_ALL, group=1),
        rule("size_class", "one_of", ["micro", "small", "medium"], group=2),
        **kw,
    )


@pytest.mark.parametrize("threshold", [10, 30, 100])
def test_export_share_decides_nothing_beside_any_market_when_the_provider_selects(
    threshold,
):
    programme = export_group(threshold, discretionary="Alibaba selects.")
    [shadowed] = shadowed_criteria(programme)
    assert shadowed.criterion.field == "export_share_pct"
    assert [c.field for c in shadowed.deciding] == ["export_markets"]
    assert "cannot change any outcome" in shadowed.warning()
    assert "export markets" in shadowed.warning()


def test_export_share_decides_when_markets_left_open_would_change_the_tier():
    # Not discretionary: 10% with markets not given is eligible, without the
    # share rule only possibly eligible.
    assert shadowed_criteria(export_group(10)) == ()


def test_a_share_of_zero_decides_and_leaves_the_markets_rule_nothing_to_decide():
    # Any answered share meets "at least 0%", also one with "I don't export";
    # a business naming a market has a share above 0 or has not given one.
    [shadowed] = shadowed_criteria(export_group(0, discretionary="Alibaba selects."))
    assert shadowed.criterion.field == "export_markets"
    assert [c.field for c in shadowed.deciding] == ["export_share_pct"]


def test_a_narrower_alternative_on_the_same_field_is_shadowed_by_a_wider_one():
    narrow = rule("employees", "lte", 10, group=1)
    wide = rule("employees", "lte", 50, group=1)
    programme = make_programme("p", narrow, wide)
    [shadowed] = shadowed_criteria(programme)
    assert shadowed.criterion is narrow
    assert shadowed.deciding == (wide,)


def test_independent_alternatives_both_decide():
    programme = make_programme(
        "p",
        rule("province", "equals", "CN-HB", group=1),
        rule("platforms", "contains_any", ["taobao"], group=1),
    )
    assert shadowed_criteria(programme) == ()


def without(programme: matching.Programme, criterion: matching.Criterion):
    return dataclasses.replace(
        programme, criteria=tuple(c for c in programme.criteria if c is not criterion)
    )


@pytest.mark.django_db
def test_a_shadowed_criterion_changes_no_tier_of_any_profile():
    """Removing each reported criterion leaves every tier as it was, over the
    scenario profiles and thousands of realistic ones (the definition, checked),
    for the shipped catalogue and for programmes built with idle criteria."""
    loader.load_catalogue()
    shipped = store.read_catalogue().programmes
    built = [
        export_group(10, discretionary="Alibaba selects."),
        export_group(0, discretionary="Alibaba selects."),
        make_programme(
            "p",
            rule("employees", "lte", 10, group=1),
            rule("employees", "lte", 50, group=1),
        ),
    ]
    profiles = [s.profile for s in scenarios.load_scenarios()]
    profiles += list(demo.synthetic_profiles(3000, seed=7))
    profiles += [
        make_profile(export_share_pct=share, export_markets=markets)
        for share in (None, 0, 5, 10, 30, 100)
        for markets in (None, [], ["africa"])
        if not (share and markets == []) and not (share == 0 and markets)
    ]
    found = []
    for programme in [*shipped, *built]:
        for shadowed in shadowed_criteria(programme):
            found.append(programme.slug)
            other = without(programme, shadowed.criterion)
            for profile in profiles:
                assert (
                    matching.assess(profile, programme, as_of=AS_OF).tier
                    is matching.assess(profile, other, as_of=AS_OF).tier
                ), (programme.slug, profile)
    assert len(found) == len(built)
    # The shipped catalogue has no criterion that cannot change an outcome.
    assert not {p.slug for p in shipped} & set(found)
