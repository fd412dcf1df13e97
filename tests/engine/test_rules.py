"""The rule language: each operator's tri-state test, its cleaning and its reasons."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import translation

from programs.engine import contract, rules
from programs.engine.matching import assess, evaluate
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
        ("platforms", "contains_any", [], "value"),
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


# -- not_contains_any: "not on any of these platforms" ----------------------------------


@pytest.mark.parametrize(
    ("platforms", "state"),
    [
        ({"taobao"}, State.MET),
        (set(), State.MET),
        ({"jd", "taobao"}, State.NOT_MET),
        ({"pinduoduo"}, State.NOT_MET),
        (None, State.UNKNOWN),
    ],
)
def test_contains_none_of_is_met_only_when_no_listed_code_is_chosen(platforms, state):
    criterion = rule("platforms", "not_contains_any", ["jd", "pinduoduo"])
    profile = make_profile(
        platforms=None if platforms is None else frozenset(platforms)
    )
    assert evaluate(criterion, profile.facts()) is state


def test_contains_none_of_says_which_listed_codes_were_chosen():
    criterion = rule("platforms", "not_contains_any", ["jd", "pinduoduo"])
    result = assess(
        make_profile(platforms=frozenset({"jd", "taobao"})),
        make_programme("p", criterion),
        as_of=AS_OF,
    ).results[0]
    assert result.reason == (
        "Online platforms and payment accounts must include none of: JD.com, "
        "Pinduoduo; you said JD.com."
    )
    with translation.override("zh-hans"):
        assert "不能包括" in result.reason
        assert "京东" in result.reason


def test_contains_none_of_applies_to_set_fields_only():
    assert rules.NOT_CONTAINS_ANY in rules.operators_for(contract.FieldKind.MULTI)
    with pytest.raises(rules.RuleError) as caught:
        rules.clean_criterion_value("employees", "not_contains_any", ["1"])
    assert list(caught.value.errors) == ["operator"]


def test_contains_none_of_states_the_rule_for_the_catalogue():
    criterion = rule("platforms", "not_contains_any", ["meituan"])
    assert criterion.describe() == (
        "Online platforms and payment accounts contains none of Meituan."
    )


# -- every operator is one complete unit -----------------------------------------------


@pytest.mark.parametrize("operator", rules.OPERATORS.values(), ids=str)
def test_every_operator_says_all_it_needs_to_in_both_languages(operator):
    assert operator.kinds
    for text in (operator.label, operator.value_help, operator.met, operator.not_met):
        with translation.override("en"):
            english = str(text)
        with translation.override("zh-hans"):
            chinese = str(text)
        assert english
        assert chinese != english, english


def test_the_admin_is_told_what_to_type_for_every_operator():
    help_text = rules.value_help()
    for operator in rules.OPERATORS.values():
        assert str(operator.label) in help_text
