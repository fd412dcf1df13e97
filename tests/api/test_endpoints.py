"""The JSON API: match, programmes, the OpenAPI document and the docs page."""

from __future__ import annotations

import io
import json
from http import HTTPStatus

import pytest
from django.core.management import call_command

from tests.builders import PROFILES

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]


def post_match(client, body) -> tuple[int, dict]:
    raw = body if isinstance(body, str) else json.dumps(body)
    response = client.post("/api/v1/match", raw, content_type="application/json")
    return response.status_code, response.json()


def test_match_gives_the_same_answer_as_the_command_line():
    profile = json.loads((PROFILES / "01_wuhan_stall.json").read_text())
    out = io.StringIO()
    call_command(
        "match",
        str(PROFILES / "01_wuhan_stall.json"),
        "--format",
        "json",
        "--as-of",
        "2020-06-15",
        stdout=out,
    )
    from django.test import Client

    status, body = post_match(Client(), {**profile, "as_of": "2020-06-15"})
    assert status == HTTPStatus.OK
    assert body == json.loads(out.getvalue())
    assert body["results"][0]["slug"] == "mybank-contact-free-loans"


def test_match_says_which_needs_and_times_to_help_are_our_assumption(client):
    profile = json.loads((PROFILES / "12_jd_seller.json").read_text())
    status, body = post_match(client, {**profile, "as_of": "2020-06-15"})
    assert status == HTTPStatus.OK
    by_slug = {r["slug"]: r for r in body["results"]}
    live = by_slug["jd-live-fee-cut"]
    assert live["needs_addressed"] == ["fee_relief", "digitisation"]
    assert live["needs_assumed"] == ["digitisation"]
    assert by_slug["mybank-contact-free-loans"]["days_to_money_estimated"] is False
    assert by_slug["gov-social-insurance-relief"]["days_to_money_estimated"] is True


def test_match_reports_every_problem_by_field(client):
    status, body = post_match(
        client,
        {
            "business_type": "castle",
            "employees": -1,
            "export_share_pct": 101,
            "needs": [],
        },
    )
    assert status == HTTPStatus.UNPROCESSABLE_ENTITY
    assert {
        "business_type",
        "province",
        "employees",
        "export_share_pct",
        "needs",
    } <= set(body["errors"])
    for messages in body["errors"].values():
        assert messages
        assert all(isinstance(m, str) and m for m in messages)


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[]",
        "null",
        '"text"',
        {
            "business_type": "farm",
            "province": "CN-HB",
            "needs": ["financing"],
            "employees": "NaN",
        },
        {
            "business_type": "farm",
            "province": "CN-HB",
            "needs": ["financing"],
            "employees": 10**30,
        },
        {
            "business_type": "farm",
            "province": "CN-HB",
            "needs": ["financing"],
            "cash_runway_months": "Infinity",
        },
        {
            "business_type": "farm",
            "province": "CN-HB",
            "needs": ["financing"],
            "as_of": "2020-13-45",
        },
        {"business_type": "farm", "province": "CN-HB", "needs": ["financing"] * 100},
        {
            "business_type": "farm",
            "province": "CN-HB",
            "needs": ["financing"],
            "city": "x" * 100_000,
        },
    ],
)
def test_bad_bodies_answer_4xx_never_500(client, body):
    status, payload = post_match(client, body)
    assert 400 <= status < 500
    assert payload


def test_programmes_list_filters_by_provider_need_and_open_date(client):
    response = client.get(
        "/api/v1/programmes", {"provider": "jd", "open_on": "2020-06-15"}
    )
    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert len(body["catalogue_version"]) == 12
    slugs = {p["slug"] for p in body["programmes"]}
    assert slugs == {"jd-spark", "jd-retail-digitisation", "jd-live-fee-cut"}
    assert {p["availability"] for p in body["programmes"]} == {"open"}
    rent = client.get("/api/v1/programmes", {"need": "rent_relief"}).json()[
        "programmes"
    ]
    assert "gov-state-rent-relief" in {p["slug"] for p in rent}
    everything = client.get("/api/v1/programmes").json()["programmes"]
    assert len(everything) == 16
    assert all(p["criteria"] and p["sources"] for p in everything)


def test_bad_programme_filters_answer_422(client):
    assert (
        client.get("/api/v1/programmes", {"need": "<script>"}).status_code
        == HTTPStatus.UNPROCESSABLE_ENTITY
    )
    assert (
        client.get("/api/v1/programmes", {"open_on": "2020-13-45"}).status_code
        == HTTPStatus.UNPROCESSABLE_ENTITY
    )


def test_one_programme_and_unknown_slug(client):
    body = client.get("/api/v1/programmes/mybank-contact-free-loans").json()
    assert body["name_zh_hans"].startswith("无接触贷款助微计划")
    assert body["availability"] == "closed"
    assert client.get("/api/v1/programmes/nope").status_code == HTTPStatus.NOT_FOUND


def test_openapi_document_describes_the_profile_contract(client):
    document = client.get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert {"/api/v1/match", "/api/v1/programmes", "/api/v1/programmes/{slug}"} <= set(
        document["paths"]
    )
    profile = document["components"]["schemas"]["ProfileIn"]
    assert set(profile["required"]) == {"business_type", "province", "needs"}
    assert "street_stall" in json.dumps(profile["properties"]["business_type"])


def test_docs_are_served_from_the_app_without_a_cdn(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
