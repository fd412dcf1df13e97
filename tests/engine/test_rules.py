"""The rule language: each operator's tri-state test, its cleaning and its reasons."""

from __future__ import annotations

import re
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
        "Online platforms and payment accounts must not include JD.com or "
        "Pinduoduo; you said JD.com."
    )
    with translation.override("zh-hans"):
        assert result.reason == (
            "线上平台和收款账户不能包括京东或拼多多；您填写的是京东。"
        )


def test_contains_none_of_applies_to_set_fields_only():
    assert rules.NOT_CONTAINS_ANY in rules.operators_for(contract.FieldKind.MULTI)
    with pytest.raises(rules.RuleError) as caught:
        rules.clean_criterion_value("employees", "not_contains_any", ["1"])
    assert list(caught.value.errors) == ["operator"]


def test_contains_none_of_states_the_rule_for_the_catalogue():
    criterion = rule("platforms", "not_contains_any", ["meituan"])
    assert criterion.describe() == (
        "Online platforms and payment accounts must not include Meituan."
    )


# -- every operator is one complete unit -----------------------------------------------


@pytest.mark.parametrize("operator", rules.OPERATORS.values(), ids=str)
def test_every_operator_says_all_it_needs_to_in_both_languages(operator):
    assert operator.kinds
    for text in (operator.label, operator.value_help, operator.rule, operator.met):
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


# -- sentences: written for a reader, per operator and state -----------------------------

ALL_MARKETS = list(contract.FIELDS["export_markets"].codes)

#: One representative criterion per operator (a derived field, a set any of
#: whose values will do, and both yes/no fields too), with answers that meet
#: it and answers that do not.
SENTENCE_CASES = [
    pytest.param(
        ("registration", "equals", "individual_business"),
        {"registration": "individual_business"},
        {"registration": "company"},
        id="equals",
    ),
    pytest.param(
        ("premises", "one_of", ["rented_state_owned", "rented_private"]),
        {"premises": "rented_private"},
        {"premises": "none"},
        id="one_of",
    ),
    pytest.param(
        ("size_class", "one_of", ["micro", "small"]),
        {"employees": 3, "annual_revenue_cny": 80000},
        {"employees": 200, "annual_revenue_cny": 50_000_000},
        id="one_of-derived",
    ),
    pytest.param(
        ("premises", "not_one_of", ["owned", "rented_private"]),
        {"premises": "rented_state_owned"},
        {"premises": "owned"},
        id="not_one_of",
    ),
    pytest.param(
        ("platforms", "contains_any", ["taobao", "tmall", "alipay_merchant"]),
        {"platforms": {"tmall", "alipay_merchant", "jd"}},
        {"platforms": {"jd", "pinduoduo"}},
        id="contains_any",
    ),
    pytest.param(
        ("export_markets", "contains_any", ALL_MARKETS),
        {"export_markets": {"europe", "russia_central_asia"}},
        {"export_markets": set()},
        id="contains_any-every-value",
    ),
    pytest.param(
        ("platforms", "not_contains_any", ["jd", "pinduoduo"]),
        {"platforms": {"taobao"}},
        {"platforms": {"jd", "taobao"}},
        id="not_contains_any",
    ),
    pytest.param(
        ("employees", "gte", 10), {"employees": 12}, {"employees": 3}, id="gte"
    ),
    pytest.param(
        ("annual_revenue_cny", "lte", 5_000_000),
        {"annual_revenue_cny": 80000},
        {"annual_revenue_cny": 8_000_000},
        id="lte",
    ),
    pytest.param(
        ("export_share_pct", "between", ["10", "50"]),
        {"export_share_pct": 25.0},
        {"export_share_pct": 5.5},
        id="between",
    ),
    pytest.param(
        ("has_bank_loan", "is", True),
        {"has_bank_loan": True},
        {"has_bank_loan": False},
        id="is-has_bank_loan",
    ),
    pytest.param(
        ("vat_small_scale", "is", False),
        {"vat_small_scale": False},
        {"vat_small_scale": True},
        id="is-vat_small_scale",
    ),
]

CHINESE = r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef“”]"
#: Codes of the contract that must never reach a reader.
CODES = sorted(
    {code for spec in contract.FIELDS.values() for code in spec.codes if "_" in code}
    | {"micro", "small", "medium", "CN-"}
)


def sentences(criterion, met_answers, not_met_answers) -> dict[State, str]:
    """Return the reason of each state for the criterion, in the active language."""
    programme = make_programme("p", rule(*criterion))
    found = {}
    for answers in (met_answers, not_met_answers, {}):
        [result] = assess(make_profile(**answers), programme, as_of=AS_OF).results
        found[result.state] = result.reason
    assert set(found) == set(State)
    return found


@pytest.mark.parametrize(("criterion", "met", "not_met"), SENTENCE_CASES)
def test_chinese_reasons_have_no_ascii_space_beside_a_chinese_character(
    criterion, met, not_met
):
    with translation.override("zh-hans"):
        reasons = sentences(criterion, met, not_met)
    for state, reason in reasons.items():
        assert not re.search(f"{CHINESE} | {CHINESE}", reason), (state, reason)
        assert reason.endswith("。"), (state, reason)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize(("criterion", "met", "not_met"), SENTENCE_CASES)
