"""The pure matcher: operators, tri-state logic, groups, near misses, ranking, as-of, size classes."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import translation

from programs.engine import contract, matching, rules
from programs.engine.matching import Availability, Outcome, assess, evaluate, match
from programs.engine.rules import State
from tests.builders import AS_OF, make_profile, make_programme, rule

# -- operators -------------------------------------------------------------


@pytest.mark.parametrize(
    ("criterion", "answers", "state"),
    [
        (
            ("business_type", "equals", "restaurant"),
            {"business_type": "restaurant"},
            State.MET,
        ),
        (
            ("business_type", "equals", "restaurant"),
            {"business_type": "farm"},
            State.NOT_MET,
        ),
        (("registration", "equals", "company"), {}, State.UNKNOWN),
        (("province", "one_of", ["CN-HB", "CN-GD"]), {"province": "CN-HB"}, State.MET),
        (
            ("province", "one_of", ["CN-HB", "CN-GD"]),
            {"province": "CN-ZJ"},
            State.NOT_MET,
        ),
        (
            ("premises", "not_one_of", ["owned"]),
            {"premises": "rented_private"},
            State.MET,
        ),
        (("premises", "not_one_of", ["owned"]), {"premises": "owned"}, State.NOT_MET),
        (("premises", "not_one_of", ["owned"]), {}, State.UNKNOWN),
        (
            ("platforms", "contains_any", ["taobao", "tmall"]),
            {"platforms": {"tmall", "jd"}},
            State.MET,
        ),
        (
            ("platforms", "contains_any", ["taobao", "tmall"]),
            {"platforms": {"jd"}},
            State.NOT_MET,
        ),
        (
            ("platforms", "contains_any", ["taobao"]),
            {"platforms": set()},
            State.NOT_MET,
        ),
        (("platforms", "contains_any", ["taobao"]), {}, State.UNKNOWN),
        (("employees", "gte", 10), {"employees": 10}, State.MET),
        (("employees", "gte", 10), {"employees": 9}, State.NOT_MET),
        (("employees", "lte", 9), {"employees": 9}, State.MET),
        (("employees", "lte", 9), {"employees": 10}, State.NOT_MET),
        (("employees", "lte", 9), {}, State.UNKNOWN),
        (
            ("export_share_pct", "between", ["10", "50"]),
            {"export_share_pct": 10.0},
            State.MET,
        ),
        (
            ("export_share_pct", "between", ["10", "50"]),
            {"export_share_pct": 50.0},
            State.MET,
        ),
        (
            ("export_share_pct", "between", ["10", "50"]),
            {"export_share_pct": 50.01},
            State.NOT_MET,
        ),
        (
            ("export_share_pct", "between", ["10", "50"]),
            {"export_share_pct": 9.99},
            State.NOT_MET,
        ),
        (("has_bank_loan", "is", True), {"has_bank_loan": True}, State.MET),
        (("has_bank_loan", "is", True), {"has_bank_loan": False}, State.NOT_MET),
        (("has_bank_loan", "is", False), {"has_bank_loan": False}, State.MET),
        (("has_bank_loan", "is", True), {}, State.UNKNOWN),
        (("size_class", "one_of", ["micro"]), {"employees": 3}, State.MET),
        (("size_class", "one_of", ["micro"]), {}, State.UNKNOWN),
        (
            ("cash_runway_months", "lte", 3),
            {"cash_on_hand_cny": 20000.0, "monthly_fixed_costs_cny": 10000.0},
            State.MET,
        ),
    ],
)
def test_each_operator_is_met_not_met_or_unknown(criterion, answers, state):
    assert evaluate(rule(*criterion), make_profile(**answers).facts()) is state


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


def test_reasons_follow_the_active_language():
    result = assess(
        make_profile(export_share_pct=Decimal(0)),
        make_programme("p", rule("export_share_pct", "gte", 10)),
        as_of=AS_OF,
    )
    with translation.override("zh-hans"):
        reason = result.results[0].reason
    assert "10" in reason
    assert "出口" in reason


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


# -- derived fields ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("business_type", "employees", "revenue", "size"),
    [
        # retail: micro < 10 staff or < 1m; small 10-49 and 1-5m; medium 50-299 and 5-200m
        ("retail_shop", 9, 50_000_000, "micro"),
        ("retail_shop", 10, 999_999, "micro"),
        ("retail_shop", 10, 1_000_000, "small"),
        ("retail_shop", 49, 100_000_000, "small"),
        ("retail_shop", 50, 5_000_000, "medium"),
        ("retail_shop", 299, 10**10, "medium"),
        ("retail_shop", 300, 200_000_000, "large"),
        ("retail_shop", 300, 199_999_999, "medium"),
        ("street_stall", 1, 80_000, "micro"),
        # industry: micro < 20 or < 3m; small 20-299 and 3-20m; medium 300-999 and 20-400m
        ("manufacturer", 19, 10**8, "micro"),
        ("manufacturer", 20, 3_000_000, "small"),
        ("manufacturer", 300, 20_000_000, "medium"),
        ("manufacturer", 1000, 400_000_000, "large"),
        # catering: micro < 10 or < 1m; ceiling 300 staff or 100m
        ("restaurant", 9, 5_000_000, "micro"),
        ("restaurant", 10, 1_000_000, "small"),
        ("restaurant", 100, 20_000_000, "medium"),
        ("restaurant", 300, 100_000_000, "large"),
        # wholesale: micro < 5 or < 10m
        ("wholesaler", 4, 10**8, "micro"),
        ("wholesaler", 5, 10_000_000, "small"),
        # agriculture: revenue only, micro < 0.5m
        ("farm", 500, 499_999, "micro"),
        ("farm", None, 500_000, "small"),
        ("farm", None, 5_000_000, "medium"),
        # software and IT services: micro < 10 or < 0.5m
        ("tech_company", 10, 500_000, "small"),
        ("tech_company", 100, 10_000_000, "medium"),
        # other industries: employees only
        ("service_business", 9, None, "micro"),
        ("service_business", 10, None, "small"),
        ("other", 300, None, "large"),
    ],
)
def test_size_class_follows_the_2011_standard_at_its_boundaries(
    business_type, employees, revenue, size
):
    profile = make_profile(
        business_type=business_type,
        employees=employees,
        annual_revenue_cny=None if revenue is None else Decimal(revenue),
    )
    assert profile.size_class == size


@pytest.mark.parametrize(
    ("employees", "revenue", "size"),
    [
        (5, None, "micro"),  # fewer than 10 staff is micro whatever the revenue
        (None, 500_000, "micro"),  # under 1m is micro whatever the headcount
        (20, None, None),  # at least small, but not which
        (None, 3_000_000, None),
        (None, None, None),
    ],
)
def test_size_class_with_missing_answers_is_known_only_when_the_standard_settles_it(
    employees, revenue, size
):
    profile = make_profile(
        employees=employees,
        annual_revenue_cny=None if revenue is None else Decimal(revenue),
    )
    assert profile.size_class == size


@pytest.mark.parametrize(
    ("runway", "urgency"),
    [
        ("0", "critical"),
        ("1", "critical"),
        ("1.01", "high"),
        ("3", "high"),
        ("3.5", "moderate"),
        ("6", "moderate"),
        ("6.01", "low"),
        ("120", "low"),
    ],
)
def test_urgency_tiers_follow_months_of_runway(runway, urgency):
    assert make_profile(cash_runway_months=Decimal(runway)).urgency == urgency


def test_runway_is_derived_from_cash_and_costs_when_months_are_not_given():
    profile = make_profile(
        cash_on_hand_cny=Decimal(25_000), monthly_fixed_costs_cny=Decimal(10_000)
    )
    assert profile.runway_months == Decimal("2.50")
    assert profile.urgency == "high"


def test_stated_runway_wins_over_cash_and_costs():
    profile = make_profile(
        cash_runway_months=Decimal(8),
        cash_on_hand_cny=Decimal(1),
        monthly_fixed_costs_cny=Decimal(10_000),
    )
    assert profile.urgency == "low"


def test_runway_without_fixed_costs_is_capped():
    profile = make_profile(
        cash_on_hand_cny=Decimal(10), monthly_fixed_costs_cny=Decimal(0)
    )
    assert profile.runway_months == Decimal(120)


def test_unknown_runway_gives_unknown_urgency():
    assert make_profile(cash_on_hand_cny=Decimal(10)).urgency is None


# -- parsing profiles ------------------------------------------------------------------------


def test_minimal_profile_needs_only_type_province_and_needs():
    profile = contract.parse_profile(
        {"business_type": "street_stall", "province": "CN-HB", "needs": ["financing"]}
    )
    assert profile.employees is None
    assert profile.platforms is None
    assert profile.needs == frozenset({"financing"})


def test_parse_profile_reports_every_problem_by_field():
    with pytest.raises(contract.ProfileError) as caught:
        contract.parse_profile(
            {
                "business_type": "spaceship",
                "employees": -1,
                "export_share_pct": 101,
                "cash_runway_months": "NaN",
                "annual_revenue_cny": 1e30,
                "has_bank_loan": "maybe",
                "platforms": ["taobao", "myspace"],
                "needs": [],
                "colour": "red",
            }
        )
    errors = caught.value.errors
    assert set(errors) == {
        "business_type",
        "province",
        "employees",
        "export_share_pct",
        "cash_runway_months",
        "annual_revenue_cny",
        "has_bank_loan",
        "platforms",
        "needs",
        "colour",
    }
    assert errors["province"] == ["This field is required."]
    assert errors["needs"] == ["Choose at least one."]
    assert errors["colour"] == ["Unknown field."]


@pytest.mark.parametrize(
    "value", [True, "1e400", float("inf"), float("nan"), "ten", [1], 10**30, "3.5"]
)
def test_numbers_reject_non_numbers_and_out_of_range(value):
    with pytest.raises(contract.ProfileError) as caught:
        contract.parse_profile(
            {
                "business_type": "farm",
                "province": "CN-HB",
                "needs": ["financing"],
                "employees": value,
            }
        )
    assert list(caught.value.errors) == ["employees"]


def test_blank_optional_answer_means_unknown():
    profile = contract.parse_profile(
        {
            "business_type": "farm",
            "province": "CN-HB",
            "needs": ["financing", "training"],
            "employees": "",
            "has_bank_loan": "no",
        }
    )
    assert profile.employees is None
    assert profile.has_bank_loan is False
    assert profile.needs == frozenset({"financing", "training"})


# -- rules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "operator", "value", "part"),
    [
        ("colour", "equals", "red", "field"),
        ("city", "equals", "Wuhan", "field"),
        ("employees", "contains_any", ["1"], "operator"),
        ("employees", "gte", "ten", "value"),
        ("employees", "gte", "2.5", "value"),
        ("export_share_pct", "gte", 150, "value"),
        ("export_share_pct", "between", ["50", "10"], "value"),
        ("province", "one_of", ["CN-XX"], "value"),
        ("business_type", "equals", ["farm", "restaurant"], "value"),
        ("has_bank_loan", "is", "perhaps", "value"),
        ("needs", "contains_any", [], "value"),
        ("premises", "bogus", "owned", "operator"),
    ],
)
def test_bad_rules_are_refused_with_a_message_on_the_right_part(
    field, operator, value, part
):
    with pytest.raises(rules.RuleError) as caught:
        rules.clean_criterion_value(field, operator, value)
    assert list(caught.value.errors) == [part]
    assert caught.value.errors[part][0]


def test_catalogue_version_changes_when_any_rule_changes():
    base = [make_programme("p", rule("employees", "gte", 10))]
    changed = [make_programme("p", rule("employees", "gte", 11))]
    assert matching.catalogue_version(base) == matching.catalogue_version(list(base))
    assert matching.catalogue_version(base) != matching.catalogue_version(changed)
