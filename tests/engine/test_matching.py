"""The pure matcher: groups, outcomes, near misses, as-of availability, ranking."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import translation

from programs.engine import matching, rules
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
        rule("province", "equals", "CN-ZJ", group=2),
    )
    assert (
        assess(make_profile(business_type="restaurant"), programme, as_of=AS_OF).outcome
        is Outcome.ELIGIBLE
    )
    failed = assess(make_profile(business_type="farm"), programme, as_of=AS_OF)
    assert failed.outcome is Outcome.NOT_ELIGIBLE


def test_one_failing_group_the_owner_can_act_on_is_a_near_miss_with_the_action():
    programme = make_programme(
        "p",
        rule("platforms", "contains_any", ["taobao", "tmall"], group=1),
        rule("province", "equals", "CN-ZJ", group=2),
    )
    result = assess(make_profile(platforms={"jd"}), programme, as_of=AS_OF)
    assert result.outcome is Outcome.NOT_ELIGIBLE
    assert result.near_miss is True
    assert result.tier == "near_miss"
    [change] = result.changes
    assert change.criterion.field == "platforms"
    assert result.actions == ("Open a shop or an account on Taobao or Tmall.",)
    with translation.override("zh-hans"):
        assert result.actions == ("在淘宝或天猫开店或开通账户。",)


def test_a_failing_group_nobody_can_change_is_not_a_near_miss():
    programme = make_programme(
        "p",
        rule("export_share_pct", "gte", 10, group=1),
        rule("province", "equals", "CN-ZJ", group=2),
    )
    result = assess(make_profile(export_share_pct=Decimal(0)), programme, as_of=AS_OF)
    assert result.outcome is Outcome.NOT_ELIGIBLE
    assert result.near_miss is False
    assert result.tier == "not_eligible"
    assert result.changes == ()
    assert result.actions == ()


def test_a_group_is_actionable_only_when_every_alternative_is():
    programme = make_programme(
        "p",
        rule("registration", "equals", "individual_business", group=1),
        rule("size_class", "one_of", ["micro"], group=1),
    )
    large_company = make_profile(
        registration="company", employees=5000, annual_revenue_cny=10**9
    )
    result = assess(large_company, programme, as_of=AS_OF)
    assert result.outcome is Outcome.NOT_ELIGIBLE
    assert result.near_miss is False


def test_two_failing_groups_are_not_a_near_miss():
    programme = make_programme(
        "p",
        rule("platforms", "contains_any", ["taobao"], group=1),
        rule("registration", "equals", "individual_business", group=2),
    )
    result = assess(
        make_profile(platforms=set(), registration="company"), programme, as_of=AS_OF
    )
    assert result.outcome is Outcome.NOT_ELIGIBLE
    assert result.near_miss is False
    assert result.changes == ()


def test_failing_group_wins_over_unknown_group():
    programme = make_programme(
        "p",
        rule("has_bank_loan", "is", True, group=1),
        rule("registration", "equals", "individual_business", group=2),
    )
    result = assess(make_profile(registration="company"), programme, as_of=AS_OF)
    assert result.outcome is Outcome.NOT_ELIGIBLE
    assert result.near_miss is True


def test_preferences_never_exclude_but_raise_the_score():
    programme = make_programme(
        "p",
        rule("province", "equals", "CN-ZJ", group=1),
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
        rule("province", "equals", "CN-ZJ"),
        discretionary="Chosen by the provider",
    )
    result = assess(make_profile(), programme, as_of=AS_OF)
    assert result.outcome is Outcome.POSSIBLY_ELIGIBLE
    assert result.questions == ()


def test_needs_never_decide_eligibility():
    programme = make_programme("p", needs={"financing"})
    result = assess(make_profile(needs={"training"}), programme, as_of=AS_OF)
    assert result.outcome is Outcome.ELIGIBLE
    assert result.needs_addressed == ()


def test_each_result_says_which_stated_needs_it_addresses_in_contract_order():
    programme = make_programme("p", needs={"training", "tax_relief", "financing"})
    result = assess(
        make_profile(needs={"training", "financing", "hiring"}), programme, as_of=AS_OF
    )
    assert result.needs_addressed == ("financing", "training")
    assert result.to_dict()["needs_addressed"] == ["financing", "training"]


def test_a_need_the_sources_do_not_state_is_said_to_be_our_assumption():
    programme = make_programme(
        "p", needs={"logistics", "digitisation"}, needs_assumed={"digitisation"}
    )
    result = assess(
        make_profile(needs={"logistics", "digitisation", "training"}),
        programme,
        as_of=AS_OF,
    )
    assert result.needs_addressed == ("digitisation", "logistics")
    assert result.needs_assumed == ("digitisation",)
    assert result.to_dict()["needs_assumed"] == ["digitisation"]


def test_rules_on_needs_are_refused():
    with pytest.raises(rules.RuleError) as caught:
        rules.clean_criterion_value("needs", "contains_any", ["financing"])
    assert list(caught.value.errors) == ["field"]


def test_unknown_derived_field_asks_for_the_answers_it_comes_from():
    programme = make_programme("p", rule("urgency", "one_of", ["critical", "high"]))
    result = assess(make_profile(), programme, as_of=AS_OF)
    assert result.outcome is Outcome.POSSIBLY_ELIGIBLE
    assert result.questions == ("cash_runway_months",)
    assert "we work this out from your cash runway" in result.results[0].reason


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
    return [
        make_programme(
            "slow-two-needs", days_to_money=60, needs={"financing", "interest_relief"}
        ),
        make_programme("fast-one-need", days_to_money=1, needs={"financing"}),
        make_programme("unknown-speed-one-need", needs={"financing"}),
        make_programme("fast-no-need", days_to_money=0, needs={"hiring"}),
        make_programme(
            "possibly-one-need",
            rule("has_bank_loan", "is", True),
            days_to_money=0,
            needs={"financing"},
        ),
        make_programme(
            "near-miss",
            rule("platforms", "contains_any", ["taobao"]),
            days_to_money=0,
            needs={"financing"},
        ),
        make_programme(
            "not-eligible",
            rule("business_type", "equals", "farm", group=1),
            rule("province", "equals", "CN-HB", group=2),
            needs={"financing"},
        ),
        make_programme(
            "closed-one-need",
            days_to_money=0,
            closes_on=datetime.date(2020, 1, 1),
            needs={"financing"},
        ),
    ]


def slugs(report):
    return [m.programme.slug for m in report.matches]


def owner(**answers):
    return make_profile(
        needs={"financing", "interest_relief"}, platforms=set(), **answers
    )


#: The same after the first two places, whatever the urgency.
REST = [
    "unknown-speed-one-need",
    "closed-one-need",
    "possibly-one-need",
    "fast-no-need",
    "near-miss",
    "not-eligible",
]


@pytest.mark.parametrize(
    ("runway", "urgency", "first_two"),
    [
        # An urgent business sees the fastest money first within each group...
        (1, "critical", ["fast-one-need", "slow-two-needs"]),
        # ...any other the programme addressing more of its needs first.
        (12, "low", ["slow-two-needs", "fast-one-need"]),
    ],
)
def test_urgency_decides_between_speed_and_needs_within_each_group(
    runway, urgency, first_two
):
    profile = owner(cash_runway_months=Decimal(runway))
    assert profile.urgency == urgency
    report = match(profile, ranking_catalogue(), as_of=AS_OF)
    assert slugs(report) == [*first_two, *REST]


def test_unknown_urgency_ranks_like_a_business_with_time():
    profile = owner()
    assert profile.urgency is None
    assert slugs(match(profile, ranking_catalogue(), as_of=AS_OF))[:3] == [
        "slow-two-needs",
        "fast-one-need",
        "unknown-speed-one-need",
    ]


def test_a_fit_for_nothing_asked_comes_after_every_fit_for_a_stated_need():
    report = match(owner(), ranking_catalogue(), as_of=AS_OF)
    fits = [m for m in report.matches if m.tier in ("eligible", "possibly_eligible")]
    addressing = [bool(m.needs_addressed) for m in fits]
    assert addressing == sorted(addressing, reverse=True)
    assert fits[-1].programme.slug == "fast-no-need"


def test_ties_go_to_the_larger_amount_then_a_documented_time_to_money():
    same = {"days_to_money": 5, "needs": {"financing"}}
    catalogue = [
        make_programme("a-small", max_amount_cny=Decimal(1000), **same),
        make_programme("b-estimated", days_to_money_assumed=True, **same),
        make_programme("c-large", max_amount_cny=Decimal(100000), **same),
        make_programme("d-documented", days_to_money_assumed=False, **same),
    ]
    assert slugs(match(owner(), catalogue, as_of=AS_OF)) == [
        "c-large",
        "a-small",
        "d-documented",
        "b-estimated",
    ]


def test_at_equal_need_fit_a_programme_whose_needs_the_sources_state_comes_first():
    same = {"days_to_money": 5, "needs": {"financing", "training"}}
    catalogue = [
        make_programme("a-our-reading", needs_assumed={"training"}, **same),
        make_programme("b-stated", **same),
    ]
    profile = make_profile(needs={"financing", "training"}, platforms=set())
    assert slugs(match(profile, catalogue, as_of=AS_OF)) == [
        "b-stated",
        "a-our-reading",
    ]


def test_report_counts_each_tier():
    report = match(owner(), ranking_catalogue(), as_of=AS_OF)
    assert report.counts() == {
        "eligible": 5,
        "possibly_eligible": 1,
        "near_miss": 1,
        "not_eligible": 1,
    }


def test_catalogue_version_changes_when_any_rule_changes():
    base = [make_programme("p", rule("employees", "gte", 10))]
    changed = [make_programme("p", rule("employees", "gte", 11))]
    assert matching.catalogue_version(base) == matching.catalogue_version(list(base))
    assert matching.catalogue_version(base) != matching.catalogue_version(changed)


# -- implied answers ---------------------------------------------------------------------


def test_no_export_revenue_implies_no_export_markets_and_is_never_asked():
    programme = make_programme(
        "p", rule("export_markets", "contains_any", ["europe", "north_america"])
    )
    result = assess(make_profile(export_share_pct=Decimal(0)), programme, as_of=AS_OF)
    assert result.outcome is Outcome.NOT_ELIGIBLE
    assert result.questions == ()
    [reason] = [r.reason for r in result.results]
    assert reason.startswith(
        "You said none of your revenue comes from exports, so you have no export markets."
    )


def test_i_dont_export_implies_no_export_revenue():
    programme = make_programme("p", rule("export_share_pct", "gte", 10))
    result = assess(make_profile(export_markets=frozenset()), programme, as_of=AS_OF)
    assert result.outcome is Outcome.NOT_ELIGIBLE
    assert result.results[0].actual == Decimal(0)
    with translation.override("zh-hans"):
        assert result.results[0].reason.startswith("您说您不做出口")


def test_revenue_above_5_million_implies_a_general_vat_taxpayer():
    programme = make_programme("p", rule("vat_small_scale", "is", True))
    above = assess(
        make_profile(annual_revenue_cny=Decimal("5000000.01")), programme, as_of=AS_OF
    )
    at_the_limit = assess(
        make_profile(annual_revenue_cny=Decimal(5_000_000)), programme, as_of=AS_OF
    )
    assert above.outcome is Outcome.NOT_ELIGIBLE
    assert above.near_miss is False
    assert at_the_limit.outcome is Outcome.POSSIBLY_ELIGIBLE
    assert at_the_limit.questions == ("vat_small_scale",)


def test_an_implied_answer_that_fails_a_rule_is_never_worded_as_what_the_owner_said():
    programme = make_programme("p", rule("vat_small_scale", "is", True))
    result = assess(
        make_profile(annual_revenue_cny=Decimal(10**9)), programme, as_of=AS_OF
    )
    [reason] = [r.reason for r in result.results]
    assert reason == (
        "Your revenue is above RMB 5 million a year, so you are a general VAT "
        "taxpayer, not a small-scale one. Only if you are a small-scale VAT taxpayer."
    )
    assert "you said" not in reason


def test_an_answer_given_is_never_replaced_by_an_implied_one():
    programme = make_programme("p", rule("export_markets", "contains_any", ["europe"]))
    profile = make_profile(
        export_share_pct=Decimal(0), export_markets=frozenset({"europe"})
    )
    result = assess(profile, programme, as_of=AS_OF)
    assert result.outcome is Outcome.ELIGIBLE
    assert result.implied == {}


# -- questions worth asking --------------------------------------------------------------


def test_a_discretionary_programme_with_nothing_to_ask_is_for_the_provider_to_decide():
    decided = assess(
        make_profile(),
        make_programme(
            "p", rule("province", "equals", "CN-ZJ"), discretionary="Picked"
        ),
        as_of=AS_OF,
    )
    open_question = assess(
        make_profile(),
        make_programme("q", rule("has_bank_loan", "is", True), discretionary="Picked"),
        as_of=AS_OF,
    )
    assert decided.outcome is Outcome.POSSIBLY_ELIGIBLE
    assert (decided.provider_decides, decided.questions) == (True, ())
    assert (open_question.provider_decides, open_question.questions) == (
        False,
        ("has_bank_loan",),
    )


def test_next_questions_are_the_ones_that_settle_the_most_programmes():
    catalogue = [
        make_programme("a", rule("has_bank_loan", "is", True)),
        make_programme("b", rule("has_bank_loan", "is", True)),
        make_programme("c", rule("employees", "lte", 10)),
        make_programme("d", rule("size_class", "one_of", ["micro"])),
        make_programme("e", rule("province", "equals", "CN-ZJ")),
    ]
    report = match(make_profile(), catalogue, as_of=AS_OF)
    assert report.next_questions == (
        ("employees", 2),
        ("has_bank_loan", 2),
        ("annual_revenue_cny", 1),
    )
    assert report.to_dict()["next_questions"][0] == {
        "field": "employees",
        "programmes": 2,
    }


def test_a_question_settling_a_programme_for_a_stated_need_is_asked_first():
    catalogue = [
        make_programme("a", rule("has_bank_loan", "is", True)),
        make_programme("b", rule("has_bank_loan", "is", True)),
        make_programme("c", rule("premises", "equals", "owned"), needs={"rent_relief"}),
    ]
    report = match(make_profile(needs={"rent_relief"}), catalogue, as_of=AS_OF)
    assert report.next_questions == (("premises", 1), ("has_bank_loan", 2))


# -- conditions as the owner reads them ------------------------------------------------


def test_a_programme_that_fits_never_shows_a_failed_condition():
    programme = make_programme(
        "p",
        rule("registration", "equals", "individual_business", group=1),
        rule("size_class", "one_of", ["micro", "small"], group=1),
        rule("province", "equals", "CN-HB", required=False),
    )
    stall = make_profile(registration="individual_business", employees=5000)
    result = assess(stall, programme, as_of=AS_OF)
    assert result.outcome is Outcome.ELIGIBLE
    any_of, bonus = result.conditions
    assert (any_of.kind, any_of.state) == ("any", "met")
    marks = [mark for mark, _text, _criterion in any_of.lines]
    # The alternative it does not meet reads as the rule, not as a failure.
    assert marks == ["met", ""]
    assert any_of.lines[1][1] == "Size class must be micro or small."
    assert (bonus.kind, bonus.lines[0][0]) == ("bonus", "")
    assert all(mark != "not_met" for c in result.conditions for mark, _t, _c in c.lines)


def test_a_group_that_fails_shows_each_failure_with_what_the_owner_said():
    programme = make_programme(
        "p",
        rule("business_type", "one_of", ["restaurant"], group=1),
        rule("registration", "equals", "individual_business", group=1),
    )
    result = assess(
        make_profile(business_type="farm", registration="company"),
        programme,
        as_of=AS_OF,
    )
    [condition] = result.conditions
    assert condition.state == "not_met"
    assert [mark for mark, _t, _c in condition.lines] == ["not_met", "not_met"]
    assert "you said company" in condition.lines[1][1]


def test_an_open_group_marks_only_its_unanswered_criteria():
    programme = make_programme(
        "p",
        rule("registration", "equals", "individual_business", group=1),
        rule("employees", "lte", 10, group=1),
    )
    result = assess(make_profile(registration="company"), programme, as_of=AS_OF)
    [condition] = result.conditions
    assert condition.state == "unknown"
    assert [mark for mark, _t, _c in condition.lines] == ["", "unknown"]


# -- which questions the page asks --------------------------------------------------------


def test_a_question_whose_programmes_an_earlier_one_settles_is_not_asked_too():
    catalogue = [
        make_programme(
            "export",
            rule("export_share_pct", "gte", 10, group=1),
            rule("export_markets", "contains_any", ["europe"], group=1),
        ),
        make_programme("loan", rule("has_bank_loan", "is", True)),
    ]
    report = match(make_profile(), catalogue, as_of=AS_OF)
    assert [name for name, _n in report.next_questions] == [
        "export_share_pct",
        "export_markets",
        "has_bank_loan",
    ]
    assert report.questions_to_ask(3) == (("export_share_pct", 1), ("has_bank_loan", 1))
    assert report.questions_to_ask(1) == (("export_share_pct", 1),)


def test_a_programme_closed_on_the_date_is_not_worth_a_question():
    catalogue = [
        make_programme(
            "ended", rule("has_bank_loan", "is", True), closes_on=AS_OF.replace(day=1)
        ),
        make_programme("running", rule("premises", "equals", "owned")),
    ]
    report = match(make_profile(), catalogue, as_of=AS_OF)
    assert report.next_questions == (("premises", 1),)
