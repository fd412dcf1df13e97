"""Abuse controls found by an attack run.

* A kept results page is cached whole and filled in per request: text written
  into a programme that looks like one of the page's slots stays text, and
  the visitor's private link and CSRF token appear only where the page puts
  them.
* Password spraying: one address failing on many usernames is locked out too.
* Wrong API keys are limited per client address (429 with Retry-After).
* "Email me my link" is limited per recipient and per client address a day,
  and the email holds nothing the requester typed but the link.
* The API's throttles read the client's address by the one trusted-proxy rule.
"""

from __future__ import annotations

import re
from http import HTTPStatus

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django.utils.html import escape

from programs.api import keys
from programs.models import BusinessProfile, Programme
from tests.builders import STALL
from tests.factories import CriterionFactory, ProgrammeFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]

KEEP = {**STALL, "consent_store": "on"}


def keep(client, **extra) -> str:
    response = client.post(reverse("programs:profile_form"), {**KEEP, **extra})
    assert response.status_code == HTTPStatus.FOUND
    return response["Location"].split("/")[2]


# -- the cached results page's slots ---------------------------------------------------

#: What a programme's text might hold to catch a visitor's link or CSRF token:
#: the marks of earlier versions, and today's shape with a guessed nonce.
MARKERS = (
    "reliefmatch-csrf-token-placeholder",
    "reliefmatch-private-link-placeholder",
    "<!-- reliefmatch-messages-placeholder -->",
    "<!-- reliefmatch-origin-placeholder -->",
    "reliefmatch-csrf-" + "0" * 32,
    "reliefmatch-link-" + "0" * 32,
    "<!-- reliefmatch-messages-" + "0" * 32 + " -->",
    "<!-- reliefmatch-origin-" + "0" * 32 + " -->",
)


def page_counts(client, token: str) -> tuple[str, int, int]:
    """The kept results page as served, with how often it holds the link and the CSRF token.

    The CSRF token must be nowhere but in the forms' hidden inputs.
    """
    response = client.get(reverse("programs:results", args=[token]))
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    inputs = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert len(set(inputs)) == 1
    assert html.count(inputs[0]) == len(inputs)
    return html, html.count(token), len(inputs)


@pytest.mark.parametrize("marker", MARKERS)
def test_a_programme_holding_a_slot_marker_shows_it_as_text_and_leaks_nothing(
    client, marker
):
    programme = ProgrammeFactory(
        slug="slot-probe",
        name_en="Slot probe",
        benefits_en="Plain benefits",
        apply_steps_en="Plain steps",
        needs=["financing"],
    )
    CriterionFactory(programme=programme, field="employees", operator="lte", value="20")
    token = keep(client)
    plain_html, links, csrfs = page_counts(client, token)
    assert "Plain benefits" in plain_html
    # The page's own places hold them: its links and its forms.
    assert links >= 2
    assert csrfs >= 2

    benefits = f"Before {marker} after"
    Programme.objects.filter(pk=programme.pk).update(
        name_en=f"Probe {marker}",
        benefits_en=benefits,
        apply_steps_en=f"Step {marker}",
        apply_url=f"https://example.com/apply?ref={marker.strip('<!-> ')}",
    )
    for _view in ("rendered", "from the cache"):
        html, links_now, csrfs_now = page_counts(client, token)
        assert escape(benefits) in html  # verbatim, as text
        assert escape(f"Step {marker}") in html
        assert (links_now, csrfs_now) == (links, csrfs)


def test_each_rendering_gets_slots_of_its_own():
    from programs.journey.views import Slots

    first, second = Slots.fresh(), Slots.fresh()
    assert first.nonce != second.nonce
    assert len(first.nonce) >= 32
    marks = {first.csrf_mark, first.link_mark, first.messages_mark, first.origin_mark}
    assert all(first.nonce in mark for mark in marks)


# -- admin logins: password spraying -------------------------------------------------------

PASSWORD = "correct horse battery staple"


def log_in(client, username: str, password: str, address: str = "127.0.0.1"):
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
    )


