"""Bulk screening with API keys, and the rate limits of the public API."""

from __future__ import annotations

import codecs
import json
from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

from programs.api import keys, screening
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


#: Bytes no encoding of ``screening.CSV_ENCODINGS`` reads: invalid UTF-8 and GB18030
#: (no UTF-16 mark), and a UTF-16 mark followed by a lone surrogate.
UNREADABLE = [b"\x80\xffbusiness_type", codecs.BOM_UTF16_LE + b"\x00\xd8a\x00"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"business_type,province,needs\n", "no rows"),
        *(
            (content, "encodings tried were UTF-8, GB18030 (GBK), UTF-16")
            for content in UNREADABLE
        ),
    ],
)
def test_csv_screening_refuses_unreadable_files_clearly(client, key, content, problem):
    response = client.post(
        "/api/v1/screenings/csv",
        {"file": SimpleUploadedFile("x.csv", content, content_type="text/csv")},
        headers={"X-API-Key": key},
    )
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert problem in response.json()["errors"]["file"][0]


CHINESE_CSV = (
    "business_type,province,city,employees,needs\r\n"
    "street_stall,CN-SC,成都,1,financing\r\n"
    "restaurant,CN-HB,武汉,12,rent_relief\r\n"
)


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-8", b""),
        ("utf-8", codecs.BOM_UTF8),
        ("gbk", b""),
        ("gb18030", b""),
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
    ],
    ids=["utf-8", "utf-8 bom", "gbk", "gb18030", "utf-16le", "utf-16be"],
)
@pytest.mark.parametrize(
    "newline", ["\r\n", "\n", "\r"], ids=["crlf", "lf", "old mac cr"]
)
def test_csv_in_the_encodings_and_line_endings_excel_saves_reads_the_same(
    encoding, bom, newline
):
    content = bom + CHINESE_CSV.replace("\r\n", newline).encode(encoding)
    rows, problem = screening.read_screening_csv(SimpleUploadedFile("x.csv", content))
    assert problem == ""
    assert rows == [
        {
            "business_type": "street_stall",
            "province": "CN-SC",
            "city": "成都",
            "employees": "1",
            "needs": ["financing"],
        },
        {
            "business_type": "restaurant",
            "province": "CN-HB",
            "city": "武汉",
            "employees": "12",
            "needs": ["rent_relief"],
        },
    ]


def test_excel_unicode_text_is_utf16_with_tabs_and_is_read(client, key):
    content = CHINESE_CSV.replace(",", "\t").encode("utf-16")  # with its mark
    rows, problem = screening.read_screening_csv(SimpleUploadedFile("x.txt", content))
    assert problem == ""
    assert [row["city"] for row in rows] == ["成都", "武汉"]


def test_a_gbk_upload_screens_exactly_as_its_utf8_copy(client, key):
    def results(content: bytes):
        response = client.post(
            "/api/v1/screenings/csv?as_of=2020-06-15",
            {"file": SimpleUploadedFile("x.csv", content, content_type="text/csv")},
            headers={"X-API-Key": key},
        )
        assert response.status_code == HTTPStatus.OK
        return response.json()

    gbk = results(CHINESE_CSV.encode("gbk"))
    assert gbk["errors"] == 0
    assert gbk["results"][0]["results"]["jd-spark"]["outcome"] == "eligible"
    assert gbk == results(CHINESE_CSV.encode("utf-8"))


@pytest.mark.parametrize("content", UNREADABLE)
def test_an_unreadable_encoding_is_named_in_chinese_too(content):
    with translation.override("zh-hans"):
        rows, problem = screening.read_screening_csv(
            SimpleUploadedFile("x.csv", content)
        )
    assert rows == []
    assert "编码" in problem
    for _codec, name in screening.CSV_ENCODINGS:
        assert name in problem


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
