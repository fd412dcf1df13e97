"""The profile contract: derived fields and the one parser of answers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from programs.engine import contract
from tests.builders import make_profile

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
    assert errors["province"] == ["Choose one."]
    assert errors["employees"] == ["Enter 0 or more."]
    assert errors["export_share_pct"] == ["Enter 100 or less."]
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