@override_settings(AXES_FAILURE_LIMIT=5, AXES_ADDRESS_FAILURE_LIMIT=6)
def test_one_address_failing_on_many_usernames_is_locked_out(client):
    User.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    tries = [("alice", 2), ("bob", 2), ("carol", 1)]  # each under its own limit
    for name, times in tries:
        for _ in range(times):
            assert log_in(client, name, "Summer2020!").status_code == HTTPStatus.OK
    # The address's sixth failure, on yet another username, locks it out.
    assert log_in(client, "dave", "Summer2020!").status_code == (
        HTTPStatus.TOO_MANY_REQUESTS
    )

    refused = log_in(client, "admin", PASSWORD)
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert int(refused["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session
    # Another address is not locked out.
    assert log_in(client, "admin", PASSWORD, "198.51.100.9").status_code == (
        HTTPStatus.FOUND
    )


@override_settings(AXES_FAILURE_LIMIT=5, AXES_ADDRESS_FAILURE_LIMIT=6)
def test_a_few_failures_across_usernames_lock_nobody_out(client):
    User.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    for name in ("alice", "bob", "carol", "dave", "admin"):
        log_in(client, name, "typo")
    assert log_in(client, "admin", PASSWORD).status_code == HTTPStatus.FOUND


# -- the screening API: wrong keys per address -------------------------------------------


def screen(client, key: str, address: str = "127.0.0.1"):
    return client.post(
        "/api/v1/screenings",
        {"profiles": [{"business_type": "farm", "province": "CN-HB"}]},
        content_type="application/json",
        headers={"X-API-Key": key},
        REMOTE_ADDR=address,
    )


@override_settings(API_KEY_FAILURE_LIMIT="3/hour")
def test_wrong_api_keys_from_one_address_get_429_with_retry_after(client):
    _row, key = keys.api_key_create(name="bank")
    for n in range(3):
        assert screen(client, f"rm_deadbeef_guess{n:040d}").status_code == (
            HTTPStatus.UNAUTHORIZED
        )
    refused = screen(client, "rm_deadbeef_guess" + "9" * 40)
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert 1 <= int(refused["Retry-After"]) <= 3600
    assert refused.json() == {"detail": "Too many requests."}
    # Even the right key is not checked from there until the window ends…
    assert screen(client, key).status_code == HTTPStatus.TOO_MANY_REQUESTS
    # …while another address is not limited.
    assert screen(client, key, "10.0.0.9").status_code == HTTPStatus.OK


@override_settings(API_KEY_FAILURE_LIMIT="2/hour")
def test_right_keys_are_never_counted_as_failures(client):
    _row, key = keys.api_key_create(name="bank")
    for _ in range(4):
        assert screen(client, key).status_code == HTTPStatus.OK


@override_settings(API_RATE_LIMIT="2/min", TRUSTED_PROXIES=["127.0.0.1"])
def test_the_apis_throttle_reads_the_client_behind_a_trusted_proxy(client):
    def get(forwarded: str) -> int:
        return client.get(
            "/api/v1/programmes", HTTP_X_FORWARDED_FOR=forwarded
        ).status_code

    assert [get("203.0.113.1"), get("203.0.113.1")] == [HTTPStatus.OK] * 2
    # What the client wrote before the proxy's entry does not make a new client.
    assert get("6.6.6.6, 203.0.113.1") == HTTPStatus.TOO_MANY_REQUESTS
    assert get("203.0.113.2") == HTTPStatus.OK


# -- "Email me my link" ---------------------------------------------------------------------

LIMIT_MESSAGE = "We did not send the email: too many emails with a link"


def email_link(client, token: str, email: str, address: str = "127.0.0.1"):
    return client.post(
        reverse("programs:email_link", args=[token]),
        {"email": email},
        REMOTE_ADDR=address,
        follow=True,
    )


@override_settings(LINK_EMAILS_PER_RECIPIENT=2, LINK_EMAILS_PER_ADDRESS=10)
def test_one_recipient_gets_at_most_the_days_limit_of_link_emails(client):
    token = keep(client)
    for _ in range(2):
        assert (
            LIMIT_MESSAGE
            not in email_link(client, token, "victim@example.com").content.decode()
        )
    assert len(mail.outbox) == 2
    refused = email_link(client, token, "Victim@Example.com", "198.51.100.4")
    assert LIMIT_MESSAGE in refused.content.decode()
    assert len(mail.outbox) == 2
    # Another recipient still gets theirs.
    email_link(client, token, "owner@example.com")
    assert len(mail.outbox) == 3


@override_settings(LINK_EMAILS_PER_RECIPIENT=5, LINK_EMAILS_PER_ADDRESS=3)
def test_one_client_address_sends_at_most_the_days_limit_of_link_emails(client):
    token = keep(client)
    for n in range(3):
        email_link(client, token, f"person{n}@example.com")
    assert len(mail.outbox) == 3
    refused = email_link(client, token, "another@example.com")
    assert LIMIT_MESSAGE in refused.content.decode()
    assert len(mail.outbox) == 3
    # Refused, nothing changed: the profile keeps the last address that was sent to.
    assert BusinessProfile.objects.get().email == "person2@example.com"
    email_link(client, token, "another@example.com", "198.51.100.4")
    assert len(mail.outbox) == 4


@override_settings(LINK_EMAILS_PER_RECIPIENT=1, LINK_EMAILS_PER_ADDRESS=10)
def test_keeping_results_over_the_limit_keeps_them_and_sends_nothing(client):
    keep(client, email="victim@example.com")
    assert len(mail.outbox) == 1
    response = client.post(
        reverse("programs:profile_form"),
        {**KEEP, "email": "victim@example.com"},
        follow=True,
    )
    assert response.status_code == HTTPStatus.OK
    assert LIMIT_MESSAGE in response.content.decode()
    assert BusinessProfile.objects.count() == 2
    assert len(mail.outbox) == 1


def test_the_link_email_holds_the_link_and_nothing_the_requester_typed(client):
    typed = "Call 400-000-0000 or visit https://evil.example/claim"
    token = keep(
        client,
        email="owner@example.com",
        consent_share_contact="on",
        contact_name=typed,
        city=typed,
    )
    email_link(client, token, "owner@example.com")
    assert len(mail.outbox) == 2
    link = f"http://testserver/r/{token}/"
    for message in mail.outbox:
        html = message.alternatives[0][0]
        for text in (message.subject, message.body, html):
            assert "evil.example" not in text
            assert "400-000-0000" not in text
        assert re.findall(r"https?://[^\s\"<]+", message.body) == [link]
        assert set(re.findall(r"https?://[^\s\"<]+", html)) == {link}
