"""The profile form's error messages: the contract's sentences, not Django's wording."""

from __future__ import annotations

import json
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from programs.engine import contract
from programs.engine.contract import Refusal
from programs.models import BusinessProfile
from tests.builders import STALL

pytestmark = pytest.mark.django_db

FORM = reverse("programs:profile_form")
#: A valid answer to every question, with consent to keep it: an answer that
#: slipped through would store a profile and redirect.
VALID = {**STALL, "consent_store": "on"}
MISSING = object()  # the answer is left out of the post

#: Django's own wording, in both languages, that no answer should ever get.
DJANGO_WORDING = [
    "确保该值",
    "确保该变量",
    "确认小数",
    "这个字段是必填项",
    "此项必填",
    "输入一个数字",
    "输入整数",
    "选择一个有效的选项",
    "Ensure this value",
    "Ensure that there are",
    "This field is required",
    "Select a valid choice",
    "Enter a number.",
    "Enter a whole number.",
]

#: (field, posted value, Chinese sentence, English sentence)
CASES = [
    pytest.param(
        "employees", "-1", "请填写 0 或更大的数字。", "Enter 0 or more.", id="negative"
    ),
    pytest.param(
        "employees",
        "twelve",
        "请填写整数，例如 12。",
        "Enter a whole number, for example 12.",
        id="words for a whole number",
    ),
    pytest.param(
        "employees",
        "1.5",
        "请填写整数，例如 12。",
        "Enter a whole number, for example 12.",
        id="fraction of a person",
    ),
    pytest.param(
        "cash_runway_months",
        "三个月",
        "请填写数字，例如 12。",
        "Enter a number, for example 12.",
        id="Chinese words for a number",
    ),
    pytest.param(
        "export_share_pct",
        "150",
        "请填写不超过 100 的数字。",
        "Enter 100 or less.",
        id="percentage over 100",
    ),
    pytest.param(
        "revenue_change_pct",
        "-120",
        "请填写 -100 或更大的数字。",
        "Enter -100 or more.",
        id="fell by more than everything",
    ),
    pytest.param(
        "annual_revenue_cny",
        "20000000000000",
        "请填写不超过 10,000,000,000,000 的数字。",
        "Enter 10,000,000,000,000 or less.",
        id="revenue beyond the maximum, with separators",
    ),
    pytest.param(
        "years_operating",
        "1.234",
        "最多保留两位小数，例如 12.25。",
        "Use at most 2 decimal places, for example 12.25.",
        id="three decimal places",
    ),
    pytest.param(
        "business_type",
        "castle",
        "请从列表中选择。",
        "Choose from the list.",
        id="unknown choice",
    ),
    pytest.param(
        "needs",
        ["castle"],
        "请从列表中选择。",
        "Choose from the list.",
        id="unknown need",
    ),
    pytest.param(
        "has_bank_loan",
        "maybe",
        "请回答“是”或“否”。",
        "Answer yes or no.",
        id="neither yes nor no",
    ),
    pytest.param(
        "city",
        "武" * 101,
        "请控制在 100 个字以内。",
        "Use 100 characters or fewer.",
        id="city too long",
    ),
    pytest.param(
        "business_type", MISSING, "请选一项。", "Choose one.", id="no business type"
    ),
    pytest.param("province", "", "请选一项。", "Choose one.", id="no province"),
    pytest.param(
        "needs", MISSING, "请至少选择一项。", "Choose at least one.", id="no need"
    ),
]


def post(client, field: str, value, language: str):
    data = dict(VALID)
    if value is MISSING:
        del data[field]
    else:
        data[field] = value
    return client.post(FORM, data, headers={"accept-language": language})


def assert_refused_with(response, field: str, sentence: str) -> None:
    """The form is shown again with the sentence at the field; nothing is kept."""
    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].errors[field] == [sentence]
    page = response.content.decode()
    assert escape(sentence) in page
    for wording in DJANGO_WORDING:
        assert wording not in page, wording
    assert BusinessProfile.objects.count() == 0


@pytest.mark.parametrize(("field", "value", "chinese", "english"), CASES)
def test_a_chinese_visitor_reads_the_contracts_sentence_and_nothing_is_kept(
    client, field, value, chinese, english
):
    assert_refused_with(post(client, field, value, "zh-hans"), field, chinese)


@pytest.mark.parametrize(("field", "value", "chinese", "english"), CASES)
def test_an_english_visitor_reads_the_same_sentence_in_english(
    client, field, value, chinese, english
):
    assert_refused_with(post(client, field, value, "en"), field, english)


def test_several_wrong_answers_each_get_their_own_sentence(client):
    data = {
        **VALID,
        "employees": "-3",
        "export_share_pct": "101",
        "cash_runway_months": "abc",
    }
    del data["province"]
    response = client.post(FORM, data, headers={"accept-language": "zh-hans"})
    assert response.context["form"].errors == {
        "employees": ["请填写 0 或更大的数字。"],
        "export_share_pct": ["请填写不超过 100 的数字。"],
        "cash_runway_months": ["请填写数字，例如 12。"],
        "province": ["请选一项。"],
    }
    assert BusinessProfile.objects.count() == 0


@pytest.mark.parametrize(
    ("answers", "errors"),
    [
        (
            {"employees": -1, "export_share_pct": "abc"},
            {
                "employees": ["请填写 0 或更大的数字。"],
                "export_share_pct": ["请填写数字，例如 12。"],
            },
        ),
        ({"province": None}, {"province": ["请选一项。"]}),
        ({"business_type": "castle"}, {"business_type": ["请从列表中选择。"]}),
    ],
    ids=["numbers", "missing choice", "unknown choice"],
)
def test_the_api_refuses_with_the_forms_sentences(client, answers, errors):
    body = {"business_type": "farm", "province": "CN-HB", "needs": ["financing"]}
    response = client.post(
        "/api/v1/match",
        json.dumps({**body, **answers}),
        content_type="application/json",
        headers={"accept-language": "zh-hans"},
    )
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == {"errors": errors}


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_no_message_has_a_percent_sign_for_django_to_fill_in(language):
    # Django fills a validator's parameters into the message it shows, so a
    # literal "%" (a percentage, say) would break the message.
    with translation.override(language):
        for spec in contract.FIELDS.values():
            for refusal in Refusal:
                assert "%" not in spec.message(refusal), (spec.name, refusal)
