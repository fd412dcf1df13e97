"""Answers that cannot all be true are refused, with one message at both questions.

The contract declares them once (``contract.CONTRADICTIONS``); the form, the
API and the screening CSV all refuse them, and nothing is stored.
"""

from __future__ import annotations

import json
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from programs.api import keys
from programs.engine import contract
from programs.models import BusinessProfile
from tests.builders import STALL

BASE = {"business_type": "wholesaler", "province": "CN-ZJ", "needs": ["financing"]}

NO_EXPORTS_BUT_A_SHARE = {"export_share_pct": 60, "export_markets": []}
MARKETS_BUT_NO_SHARE = {"export_share_pct": 0, "export_markets": ["europe"]}
SMALL_SCALE_ABOVE_5M = {"annual_revenue_cny": 1_000_000_000, "vat_small_scale": True}

CASES = [
    pytest.param(
        NO_EXPORTS_BUT_A_SHARE,
        ("export_share_pct", "export_markets"),
        "“I don't export”",
        id="no exports but 60 percent",
    ),
    pytest.param(
        MARKETS_BUT_NO_SHARE,
        ("export_share_pct", "export_markets"),
        "none of your revenue comes from exports",
        id="export markets but 0 percent",
    ),
    pytest.param(
        SMALL_SCALE_ABOVE_5M,
        ("annual_revenue_cny", "vat_small_scale"),
        "general VAT taxpayer",
        id="small-scale VAT above RMB 5 million",
    ),
]


@pytest.mark.parametrize(("answers", "fields", "words"), CASES)
def test_the_parser_refuses_both_answers_with_one_message(answers, fields, words):
    with pytest.raises(contract.ProfileError) as caught:
        contract.parse_profile({**BASE, **answers})
    errors = caught.value.errors
    assert set(errors) == set(fields)
    [first], [second] = (errors[name] for name in fields)
    assert first == second
    assert words in first


@pytest.mark.parametrize(
    "answers",
    [
        {"export_share_pct": 0, "export_markets": []},
        {"export_share_pct": 30, "export_markets": ["europe"]},
        {"export_share_pct": 30},
        {"export_markets": []},
        {"annual_revenue_cny": 5_000_000, "vat_small_scale": True},
        {"annual_revenue_cny": 6_000_000, "vat_small_scale": False},
        {"annual_revenue_cny": 6_000_000},
    ],
)
def test_answers_that_agree_are_accepted(answers):
    assert contract.parse_profile({**BASE, **answers})


def test_the_message_is_in_the_owners_language():
    with (
        translation.override("zh-hans"),
        pytest.raises(contract.ProfileError) as caught,
    ):
        contract.parse_profile({**BASE, **SMALL_SCALE_ABOVE_5M})
    assert "小规模" in caught.value.errors["vat_small_scale"][0]


def form_answers(answers: dict) -> dict:
    data = {**STALL}
    for name, value in answers.items():
        if isinstance(value, bool):
            data[name] = "yes" if value else "no"
        elif isinstance(value, list):
            data[name] = value or ["none"]
        else:
            data[name] = str(value)
    return data


@pytest.mark.django_db
@pytest.mark.parametrize(("answers", "fields", "words"), CASES)
def test_the_form_shows_the_message_at_both_questions_and_keeps_nothing(
    client, answers, fields, words
):
    response = client.post(
        reverse("programs:profile_form"),
        {**form_answers(answers), "consent_store": "on"},
    )
    assert response.status_code == HTTPStatus.OK  # the form again, with its errors
    form = response.context["form"]
    for name in fields:
        assert [words in message for message in form.errors[name]] == [True]
    assert BusinessProfile.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(("answers", "fields", "words"), CASES)
def test_the_api_answers_422_naming_both_fields(client, answers, fields, words):
    response = client.post(
        "/api/v1/match",
        json.dumps({**BASE, **answers}),
        content_type="application/json",
    )
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    errors = response.json()["errors"]
    assert set(errors) == set(fields)
    assert all(words in errors[name][0] for name in fields)


@pytest.mark.django_db
@pytest.mark.usefixtures("catalogue")
def test_a_contradictory_screening_row_gets_its_own_errors(client):
    _row, key = keys.api_key_create(name="tests")
    csv = (
        "business_type,province,needs,export_share_pct,export_markets\n"
        "wholesaler,CN-ZJ,financing,60,\n"
        "wholesaler,CN-ZJ,financing,0,europe\n"
        "wholesaler,CN-ZJ,financing,30,europe\n"
    )
    response = client.post(
        "/api/v1/screenings/csv",
        {"file": SimpleUploadedFile("rows.csv", csv.encode(), "text/csv")},
        headers={"X-API-Key": key},
    )
    assert response.status_code == HTTPStatus.OK
    first, second, third = response.json()["results"]
    # An empty cell is "not answered", never "I don't export": no contradiction.
    assert "errors" not in first
    assert set(second["errors"]) == {"export_share_pct", "export_markets"}
    assert "errors" not in third


def test_revenue_exactly_at_the_limit_may_be_small_scale():
    assert Decimal(5_000_000) == contract.SMALL_SCALE_VAT_LIMIT
