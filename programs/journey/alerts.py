"""
Alerts to owners of kept profiles: a programme that newly fits, and a
reminder when a programme they are eligible for closes within 14 days.

Candidates are found per programme with the database filter path (one query
each, over opted-in profiles only), never by looping over profiles in Python.
Each alert is recorded in ``SentAlert`` under a unique constraint, in the
same transaction as the email is sent and under a lock on the profile's row,
so a second run, or one running at the same time, finds the record and sends
nothing; a failed send rolls the record back and is tried again next run.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from programs.catalogue import store
from programs.engine import matching, sql
from programs.journey import kept, personal_report
from programs.models import BusinessProfile, Programme, SentAlert

DEADLINE_DAYS = 14
FITS = SentAlert.Kind.FITS
DEADLINE = SentAlert.Kind.DEADLINE
UNSUBSCRIBE_SALT = "reliefmatch.alerts.unsubscribe"


@dataclass(frozen=True)
class Candidate:
    programme: matching.Programme
    programme_id: int
    kind: str
    reason: str  # the tier for FITS, the closing date for DEADLINE


@dataclass
class AlertRun:
    emails: int = 0
    alerts: int = 0
    by_kind: dict[str, int] = field(default_factory=lambda: {FITS: 0, DEADLINE: 0})


def opted_in() -> QuerySet[BusinessProfile]:
    return BusinessProfile.objects.filter(alerts_consented_at__isnull=False).exclude(
        email=""
    )


def find_candidates(*, today: datetime.date) -> dict[int, list[Candidate]]:
    """Return {profile id: alerts it should get}, from one query per open programme."""
    catalogue = store.current_catalogue()
    ids = dict(Programme.objects.values_list("slug", "pk"))
    found: dict[int, list[Candidate]] = defaultdict(list)
    for programme in catalogue.programmes:
        if programme.availability(today) is not matching.Availability.OPEN:
            continue
        pk = ids[programme.slug]
        told = SentAlert.objects.filter(
            profile=OuterRef("pk"), programme_id=pk, kind=FITS
        )
        fits = (
            sql.with_facts(opted_in())
            .annotate(_outcome=sql.outcome_expression(programme))
            .filter(
                _outcome__in=[
                    matching.Outcome.ELIGIBLE,
                    matching.Outcome.POSSIBLY_ELIGIBLE,
                ]
            )
            # Told already about this tier, or already told it fits fully.
            .exclude(Exists(told.filter(reason=OuterRef("_outcome"))))
            .exclude(Exists(told.filter(reason=matching.Outcome.ELIGIBLE)))
            .values_list("pk", "_outcome")
        )
        for profile_id, outcome in fits:
            found[profile_id].append(Candidate(programme, pk, FITS, outcome))
        closes = programme.closes_on
        if closes and today <= closes <= today + datetime.timedelta(days=DEADLINE_DAYS):
            reminded = SentAlert.objects.filter(
                profile=OuterRef("pk"),
                programme_id=pk,
                kind=DEADLINE,
                reason=closes.isoformat(),
            )
            due = (
                sql.with_facts(opted_in())
                .filter(sql.eligible_q(programme))
                .exclude(Exists(reminded))
                .values_list("pk", flat=True)
            )
            for profile_id in due:
                found[profile_id].append(
                    Candidate(programme, pk, DEADLINE, closes.isoformat())
                )
    return found


def send_alerts(
    *, today: datetime.date | None = None, dry_run: bool = False
) -> AlertRun:
    """Send one email per owner with every alert due; record each so it is never repeated."""
    today = today or timezone.localdate()
    run = AlertRun()
    created = dict(Programme.objects.values_list("pk", "created_at"))
    updated = dict(Programme.objects.values_list("pk", "updated_at"))
    for profile_id, candidates in find_candidates(today=today).items():
        if dry_run:
            sent = candidates
        else:
            try:
                sent = send_one(
                    profile_id,
                    candidates,
                    today=today,
                    created=created,
                    updated=updated,
                )
            except IntegrityError:
                continue  # a concurrent run recorded these alerts first, and sends them
        if sent:
            run.emails += 1
            run.alerts += len(sent)
            for c in sent:
                run.by_kind[c.kind] += 1
    return run


def send_one(
    profile_id: int,
    candidates: list[Candidate],
    *,
    today: datetime.date,
    created: Mapping[int, datetime.datetime],
    updated: Mapping[int, datetime.datetime],
) -> list[Candidate]:
    """Record and send one owner's alerts in one transaction; return what was sent.

    The profile's row is locked (PostgreSQL) and the records re-read inside the
    transaction, so a run that found the same candidates earlier sends nothing.
    """
    with transaction.atomic():
        row = (
            BusinessProfile.objects.select_for_update()
            .filter(pk=profile_id, alerts_consented_at__isnull=False)
            .exclude(email="")
            .first()
        )
        if row is None:
            return []
        recorded = set(
            SentAlert.objects.filter(profile=row).values_list(
                "programme_id", "kind", "reason"
            )
        )
        fresh = [
            c
            for c in candidates
            if (c.programme_id, c.kind, c.reason) not in recorded
            and not (
                c.kind == FITS
                and (c.programme_id, FITS, matching.Outcome.ELIGIBLE.value) in recorded
            )
        ]
        if not fresh:
            return []
        consented_at = row.alerts_consented_at
        assert consented_at is not None  # filtered on alerts_consented_at__isnull
        since = max(
            [consented_at]
            + list(
                SentAlert.objects.filter(profile=row).values_list("sent_at", flat=True)
            )
        )
        SentAlert.objects.bulk_create(
            SentAlert(
                profile=row, programme_id=c.programme_id, kind=c.kind, reason=c.reason
            )
            for c in fresh
        )
        send_email(
            row, fresh, since=since, today=today, created=created, updated=updated
        )
    return fresh


def why(
    c: Candidate,
    *,
    since: datetime.datetime,
    today: datetime.date,
    created: Mapping[int, datetime.datetime],
    updated: Mapping[int, datetime.datetime],
) -> str:
    """Return, in the active language, why this alert is sent now."""
    if c.kind == DEADLINE:
        if c.programme.closes_on_assumed:
            return gettext(
                "You are eligible and it may close on %(date)s: the provider did not "
                "announce an end date, so this date is our assumption."
            ) % {"date": c.reason}
        return gettext("You are eligible and it closes on %(date)s.") % {
            "date": c.reason
        }
    tier = (
        gettext("You are eligible.")
        if c.reason == matching.Outcome.ELIGIBLE
        else gettext(
            "You might be eligible: answer a few questions on your results page."
        )
    )
    opens = c.programme.opens_on
    if created[c.programme_id] > since:
        cause = gettext("A new programme.")
    elif opens and since.date() < opens <= today:
        cause = gettext("It opened on %(date)s.") % {"date": opens.isoformat()}
    elif updated[c.programme_id] > since:
        cause = gettext("Its rules changed.")
    else:
        cause = gettext("Your answers now fit it.")
    return gettext("%(cause)s %(tier)s") % {"cause": cause, "tier": tier}


def results_link(row: BusinessProfile) -> str:
    return settings.SITE_URL + reverse(
        "programs:results", args=[kept.signed_link_token(row)]
    )


def unsubscribe_link(row: BusinessProfile) -> str:
    token = signing.dumps(row.pk, salt=UNSUBSCRIBE_SALT)
    return settings.SITE_URL + reverse("programs:unsubscribe", args=[token])


def send_email(
    row: BusinessProfile,
    candidates: list[Candidate],
    *,
    since: datetime.datetime,
    today: datetime.date,
    created: Mapping[int, datetime.datetime],
    updated: Mapping[int, datetime.datetime],
) -> None:
    with translation.override(row.language):
        items = [
            {
                "name": str(c.programme.name),
                "provider": str(c.programme.provider_name),
                "kind": c.kind,
                "why": why(
                    c, since=since, today=today, created=created, updated=updated
                ),
                "money": personal_report.time_to_money(c.programme),
            }
            for c in candidates
        ]
        context = {
            "items": items,
            "results": results_link(row),
            "unsubscribe": unsubscribe_link(row),
        }
        message = EmailMultiAlternatives(
            subject=gettext("Relief programmes that now fit your business"),
            body=render_to_string("programs/email/alert.txt", context),
            to=[row.email],
            headers={
                "List-Unsubscribe": f"<{context['unsubscribe']}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        message.attach_alternative(
            render_to_string("programs/email/alert.html", context), "text/html"
        )
        message.send()


def unsubscribe(token: str) -> BusinessProfile | None:
    """Stop alerts for the profile behind a signed unsubscribe token; None if invalid."""
    try:
        profile_id = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    row = BusinessProfile.objects.filter(pk=profile_id).first()
    if row is not None and row.alerts_consented_at is not None:
        row.alerts_consented_at = None
        row.save(update_fields=["alerts_consented_at", "updated_at"])
    return row
