"""Privacy: contact details only with their consent, and delete-my-data leaves nothing."""

from __future__ import annotations

import io
import json
import re
from http import HTTPStatus

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from programs.api import keys
from programs.catalogue import store
from programs.journey import alerts, kept
from programs.models import BusinessProfile, SentAlert, StoredResult
from tests.builders import STALL, make_profile

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]

EMAIL = "owner.li@example.com"
NAME = "Li Xiaohong"
PHONE = "138 0013 8000"
CONTACT = {"email": EMAIL, "contact_name": NAME, "contact_phone": PHONE}


def stored_anywhere(*texts: str) -> set[str]:
    """Return which of the texts are in any table of the database."""
    out = io.StringIO()
    call_command("dumpdata", exclude=["contenttypes", "auth.permission"], stdout=out)
    dump = out.getvalue()
    return {text for text in texts if text in dump}


def submit(client, **extra):
    return client.post(reverse("programs:profile_form"), {**STALL, **extra})


def token_of(response) -> str:
    match = re.fullmatch(r"/r/([^/]+)/", response["Location"])
    assert match, response["Location"]
    return match.group(1)


# -- consent ---------------------------------------------------------------------------------


def test_without_consent_to_keep_no_contact_detail_is_stored_anywhere(client):
    response = submit(client, **CONTACT)
    assert response.status_code == HTTPStatus.OK
    assert "Programmes for your business" in response.content.decode()
    assert BusinessProfile.objects.count() == 0
    assert stored_anywhere(EMAIL, NAME, PHONE) == set()


def test_keeping_without_consent_to_share_keeps_the_email_only(client):
    response = submit(client, consent_store="on", **CONTACT)
    assert response.status_code == HTTPStatus.FOUND
    row = BusinessProfile.objects.get()
    assert row.email == EMAIL  # for the private link, which the owner agreed to keep
    assert (row.contact_name, row.contact_phone) == ("", "")
    assert row.share_contact_consented_at is None
    assert row.alerts_consented_at is None
    assert stored_anywhere(EMAIL, NAME, PHONE) == {EMAIL}


def test_every_consent_is_recorded_with_the_notice_version_and_its_time(client):
    before = timezone.now()
    response = submit(
        client,
        consent_store="on",
        consent_share_contact="on",
        alerts="on",
        **CONTACT,
    )
    after = timezone.now()
    assert response.status_code == HTTPStatus.FOUND
    row = BusinessProfile.objects.get()
    assert row.consent_notice_version == settings.PRIVACY_NOTICE_VERSION
    assert before <= row.consented_at <= after
    assert row.share_contact_consented_at == row.consented_at
    assert row.alerts_consented_at == row.consented_at
    assert (row.email, row.contact_name, row.contact_phone) == (EMAIL, NAME, PHONE)


def test_alerts_without_an_email_are_refused_and_nothing_is_kept(client):
    response = submit(client, consent_store="on", alerts="on")
    assert response.status_code == HTTPStatus.OK
    assert "For alerts we must keep your answers and your email" in (
        response.content.decode()
    )
    assert BusinessProfile.objects.count() == 0


def test_keeping_through_the_service_drops_contacts_without_their_consent():
    profile = make_profile(business_type="street_stall", province="CN-HB")
    report = store.run_match(profile=profile)
    row, _token = kept.profile_keep(
        profile=profile,
        consent=kept.Consent(
            store=True, contact_name=NAME, contact_phone=PHONE, alerts=True
        ),
        report=report,
        as_of=None,
        language="en",
    )
    row.refresh_from_db()
    assert (row.contact_name, row.contact_phone, row.email) == ("", "", "")
    assert row.alerts_consented_at is None  # alerts need an email
    with pytest.raises(ValueError, match="only kept with the owner's consent"):
        kept.profile_keep(
            profile=profile,
            consent=kept.Consent(store=False, email=EMAIL),
            report=report,
            as_of=None,
            language="en",
        )
    assert BusinessProfile.objects.count() == 1
    assert stored_anywhere(EMAIL, NAME, PHONE) == set()


def test_the_api_keeps_nothing_and_refuses_contact_fields(client):
    body = {
        "business_type": "street_stall",
        "province": "CN-HB",
        "needs": ["financing"],
    }
    plain = client.post("/api/v1/match", body, content_type="application/json")
    assert plain.status_code == HTTPStatus.OK
    with_contacts = client.post(
        "/api/v1/match",
        json.dumps({**body, **CONTACT, "consent_store": True}),
        content_type="application/json",
    )
    assert with_contacts.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "email" in with_contacts.json()["errors"]
    assert BusinessProfile.objects.count() == 0
    assert StoredResult.objects.count() == 0
    assert stored_anywhere(EMAIL, NAME, PHONE) == set()


def test_bulk_screening_keeps_no_profile_and_no_contact_detail(client):
    _row, key = keys.api_key_create(name="Yiwu market association")
    body = {
        "profiles": [
            {
                "business_type": "street_stall",
                "province": "CN-HB",
                "needs": ["financing"],
            },
            {
                "business_type": "street_stall",
                "province": "CN-HB",
                "needs": ["financing"],
                **CONTACT,
            },
        ]
    }
    response = client.post(
        "/api/v1/screenings",
        json.dumps(body),
        content_type="application/json",
        headers={"X-API-Key": key},
    )
    assert response.status_code == HTTPStatus.OK
    assert response.json()["errors"] == 1  # the row with contact fields
    assert BusinessProfile.objects.count() == 0
    assert stored_anywhere(EMAIL, NAME, PHONE) == set()


# -- delete my data ----------------------------------------------------------------------------


def test_delete_my_data_leaves_nothing_of_the_profile_in_any_table(client):
    token = token_of(
        submit(
            client,
            consent_store="on",
            consent_share_contact="on",
            alerts="on",
            **CONTACT,
        )
    )
    row = BusinessProfile.objects.get()
    signed = kept.signed_link_token(row)
    unsubscribe = alerts.unsubscribe_link(row).rsplit("/", 2)[-2]
    referring = list(BusinessProfile._meta.related_objects)
    assert {rel.related_model for rel in referring} >= {StoredResult, SentAlert}
    assert StoredResult.objects.filter(profile=row).exists()
    assert SentAlert.objects.filter(profile=row).exists()  # programmes seen as fitting
    assert not hasattr(BusinessProfile, "history")  # no historical copies
    links = [
        ("results", [token]),
        ("results", [signed]),
        ("profile_edit", [token]),
        ("report_kept", [token, "pdf"]),
        ("profile_delete", [token]),
        ("unsubscribe", [unsubscribe]),
    ]
    for name, args in links:
        assert client.get(reverse(f"programs:{name}", args=args)).status_code == (
            HTTPStatus.OK
        ), name

    response = client.post(reverse("programs:profile_delete", args=[token]))

    assert response.status_code == HTTPStatus.OK
    assert not BusinessProfile.objects.filter(pk=row.pk).exists()
    for rel in referring:
        left = rel.related_model._base_manager.filter(
            **{rel.field.name: row.pk}
        ).count()
        assert left == 0, rel.related_model.__name__
    assert stored_anywhere(EMAIL, NAME, PHONE, row.token_hash) == set()
    assert kept.profile_by_token(token) is None
    assert kept.profile_by_token(signed) is None
    for name, args in links:
        assert (
            client.get(reverse(f"programs:{name}", args=args)).status_code
            == HTTPStatus.NOT_FOUND
        ), name
    assert (
        client.post(reverse("programs:unsubscribe", args=[unsubscribe])).status_code
        == HTTPStatus.NOT_FOUND
    )
