"""The database is unreachable (a PostgreSQL restart): a clear 503 "try again", never a 500."""

from __future__ import annotations

import json
import logging
import re
from http import HTTPStatus
from unittest import mock

import psycopg_pool
import pytest
from django.db import InterfaceError, OperationalError, connection
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from programs.catalogue import store
from programs.journey import kept
from programs.models import BusinessProfile, StoredResult
from reliefmatch.middleware import DATABASE_UNAVAILABLE_MESSAGE
from tests.builders import STALL

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]

API_PROFILE = {
    "business_type": "street_stall",
    "province": "CN-HB",
    "employees": 1,
    "needs": ["financing"],
}
ENGLISH = DATABASE_UNAVAILABLE_MESSAGE


def stored() -> tuple[int, int]:
    return BusinessProfile.objects.count(), StoredResult.objects.count()


def keep(client) -> str:
    response = client.post(
        reverse("programs:profile_form"), {**STALL, "consent_store": "on"}
    )
    assert response.status_code == HTTPStatus.FOUND
    return re.fullmatch(r"/r/([^/]+)/", response["Location"]).group(1)


def database_down():
    """Every query fails as it does while PostgreSQL restarts."""
    return mock.patch.object(
        connection,
        "ensure_connection",
        side_effect=OperationalError("connection refused"),
    )


def assert_try_again_page(response, language: str = "en") -> str:
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response["Retry-After"] == "5"
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert f'<html lang="{language}">' in html
    with translation.override(language):
        assert gettext(ENGLISH) in html
    return html


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("server closed the connection unexpectedly"),
        InterfaceError("connection already closed"),
        psycopg_pool.PoolTimeout("couldn't get a connection after 10.00 sec"),
    ],
    ids=["operational", "interface", "pool-timeout"],
)
def test_a_form_submission_during_an_outage_gets_503_and_stores_nothing(
    client, monkeypatch, error
):
    def fail(**kwargs):
        raise error

    monkeypatch.setattr(kept, "profile_keep", fail)
    before = stored()
    response = client.post(
        reverse("programs:profile_form"), {**STALL, "consent_store": "on"}
    )
    html = assert_try_again_page(response)
    assert "ReliefMatch" in html
    assert "Server Error" not in html
    assert stored() == before


def test_the_page_renders_when_no_query_at_all_can_run(client):
    token = keep(client)
    with database_down():
        response = client.get(reverse("programs:results", args=[token]))
        post = client.post(
            reverse("programs:profile_form"), {**STALL, "consent_store": "on"}
        )
    html = assert_try_again_page(response)
    # A GET can simply be tried again; a POST is sent again from the form.
    assert f'href="/r/{token}/"' in html
    assert_try_again_page(post)
    assert "Go back to the form" in post.content.decode()
    assert stored()[0] == 1


def test_the_page_follows_a_chinese_browser(client, monkeypatch):
    def fail(**kwargs):
        raise OperationalError("the database system is shutting down")

    monkeypatch.setattr(kept, "profile_keep", fail)
    response = client.post(
        reverse("programs:profile_form"),
        {**STALL, "consent_store": "on"},
        headers={"accept-language": "zh-CN,zh;q=0.9"},
    )
    # The Chinese words when the catalogue has them, the English ones until then.
    assert_try_again_page(response, language="zh-hans")
    assert response["Content-Language"] == "zh-hans"


def test_the_message_is_marked_for_translation():
    with (
        translation.override("zh-hans"),
        mock.patch("reliefmatch.middleware.gettext", side_effect=lambda s: f"<<{s}>>"),
    ):
        from reliefmatch.middleware import database_unavailable_response

        request = mock.Mock(path_info="/api/v1/match")
        response = database_unavailable_response(request)
    assert json.loads(response.content) == {"errors": {"__all__": [f"<<{ENGLISH}>>"]}}


def test_an_api_call_during_an_outage_gets_json_503(client, monkeypatch):
    def fail(**kwargs):
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(store, "run_match", fail)
    response = client.post(
        "/api/v1/match", API_PROFILE, content_type="application/json"
    )
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response["Retry-After"] == "5"
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"errors": {"__all__": [ENGLISH]}}


def test_an_api_call_is_answered_even_when_its_rate_limit_cannot_be_counted(client):
    with database_down():
        response = client.get("/api/v1/programmes")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == {"errors": {"__all__": [ENGLISH]}}


def test_the_warning_logged_carries_no_request_data(client, monkeypatch, caplog):
    token = keep(client)

    def fail(**kwargs):
        raise OperationalError("connection to server failed")

    monkeypatch.setattr(kept, "profile_update", fail)
    with caplog.at_level(logging.WARNING, logger="reliefmatch.middleware"):
        response = client.post(
            reverse("programs:profile_edit", args=[token]),
            {**STALL, "city": "Secret Town", "employees": "3"},
        )
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    [record] = [r for r in caplog.records if r.name == "reliefmatch.middleware"]
    assert record.levelno == logging.WARNING
    text = record.getMessage()
    assert "OperationalError" in text
    for secret in (token, "/r/", "Secret Town", "127.0.0.1"):
        assert secret not in text
    assert BusinessProfile.objects.get().city == "武汉"


def test_other_errors_are_still_server_errors(client, monkeypatch):
    def fail(**kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(kept, "profile_keep", fail)
    client.raise_request_exception = False
    response = client.post(
        reverse("programs:profile_form"), {**STALL, "consent_store": "on"}
    )
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