def test_reasons_never_show_an_internal_code(criterion, met, not_met, language):
    with translation.override(language):
        reasons = sentences(criterion, met, not_met)
    for state, reason in reasons.items():
        shown = [code for code in CODES if code in reason]
        if language == "en":  # English labels say "micro", "small", "medium"
            shown = [code for code in shown if code not in {"micro", "small", "medium"}]
        assert shown == [], (state, reason)
        assert not re.search(r"\b(True|False)\b|: (yes|no)\b", reason), (state, reason)


@pytest.mark.parametrize(("criterion", "met", "not_met"), SENTENCE_CASES)
def test_chinese_reasons_are_chinese_sentences(criterion, met, not_met):
    with translation.override("zh-hans"):
        reasons = sentences(criterion, met, not_met)
    brands = re.compile(r"Lazada|Alibaba\.com|1688\.com")
    for state, reason in reasons.items():
        assert not re.search(r"[A-Za-z]{2,}", brands.sub("", reason)), (state, reason)


@pytest.mark.parametrize(
    ("criterion", "answers", "english", "chinese"),
    [
        (
            ("has_bank_loan", "is", True),
            {"has_bank_loan": True},
            "You have a bank loan.",
            "您有银行贷款。",
        ),
        (
            ("has_bank_loan", "is", True),
            {"has_bank_loan": False},
            "Only if you have a bank loan; you said you have no bank loan.",
            "需要您有银行贷款；您说您没有银行贷款。",
        ),
        (
            ("has_bank_loan", "is", True),
            {},
            "Only if you have a bank loan; you have not answered this yet.",
            "需要您有银行贷款；这一项您还没有填写。",
        ),
        (
            ("size_class", "one_of", ["micro", "small"]),
            {"employees": 3, "annual_revenue_cny": 80000},
            "Your size class is micro.",
            "您的企业规模是微型。",
        ),
        (
            ("size_class", "one_of", ["micro", "small"]),
            {"employees": 200, "annual_revenue_cny": 50_000_000},
            "Size class must be micro or small; from your answers it works out "
            "as medium.",
            "企业规模需要是微型或小型；按您的回答算出来是中型。",
        ),
        (
            ("size_class", "one_of", ["micro", "small"]),
            {},
            "Size class must be micro or small; we work this out from your number "
            "of employees and annual revenue, not all answered yet.",
            "企业规模需要是微型或小型；这一项要根据您的员工人数和年营业收入算出，"
            "您还没有填全。",
        ),
        (
            ("registration", "one_of", ["individual_business"]),
            {"registration": "company"},
            "Registration must be individual business (个体工商户); you said company.",
            "注册类型需要是个体工商户；您填写的是公司。",
        ),
        (
            ("business_type", "one_of", ["street_stall", "retail_shop"]),
            {"business_type": "farm"},
            "Type of business must be “street stall or market stall” or retail "
            "shop; you said farm, fishery or farm co-operative.",
            "经营类型需要是“街边摊或市场摊位”或零售店；您填写的是农场、渔场或农民专业合作社。",
        ),
        (
            ("annual_revenue_cny", "lte", 5_000_000),
            {"annual_revenue_cny": 80000},
            "Your annual revenue is 80,000 CNY, not above 5,000,000 CNY.",
            "您的年营业收入是80,000元，不超过5,000,000元。",
        ),
        (
            ("export_share_pct", "gte", 10),
            {"export_share_pct": 5.5},
            "Share of revenue from exports must be at least 10%; you said 5.5%.",
            "出口收入占比不能少于10%；您填写的是5.5%。",
        ),
        (
            ("cash_runway_months", "lte", 3),
            {"cash_runway_months": 0.5},
            "Your cash runway is 0.5 months, not above 3 months.",
            "您的现金可支撑时间是0.5个月，不超过3个月。",
        ),
        (
            ("platforms", "contains_any", ["taobao", "tmall"]),
            {"platforms": {"tmall", "taobao"}},
            "Your online platforms and payment accounts include Taobao and Tmall.",
            "您的线上平台和收款账户包括淘宝和天猫。",
        ),
        (
            ("export_markets", "contains_any", ALL_MARKETS),
            {"export_markets": set()},
            "You need at least one entry under export markets; you chose none of them.",
            "至少要有一个出口市场；您一项也没有选。",
        ),
    ],
)
def test_reasons_read_as_written_for_a_reader(criterion, answers, english, chinese):
    programme = make_programme("p", rule(*criterion))
    [result] = assess(make_profile(**answers), programme, as_of=AS_OF).results
    assert result.reason == english
    with translation.override("zh-hans"):
        assert result.reason == chinese


def test_a_yes_no_rule_is_stated_as_what_the_owner_must_be_able_to_say():
    criterion = rule("vat_small_scale", "is", True)
    assert criterion.describe() == "Only if you are a small-scale VAT taxpayer."
    with translation.override("zh-hans"):
        assert criterion.describe() == "需要您是增值税小规模纳税人。"


def test_an_action_names_alternatives_as_a_reader_says_them():
    criterion = rule("platforms", "contains_any", ["taobao", "tmall", "jd"])
    assert criterion.action == "Open a shop or an account on Taobao, Tmall or JD.com."
    with translation.override("zh-hans"):
        assert criterion.action == "在淘宝、天猫或京东开店或开通账户。"
