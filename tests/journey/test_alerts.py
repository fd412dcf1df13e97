"""Alerts: a programme that newly fits, deadline reminders, no duplicates, unsubscribe."""

from __future__ import annotations

import datetime
import io
from http import HTTPStatus

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from programs.catalogue import loader, store
from programs.journey import alerts, kept
from programs.models import BusinessProfile, Criterion, SentAlert
from tests.builders import make_profile
from tests.factories import CriterionFactory, ProgrammeFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2020, 6, 15)


def owner(*, language="en", alerts_on=True, **answers) -> BusinessProfile:
    profile = make_profile(
        **{"business_type": "street_stall", "employees": 1, **answers}
    )
    report = store.run_match(profile=profile, as_of=TODAY)
    row, _token = kept.profile_keep(
        profile=profile,
        consent=kept.Consent(store=True, email="owner@example.com", alerts=alerts_on),
        report=report,
        as_of=TODAY,
        language=language,
    )
    return row


def stall_programme(slug="stall-fund", **kw):
    kw.setdefault("opens_on", datetime.date(2020, 6, 1))
    kw.setdefault("closes_on", datetime.date(2020, 12, 31))
    programme = ProgrammeFactory(slug=slug, **kw)
    CriterionFactory(
        programme=programme,
        field="business_type",
        operator="one_of",
        value=["street_stall"],
    )
    return programme


def test_new_programme_that_fits_is_emailed_once_with_why_and_links():
    row = owner()
    stall_programme()
    run = alerts.send_alerts(today=TODAY)
    assert (run.emails, run.alerts) == (1, 1)
    [message] = mail.outbox
    assert message.to == ["owner@example.com"]
    assert "A new programme." in message.body
    assert "You are eligible." in message.body
    assert "/r/s." in message.body  # a signed link to the owner's results
    assert "/alerts/unsubscribe/" in message.body
    assert message.alternatives[0][1] == "text/html"
    assert (
        message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    )
    assert (
        SentAlert.objects.filter(profile=row, kind="fits", reason="eligible").count()
        == 1
    )

    again = alerts.send_alerts(today=TODAY)
    assert (again.emails, again.alerts) == (0, 0)
    assert len(mail.outbox) == 1


def test_a_run_holding_stale_candidates_sends_nothing_already_sent(monkeypatch):
    owner()
    stall_programme()
    stale = alerts.find_candidates(today=TODAY)  # what a concurrent run found earlier
    assert alerts.send_alerts(today=TODAY).emails == 1
    monkeypatch.setattr(alerts, "find_candidates", lambda today: stale)
    assert alerts.send_alerts(today=TODAY).emails == 0
    assert len(mail.outbox) == 1


def test_changed_rule_that_now_fits_is_emailed():
    programme = ProgrammeFactory(slug="cafe-fund", opens_on=datetime.date(2020, 6, 1))
    criterion = CriterionFactory(
        programme=programme,
        field="business_type",
        operator="one_of",
        value=["restaurant"],
    )
    owner()
    assert alerts.send_alerts(today=TODAY).emails == 0
    criterion.value = ["restaurant", "street_stall"]
    criterion.save()
    programme.save()  # the admin saves the programme with its criteria
    alerts.send_alerts(today=TODAY)
    [message] = mail.outbox
    assert "Its rules changed." in message.body


def test_programme_that_opens_is_emailed_when_it_opens():
    programme = stall_programme(opens_on=datetime.date(2020, 6, 20))
    long_ago = datetime.datetime(2020, 5, 1, tzinfo=datetime.UTC)
    type(programme).objects.filter(pk=programme.pk).update(
        created_at=long_ago, updated_at=long_ago
    )
    row = owner()
    BusinessProfile.objects.filter(pk=row.pk).update(
        alerts_consented_at=datetime.datetime(2020, 6, 1, tzinfo=datetime.UTC)
    )
    SentAlert.objects.all().delete()
    assert alerts.send_alerts(today=TODAY).emails == 0  # not open yet
    assert alerts.send_alerts(today=datetime.date(2020, 6, 21)).emails == 1
    assert "It opened on 2020-06-20." in mail.outbox[0].body


