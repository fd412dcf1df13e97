"""The public form's rate limit per client address (FORM_RATE_LIMIT)."""

from __future__ import annotations

import re
from http import HTTPStatus

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from programs.models import BusinessProfile, StoredResult
from programs.ratelimit import parse_rate
from tests.builders import STALL

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]

KEEP = {**STALL, "consent_store": "on"}
MESSAGE = (
    "Too many submissions from your connection. Please wait a minute and try again."
)


def stored() -> tuple[int, int]:
    return BusinessProfile.objects.count(), StoredResult.objects.count()


def submit(client, **extra):
    return client.post(reverse("programs:profile_form"), KEEP, **extra)


def assert_refused(response, language: str = "en") -> None:
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert 1 <= int(response["Retry-After"]) <= 60
    html = response.content.decode()
    assert f'<html lang="{language}">' in html
    with translation.override(language):
        assert gettext(MESSAGE) in html


@override_settings(FORM_RATE_LIMIT="3/min")
def test_the_submission_over_the_limit_gets_429_and_stores_nothing(client):
    for _ in range(3):
        assert submit(client).status_code == HTTPStatus.FOUND
    before = stored()
    assert before[0] == 3
    refused = submit(client)
    assert_refused(refused)
    assert stored() == before


@override_settings(FORM_RATE_LIMIT="2/min")
def test_the_429_page_follows_a_chinese_browser(client):
    chinese = {"headers": {"accept-language": "zh-CN,zh;q=0.9"}}
    for _ in range(2):
        submit(client, **chinese)
    assert_refused(submit(client, **chinese), language="zh-hans")


@override_settings(FORM_RATE_LIMIT="2/min")
def test_another_address_has_its_own_allowance(client):
    for _ in range(2):
        assert submit(client).status_code == HTTPStatus.FOUND
    assert submit(client).status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert submit(client, REMOTE_ADDR="10.0.0.9").status_code == HTTPStatus.FOUND
    assert BusinessProfile.objects.count() == 3


@override_settings(FORM_RATE_LIMIT="2/min")
def test_gets_are_never_limited(client):
    for _ in range(2):
        submit(client)
    for _ in range(5):
        assert client.get(reverse("programs:profile_form")).status_code == HTTPStatus.OK
    assert submit(client).status_code == HTTPStatus.TOO_MANY_REQUESTS


@override_settings(FORM_RATE_LIMIT="3/min")
def test_the_kept_profile_forms_share_the_allowance_and_store_nothing_over_it(client):
    response = submit(client)
    token = re.fullmatch(r"/r/([^/]+)/", response["Location"]).group(1)
    edit = reverse("programs:profile_edit", args=[token])
    assert (
        client.post(edit, {**STALL, "employees": "2"}).status_code == HTTPStatus.FOUND
    )
    email = reverse("programs:email_link", args=[token])
    assert (
        client.post(email, {"email": "owner@example.com"}).status_code
        == HTTPStatus.FOUND
    )
    # The allowance of 3 is used: every POST behind the link is refused now.
    for name, data in [
        ("profile_edit", {**STALL, "employees": "7"}),
        ("answer_questions", {"employees": "9"}),
        ("email_link", {"email": "someone.else@example.com"}),
        ("profile_delete", {}),
    ]:
        assert_refused(client.post(reverse(f"programs:{name}", args=[token]), data))
    row = BusinessProfile.objects.get()
    assert (row.employees, row.email) == (2, "owner@example.com")
    # Reading the results is a GET: never limited.
    assert client.get(f"/r/{token}/").status_code == HTTPStatus.OK


@override_settings(FORM_RATE_LIMIT="2/min", TRUSTED_PROXIES=[])
def test_forwarded_for_is_ignored_without_proxies(client):
    for n in range(2):
        assert (
            submit(client, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code
            == HTTPStatus.FOUND
        )
    refused = submit(client, HTTP_X_FORWARDED_FOR="203.0.113.99")
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS


@override_settings(FORM_RATE_LIMIT="2/min", TRUSTED_PROXIES=["127.0.0.1"])
def test_forwarded_for_names_the_client_behind_a_trusted_proxy(client):
    for _ in range(2):
        assert (
            submit(client, HTTP_X_FORWARDED_FOR="203.0.113.1").status_code
            == HTTPStatus.FOUND
        )
    assert (
        submit(client, HTTP_X_FORWARDED_FOR="203.0.113.1").status_code
        == HTTPStatus.TOO_MANY_REQUESTS
    )
    # Another client behind the same proxy (the same REMOTE_ADDR) is not limited;
    # what the client itself put in front of the proxy's entry is not believed.
    assert (
        submit(client, HTTP_X_FORWARDED_FOR="203.0.113.1, 198.51.100.7").status_code
        == HTTPStatus.FOUND
    )


@pytest.mark.parametrize("off", ["", "0"])
def test_an_empty_or_zero_limit_turns_it_off(client, off):
    with override_settings(FORM_RATE_LIMIT=off):
        for _ in range(4):
            assert submit(client).status_code == HTTPStatus.FOUND
    assert BusinessProfile.objects.count() == 4


def test_the_limit_is_parsed_like_the_apis():
    assert parse_rate("30/min") == (30, 60)
    assert parse_rate("5/s") == (5, 1)
    assert parse_rate("1000/hour") == (1000, 3600)
    assert parse_rate("100/day") == (100, 86400)
    assert parse_rate(" 0 ") is None
    assert parse_rate("") is None
