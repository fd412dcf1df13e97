"""The pure matcher: groups, outcomes, near misses, as-of availability, ranking."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from programs.engine import matching
from programs.engine.matching import Availability, Outcome, assess, match
from tests.builders import AS_OF, make_profile, make_programme, rule

# -- groups and outcomes ------------------------------------------------------


def test_criteria_in_one_group_are_alternatives():
    programme = make_programme(
        "p",
        rule("size_class", "one_of", ["micro", "small"], group=1),
        rule("registration", "equals", "individual_business", group=1),
    )
    large_individual = make_profile(
        employees=5000, annual_revenue_cny=10**9, registration="individual_business"
    )
    assert assess(large_individual, programme, as_of=AS_OF).outcome is Outcome.ELIGIBLE


def test_group_is_unknown_when_nothing_is_met_and_something_is_unknown():
    programme = make_programme(
        "p",
        rule("size_class", "one_of", ["micro"], group=1),
        rule("registration", "equals", "individual_business", group=1),
    )
    result = assess(make_profile(registration="company"), programme, as_of=AS_OF)
    assert result.outcome is Outcome.POSSIBLY_ELIGIBLE
    assert result.questions == ("employees", "annual_revenue_cny")


def test_every_group_must_pass():
    programme = make_programme(
        "p",
        rule("business_type", "equals", "restaurant", group=1),
        rule("needs", "contains_any", ["financing"], group=2),
    )
    assert (
        assess(make_profile(business_type="restaurant"), programme, as_of=AS_OF).outcome
        is Outcome.ELIGIBLE
    )
    failed = assess(make_profile(business_type="farm"), programme, as_of=AS_OF)
    assert failed.outcome is Outcome.NOT_ELIGIBLE


def test_one_failing_group_is_a_near_miss_with_what_would_have_to_change():
    programme = make_programme(
        "p",
        rule("export_share_pct", "gte", 10, group=1),
        rule("needs", "contains_any", ["financing"], group=2),
    )
    result = assess(make_profile(export_share_pct=Decimal(0)), programme, as_of=AS_OF)
    assert result.outcome is Outcome.NOT_ELIGIBLE
    assert result.near_miss is True
    assert result.tier == "near_miss"
    [change] = result.changes
    assert change.criterion.field == "export_share_pct"
    assert (
        change.reason
        == "Share of revenue from exports (%) must be at least 10; you said 0."
    )


def test_two_failing_groups_are_not_a_near_miss():
    programme = make_programme(
        "p",
        rule("export_share_pct", "gte", 10, group=1),
        rule("needs", "contains_any", ["cloud_it"], group=2),
    )
    result = assess(make_profile(export_share_pct=Decimal(0)), programme, as_of=AS_OF)
    assert result.outcome is Outcome.NOT_ELIGIBLE
    assert result.near_miss is False
    assert result.changes == ()


def test_failing_group_wins_over_unknown_group():
    programme = make_programme(
        "p",
        rule("has_bank_loan", "is", True, group=1),
        rule("business_type", "equals", "farm", group=2),
    )
    result = assess(make_profile(), programme, as_of=AS_OF)
    assert result.outcome is Outcome.NOT_ELIGIBLE
    assert result.near_miss is True


def test_preferences_never_exclude_but_raise_the_score():
    programme = make_programme(
        "p",
        rule("needs", "contains_any", ["financing"], group=1),
        rule("platforms", "contains_any", ["taobao"], required=False),
        needs={"financing"},
    )
    without = assess(make_profile(platforms={"jd"}), programme, as_of=AS_OF)
    with_taobao = assess(make_profile(platforms={"taobao"}), programme, as_of=AS_OF)
    assert without.outcome is Outcome.ELIGIBLE
    assert with_taobao.outcome is Outcome.ELIGIBLE
    assert with_taobao.score == without.score + 1
    assert without.score == 10


def test_programme_without_required_criteria_is_eligible_for_everyone():
    programme = make_programme(
        "p", rule("platforms", "contains_any", ["taobao"], required=False)
    )
    assert assess(make_profile(), programme, as_of=AS_OF).outcome is Outcome.ELIGIBLE


def test_discretionary_selection_is_never_better_than_possibly_eligible():
    programme = make_programme(
        "p",
        rule("needs", "contains_any", ["financing"]),
        discretionary="Chosen by the provider",
    )
    result = assess(make_profile(), programme, as_of=AS_OF)
    assert result.outcome is Outcome.POSSIBLY_ELIGIBLE
    assert result.questions == ()


def test_unknown_derived_field_asks_for_the_answers_it_comes_from():
    programme = make_programme("p", rule("urgency", "one_of", ["critical", "high"]))
    result = assess(make_profile(), programme, as_of=AS_OF)
    assert result.outcome is Outcome.POSSIBLY_ELIGIBLE
    assert result.questions == ("cash_runway_months",)
    assert "worked out from your other answers" in result.results[0].reason


# -- as-of availability -----------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "availability"),
    [
        (datetime.date(2020, 4, 6), Availability.NOT_YET_OPEN),
        (datetime.date(2020, 4, 7), Availability.OPEN),
        (datetime.date(2020, 6, 30), Availability.OPEN),
        (datetime.date(2020, 7, 1), Availability.CLOSED),
    ],
)
def test_availability_on_the_as_of_date(as_of, availability):
    programme = make_programme(
        "p", opens_on=datetime.date(2020, 4, 7), closes_on=datetime.date(2020, 6, 30)
    )
    report = match(make_profile(), [programme], as_of=as_of)
    [result] = report.matches  # reported, never dropped
    assert result.availability is availability


def test_withdrawn_programme_is_closed_whatever_its_dates():
    programme = make_programme("p", opens_on=datetime.date(2020, 1, 1), withdrawn=True)
    assert (
        assess(make_profile(), programme, as_of=AS_OF).availability
        is Availability.CLOSED
    )


# -- ranking --------------------------------------------------------------------------


def ranking_catalogue():
    needs_financing = rule("needs", "contains_any", ["financing"], group=1)
    return [
        make_programme(
            "slow-good-fit",
            needs_financing,
            days_to_money=60,
            needs={"financing", "interest_relief"},
        ),
        make_programme("fast-poor-fit", needs_financing, days_to_money=1, needs=set()),
        make_programme("unknown-speed", needs_financing, needs={"financing"}),
        make_programme("possibly", rule("has_bank_loan", "is", True), days_to_money=0),
        make_programme(
            "near-miss", rule("business_type", "equals", "farm"), days_to_money=0
        ),
        make_programme(
            "not-eligible",
            rule("business_type", "equals", "farm", group=1),
            rule("province", "equals", "CN-HB", group=2),
        ),
        make_programme(
            "closed-eligible",
            needs_financing,
            days_to_money=0,
            closes_on=datetime.date(2020, 1, 1),
        ),
    ]


def slugs(report):
    return [m.programme.slug for m in report.matches]


def test_urgent_business_sees_fast_money_first_within_each_tier():
    profile = make_profile(
        needs={"financing", "interest_relief"}, cash_runway_months=Decimal(1)
    )
    assert profile.urgency == "critical"
    report = match(profile, ranking_catalogue(), as_of=AS_OF)
    assert slugs(report) == [
        "fast-poor-fit",
        "slow-good-fit",
        "unknown-speed",
        "closed-eligible",
        "possibly",
        "near-miss",
        "not-eligible",
    ]


def test_business_with_time_sees_best_fit_first_within_each_tier():
    profile = make_profile(
        needs={"financing", "interest_relief"}, cash_runway_months=Decimal(12)
    )
    assert profile.urgency == "low"
    report = match(profile, ranking_catalogue(), as_of=AS_OF)
    assert slugs(report) == [
        "slow-good-fit",
        "unknown-speed",
        "fast-poor-fit",
        "closed-eligible",
        "possibly",
        "near-miss",
        "not-eligible",
    ]


def test_unknown_urgency_ranks_like_a_business_with_time():
    profile = make_profile(needs={"financing", "interest_relief"})
    assert profile.urgency is None
    assert slugs(match(profile, ranking_catalogue(), as_of=AS_OF))[:3] == [
        "slow-good-fit",
        "unknown-speed",
        "fast-poor-fit",
    ]


def test_report_counts_each_tier():
    report = match(make_profile(), ranking_catalogue(), as_of=AS_OF)
    assert report.counts() == {
        "eligible": 4,
        "possibly_eligible": 1,
        "near_miss": 1,
        "not_eligible": 1,
    }


def test_catalogue_version_changes_when_any_rule_changes():
    base = [make_programme("p", rule("employees", "gte", 10))]
    changed = [make_programme("p", rule("employees", "gte", 11))]
    assert matching.catalogue_version(base) == matching.catalogue_version(list(base))
    assert matching.catalogue_version(base) != matching.catalogue_version(changed)