def test_possibly_eligible_then_eligible_is_a_new_reason_but_not_the_reverse():
    row = owner()
    programme = stall_programme()
    CriterionFactory(
        programme=programme, field="has_bank_loan", operator="is", value=True, group=2
    )
    alerts.send_alerts(today=TODAY)
    assert "You might be eligible" in mail.outbox[0].body
    BusinessProfile.objects.filter(pk=row.pk).update(has_bank_loan=True)
    alerts.send_alerts(today=TODAY)
    assert len(mail.outbox) == 2
    assert "You are eligible." in mail.outbox[1].body
    BusinessProfile.objects.filter(pk=row.pk).update(has_bank_loan=None)
    alerts.send_alerts(today=TODAY)
    assert len(mail.outbox) == 2


def test_deadline_reminder_is_sent_once_within_fourteen_days():
    stall_programme(closes_on=datetime.date(2020, 6, 25))
    owner()
    SentAlert.objects.all().delete()
    alerts.send_alerts(
        today=datetime.date(2020, 6, 5)
    )  # 20 days before: a fits alert only
    assert SentAlert.objects.filter(kind="deadline").count() == 0
    run = alerts.send_alerts(today=datetime.date(2020, 6, 12))
    assert run.by_kind == {"fits": 0, "deadline": 1}
    assert "closes on 2020-06-25" in mail.outbox[-1].body
    assert alerts.send_alerts(today=datetime.date(2020, 6, 13)).emails == 0


def test_owners_without_alerts_or_email_get_nothing():
    owner(alerts_on=False)
    row = owner()
    BusinessProfile.objects.filter(pk=row.pk).update(email="")
    stall_programme()
    assert alerts.send_alerts(today=TODAY).emails == 0
    assert mail.outbox == []


def test_programmes_shown_on_the_results_page_are_not_emailed_again():
    stall_programme()
    row = owner()  # saw the stall fund fit on its results page
    assert (
        SentAlert.objects.filter(profile=row, kind="fits", reason="eligible").count()
        == 1
    )
    assert alerts.send_alerts(today=TODAY).emails == 0


def test_email_follows_the_owners_language():
    owner(language="zh-hans")
    stall_programme()
    alerts.send_alerts(today=TODAY)
    [message] = mail.outbox
    assert "适合" in message.subject
    assert "新项目" in message.body


def test_failed_send_records_nothing_and_is_retried(monkeypatch):
    owner()
    stall_programme()

    def refuse(*args, **kwargs):
        raise OSError("mail server down")

    monkeypatch.setattr(alerts, "send_email", refuse)
    with pytest.raises(OSError, match="mail server down"):
        alerts.send_alerts(today=TODAY)
    assert SentAlert.objects.count() == 0
    monkeypatch.undo()
    assert alerts.send_alerts(today=TODAY).emails == 1


def test_candidates_are_found_with_one_query_per_programme_whatever_the_number_of_profiles(
    django_assert_max_num_queries,
):
    for _ in range(3):
        owner()
    stall_programme()
    stall_programme(slug="second-fund")
    with django_assert_max_num_queries(8) as few:
        alerts.find_candidates(today=TODAY)
    for _ in range(30):
        owner()
    SentAlert.objects.all().delete()  # as if none of them had seen these programmes yet
    with django_assert_max_num_queries(len(few.captured_queries)):
        found = alerts.find_candidates(today=TODAY)
    assert len(found) == 33


