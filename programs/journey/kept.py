"""
Kept profiles: storing a profile with its owner's consent, the private link
that opens it again, the record of what the owner was told, and deletion.

Only the SHA-256 of a private link's token is stored, so a copy of the
database opens nobody's results.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet, Subquery
from django.template.loader import render_to_string
from django.utils import timezone, translation

from programs.catalogue.store import Catalogue, compiled_catalogue, current_catalogue
from programs.engine import matching
from programs.engine.contract import Profile, to_columns
from programs.models import (
    BusinessProfile,
    CatalogueRevision,
    Programme,
    SentAlert,
    StoredResult,
)

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


def profile_create(*, profile: Profile, **extra: Any) -> BusinessProfile:
    """Store a profile with its derived fields and any other columns given."""
    row = BusinessProfile(**to_columns(profile), **extra)
    # The one unique column is the digest of a fresh 256-bit random token:
    # the database's constraint guards it without a query beforehand.
    row.full_clean(validate_unique=False)
    row.save()
    return row


TOKEN_BYTES = 32  # 256 bits


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Consent:
    store: bool
    share_contact: bool = False
    email: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    alerts: bool = False


def programme_ids(report: matching.MatchReport) -> Mapping[str, int]:
    """Return slug -> programme primary key for the report's programmes.

    From this process's compiled catalogue when the report was made with it
    (no query: the report was made from it a moment ago), else from the
    database.
    """
    if (compiled := compiled_catalogue(report.catalogue_version)) is not None:
        return compiled.ids
    return dict(
        Programme.objects.filter(
            slug__in=[m.programme.slug for m in report.matches]
        ).values_list("slug", "pk")
    )


def store_results(
    *, row: BusinessProfile, report: matching.MatchReport, new: bool = False
) -> Mapping[str, int]:
    """Replace the stored record of what the business was told; return the programme ids."""
    ids = programme_ids(report)
    if not new:
        StoredResult.objects.filter(profile=row).delete()
    StoredResult.objects.bulk_create(
        StoredResult(
            profile=row,
            programme_id=ids[m.programme.slug],
            outcome=m.outcome.value,
            near_miss=m.near_miss,
            availability=m.availability.value,
            score=m.score,
            rank=rank,
            as_of=report.as_of,
            catalogue_version=report.catalogue_version,
        )
        for rank, m in enumerate(report.matches, start=1)
        if m.programme.slug in ids
    )
    return ids


@transaction.atomic
def profile_keep(
    *,
    profile: Profile,
    consent: Consent,
    report: matching.MatchReport,
    as_of: datetime.date | None,
    language: str,
) -> tuple[BusinessProfile, str]:
    """Store a profile and its results with the owner's consent; return it and its link token.

    The token is returned once and never stored: only its digest is.
    """
    if not consent.store:
        raise ValueError("A profile is only kept with the owner's consent.")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = timezone.now()
    row = profile_create(
        profile=profile,
        as_of=as_of,
        token_hash=token_digest(token),
        consent_notice_version=settings.PRIVACY_NOTICE_VERSION,
        consented_at=now,
        share_contact_consented_at=now if consent.share_contact else None,
        email=consent.email,
        contact_name=consent.contact_name if consent.share_contact else "",
        contact_phone=consent.contact_phone if consent.share_contact else "",
        language=language,
        alerts_consented_at=now if consent.alerts and consent.email else None,
    )
    ids = store_results(row=row, report=report, new=True)
    record_shown(row=row, report=report, ids=ids)
    return row, token


SIGNED_LINK_SALT = "reliefmatch.results-link"


def signed_link_token(row: BusinessProfile) -> str:
    """Return a second private link token for emails sent later (alerts).

    The raw token is never stored, so later emails carry a token signed with
    the secret key over the stored digest; it opens the same profile and dies
    with it.
    """
    return "s." + signing.dumps(row.token_hash, salt=SIGNED_LINK_SALT)


def profile_by_token(token: str) -> BusinessProfile | None:
    """Return the kept profile behind a private link (plain or signed), or None."""
    return _profile_by_token(token, BusinessProfile.objects.all())


class _WithRevision(TypedDict):
    catalogue_revision: str | None


def kept_profile_and_catalogue(token: str) -> tuple[BusinessProfile, Catalogue] | None:
    """Return the kept profile behind a private link and the current catalogue.

    One query: the profile row comes with the catalogue's revision token, so
    an unchanged compiled catalogue is reused without asking again.
    """
    revision = CatalogueRevision.objects.filter(pk=1).values("token")[:1]
    rows = BusinessProfile.objects.annotate(catalogue_revision=Subquery(revision))
    row: WithAnnotations[BusinessProfile, _WithRevision] | None = _profile_by_token(
        token, rows
    )
    if row is None:
        return None
    return row, current_catalogue(revision=row.catalogue_revision)


_ProfileT = TypeVar("_ProfileT", bound=BusinessProfile)


def _profile_by_token(token: str, rows: QuerySet[_ProfileT]) -> _ProfileT | None:
    if not (20 <= len(token) <= 200):
        return None
    if token.startswith("s."):
        try:
            digest = signing.loads(token[2:], salt=SIGNED_LINK_SALT)
        except signing.BadSignature:
            return None
        if not isinstance(digest, str):
            return None
    else:
        digest = token_digest(token)
    row = rows.filter(token_hash=digest).first()
    # The lookup is by digest; compare again in constant time all the same.
    if row is None or not hmac.compare_digest(row.token_hash or "", digest):
        return None
    return row


class ProfileGone(Exception):
    """The kept profile was deleted while its owner was changing it."""


@transaction.atomic
def profile_update(
    *,
    row: BusinessProfile,
    profile: Profile,
    as_of: datetime.date | None,
    report: matching.MatchReport,
) -> BusinessProfile:
    # Lock the row for this transaction; a profile purged or deleted since
    # it was read is gone for good.
    if not BusinessProfile.objects.select_for_update().filter(pk=row.pk).exists():
        raise ProfileGone
    for name, value in to_columns(profile).items():
        setattr(row, name, value)
    row.as_of = as_of
    row.full_clean()
    # Never an INSERT: a profile deleted meanwhile (purged) stays deleted.
    row.save(force_update=True)
    ids = store_results(row=row, report=report)
    record_shown(row=row, report=report, ids=ids)
    return row


def record_shown(
    *,
    row: BusinessProfile,
    report: matching.MatchReport,
    ids: Mapping[str, int] | None = None,
) -> None:
    """Count open programmes the owner just saw fit as told, so alerts never repeat them."""
    ids = programme_ids(report) if ids is None else ids
    SentAlert.objects.bulk_create(
        [
            SentAlert(
                profile=row,
                programme_id=ids[m.programme.slug],
                kind=SentAlert.Kind.FITS,
                reason=m.outcome.value,
            )
            for m in report.matches
            if m.outcome is not matching.Outcome.NOT_ELIGIBLE
            and m.availability is matching.Availability.OPEN
            and m.programme.slug in ids
        ],
        ignore_conflicts=True,
    )


def profile_delete(*, row: BusinessProfile) -> None:
    """Remove a profile and everything kept about it, for good."""
    row.delete()  # results cascade


def send_link_email(*, row: BusinessProfile, email: str, link: str) -> None:
    """Email the private link in the owner's language, plain text and HTML."""
    with translation.override(row.language):
        context = {"link": link}
        send_mail(
            subject=translation.gettext("Your ReliefMatch results"),
            message=render_to_string("programs/email/link.txt", context),
            html_message=render_to_string("programs/email/link.html", context),
            from_email=None,
            recipient_list=[email],
        )
