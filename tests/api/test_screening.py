"""Bulk screening with API keys, and the rate limits of the public API."""

from __future__ import annotations

import json
from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from programs.api import keys
from programs.journey import kept
from programs.models import ApiKey

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]

GOOD = {
    "business_type": "street_stall",
    "province": "CN-HB",
    "employees": 1,
    "needs": ["financing"],
}
BAD = {"business_type": "castle", "employees": -2}


@pytest.fixture
def key():
    _row, key = keys.api_key_create(name="Yiwu market association")
    return key


def screen(client, body, key: str | None):
    headers = {"X-API-Key": key} if key else {}
    return client.post(
        "/api/v1/screenings",
        json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


def test_screening_gives_each_row_its_results_or_its_own_errors(client, key):
    response = screen(
        client,
        {"profiles": [GOOD, BAD, {**GOOD, "province": "CN-GD"}], "as_of": "2020-06-15"},
        key,
    )
    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["rows"] == 3
    assert body["errors"] == 1
    first, second, third = body["results"]
    assert first["row"] == 1
    assert first["results"]["mybank-contact-free-loans"] == {
        "outcome": "eligible",
        "near_miss": False,
        "tier": "eligible",
    }
    assert len(first["results"]) == 16
    assert second == {"row": 2, "errors": second["errors"]}
    assert {"business_type", "province", "employees", "needs"} <= set(second["errors"])
    assert third["derived"]["size_class"] == "micro"


def test_screening_refuses_more_than_a_thousand_rows(client, key):
    response = screen(client, {"profiles": [GOOD] * 1001}, key)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "profiles" in response.json()["errors"]


@pytest.mark.parametrize(
    "presented", [None, "", "rm_nope_nope", "x" * 500, "Bearer abc"]
)
def test_screening_needs_a_valid_key(client, presented):
    assert (
        screen(client, {"profiles": [GOOD]}, presented).status_code
        == HTTPStatus.UNAUTHORIZED
    )


def test_revoked_key_stops_working_and_use_is_recorded(client, key):
    assert screen(client, {"profiles": [GOOD]}, key).status_code == HTTPStatus.OK
    row = ApiKey.objects.get()
    assert row.last_used_at is not None
    assert key not in row.key_hash
    row.revoked_at = row.last_used_at
    row.save()
    assert (
        screen(client, {"profiles": [GOOD]}, key).status_code == HTTPStatus.UNAUTHORIZED
    )


def test_csv_screening_with_mixed_rows(client, key):
    content = (
        b"business_type,province,employees,needs,platforms\n"
        b"street_stall,CN-HB,1,financing;stock_sourcing,alipay_merchant\n"
        b"castle,CN-HB,-1,financing,\n"
        b"restaurant,CN-SH,,rent_relief,meituan\n"
    )
    response = client.post(
        "/api/v1/screenings/csv?as_of=2020-06-15",
        {
            "file": SimpleUploadedFile(
                "stalls.csv", b"\xef\xbb\xbf" + content, content_type="text/csv"
            )
        },
        headers={"X-API-Key": key},
    )
    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["rows"] == 3
    assert body["errors"] == 1
    assert body["results"][0]["results"]["jd-spark"]["outcome"] == "eligible"
    assert set(body["results"][1]["errors"]) == {"business_type", "employees"}


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"business_type,province,needs\n", "no rows"), (b"\xff\xfe\x00bad", "not UTF-8")],
)
def test_csv_screening_refuses_unreadable_files_clearly(client, key, content, problem):
    response = client.post(
        "/api/v1/screenings/csv",
        {"file": SimpleUploadedFile("x.csv", content, content_type="text/csv")},
        headers={"X-API-Key": key},
    )
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert problem in response.json()["errors"]["file"][0]


@override_settings(API_RATE_LIMIT="3/min")
def test_public_api_is_rate_limited_per_client_address_with_a_clear_429(client):
    for _ in range(3):
        assert client.get("/api/v1/programmes").status_code == HTTPStatus.OK
    refused = client.get("/api/v1/programmes")
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert refused.json() == {"detail": "Too many requests."}
    assert 1 <= int(refused["Retry-After"]) <= 60
    # Another client address has its own allowance.
    assert (
        client.get("/api/v1/programmes", REMOTE_ADDR="10.0.0.9").status_code
        == HTTPStatus.OK
    )


@pytest.mark.parametrize("off", ["", "0"])
def test_an_empty_or_zero_api_limit_turns_it_off_as_the_forms_does(client, off):
    with override_settings(API_RATE_LIMIT=off):
        for _ in range(5):
            assert client.get("/api/v1/programmes").status_code == HTTPStatus.OK


@override_settings(API_RATE_LIMIT="2/min")
def test_forwarded_for_header_is_ignored_unless_proxies_are_configured(client):
    for n in range(2):
        assert (
            client.get(
                "/api/v1/programmes", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}"
            ).status_code
            == HTTPStatus.OK
        )
    assert (
        client.get(
            "/api/v1/programmes", HTTP_X_FORWARDED_FOR="203.0.113.99"
        ).status_code
        == HTTPStatus.TOO_MANY_REQUESTS
    )


def test_admin_shows_a_new_key_once_and_stores_only_its_hash(admin_client):
    response = admin_client.post(
        reverse("admin:programs_apikey_add"), {"name": "Bank officer"}, follow=True
    )
    assert response.status_code == HTTPStatus.OK
    [message] = [
        str(m) for m in response.context["messages"] if "Copy this key" in str(m)
    ]
    key = message.rsplit(" ", 1)[1]
    assert key.startswith("rm_")
    row = ApiKey.objects.get()
    assert row.key_hash == kept.token_digest(key)
    assert keys.api_key_check(key) == row
    page = admin_client.get(
        reverse("admin:programs_apikey_change", args=[row.pk])
    ).content.decode()
    assert key not in page


def test_admin_revokes_keys(admin_client, key):
    row = ApiKey.objects.get()
    admin_client.post(
        reverse("admin:programs_apikey_changelist"),
        {"action": "revoke_keys", "_selected_action": [row.pk]},
    )
    assert keys.api_key_check(key) is None