def test_one_click_unsubscribe_stops_alerts():
    row = owner()
    stall_programme()
    link = (
        alerts.unsubscribe_link(row)
        .split("testserver", 1)[-1]
        .split("127.0.0.1:8000", 1)[-1]
    )
    client = Client(enforce_csrf_checks=True)
    assert client.get(link).status_code == HTTPStatus.OK
    assert (
        client.post(link).status_code == HTTPStatus.OK
    )  # the mail client's one-click POST
    assert BusinessProfile.objects.get().alerts_consented_at is None
    assert alerts.send_alerts(today=TODAY).emails == 0
    assert (
        client.post("/alerts/unsubscribe/forged:token/").status_code
        == HTTPStatus.NOT_FOUND
    )


def test_signed_link_in_alerts_opens_the_results_and_dies_with_the_profile(client):
    row = owner()
    token = kept.signed_link_token(row)
    assert (
        client.get(reverse("programs:results", args=[token])).status_code
        == HTTPStatus.OK
    )
    assert (
        client.get(reverse("programs:results", args=["s.forged:sig"])).status_code
        == HTTPStatus.NOT_FOUND
    )
    kept.profile_delete(row=row)
    assert (
        client.get(reverse("programs:results", args=[token])).status_code
        == HTTPStatus.NOT_FOUND
    )


def test_alerts_need_keeping_and_an_email_on_the_form(client):
    loader.load_catalogue()
    form = {
        "business_type": "street_stall",
        "province": "CN-HB",
        "needs": ["financing"],
        "alerts": "on",
    }
    response = client.post(reverse("programs:profile_form"), form)
    assert (
        "For alerts we must keep your answers and your email"
        in response.content.decode()
    )
    assert BusinessProfile.objects.count() == 0
    client.post(
        reverse("programs:profile_form"),
        {**form, "consent_store": "on", "email": "o@example.com"},
    )
    assert BusinessProfile.objects.get().alerts_consented_at is not None


def test_command_reports_what_it_sent():
    owner()
    stall_programme()
    out = io.StringIO()
    call_command("send_match_alerts", "--today", "2020-06-15", "--dry-run", stdout=out)
    assert (
        out.getvalue().strip()
        == "Would send 1 emails with 1 alerts (1 newly fitting, 0 closing soon)."
    )
    assert mail.outbox == []
    call_command("send_match_alerts", "--today", "2020-06-15", stdout=out)
    assert len(mail.outbox) == 1


def test_deleting_my_data_removes_queued_alerts():
    row = owner()
    stall_programme()
    alerts.send_alerts(today=TODAY)
    assert SentAlert.objects.filter(profile=row).exists()
    kept.profile_delete(row=row)
    assert SentAlert.objects.count() == 0
    assert Criterion.objects.count() == 1


def test_command_refuses_a_bad_date_clearly():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="--today must be a date as YYYY-MM-DD"):
        call_command("send_match_alerts", "--today", "2020-02-30")


def test_a_reminder_says_when_the_end_date_is_our_assumption():
    stall_programme(closes_on=datetime.date(2020, 6, 25), closes_on_assumed=True)
    owner()
    SentAlert.objects.all().delete()
    alerts.send_alerts(today=datetime.date(2020, 6, 12))
    body = mail.outbox[-1].body
    assert "it may close on 2020-06-25" in body
    assert "this date is our assumption" in body


@pytest.mark.parametrize(
    ("assumed", "line"),
    [
        (True, "Time to help: about 3 days (our estimate)"),
        (False, "Time to help: 3 days"),
    ],
)
def test_an_alert_says_how_fast_the_help_comes_and_whether_that_is_our_estimate(
    assumed, line
):
    owner()
    stall_programme(days_to_money=3, days_to_money_assumed=assumed)
    alerts.send_alerts(today=TODAY)
    [message] = mail.outbox
    assert line in message.body
    assert line in message.alternatives[0][0]
    assert ("our estimate" in message.body) is assumed


def test_an_alert_in_chinese_says_the_time_to_help_is_an_estimate():
    owner(language="zh-hans")
    stall_programme(days_to_money=3, days_to_money_assumed=True)
    alerts.send_alerts(today=TODAY)
    assert "约3天（我们的估计）" in mail.outbox[0].body
