"""
The bridge between the ORM and the pure matcher.

Reads build ``matching`` dataclasses from rows in a fixed number of queries;
writes take plain data and validate it with the matcher's own rules.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Case, F, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import timezone, translation

from . import matching
from .models import (
    ApiKey,
    BusinessProfile,
    CatalogueRevision,
    Criterion,
    Programme,
    Provider,
    SentAlert,
    Source,
    StoredResult,
    ThrottleCount,
)

CATALOGUE_FILE = Path(__file__).resolve().parent / "catalogue" / "catalogue.toml"

# --------------------------------------------------------------------------
# Sets as bit masks
# --------------------------------------------------------------------------

MASKED_FIELDS: dict[str, tuple[str, ...]] = {
    "export_markets": matching.FIELDS["export_markets"].codes,
    "platforms": matching.FIELDS["platforms"].codes,
    "needs": matching.FIELDS["needs"].codes,
}


def mask_of(codes: Iterable[str], vocabulary: tuple[str, ...]) -> int:
    return sum(1 << vocabulary.index(code) for code in codes)


def codes_of(mask: int, vocabulary: tuple[str, ...]) -> frozenset[str]:
    return frozenset(code for i, code in enumerate(vocabulary) if mask >> i & 1)


# --------------------------------------------------------------------------
# Criterion values: canonical matcher values <-> JSON column
# --------------------------------------------------------------------------


def value_to_json(value: Any) -> Any:
    """Return a canonical criterion value as JSON (decimals as exact strings)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, tuple):
        return [value_to_json(v) for v in value]
    return value


def criterion_rules(row: Criterion) -> matching.Criterion:
    return matching.Criterion(
        field=row.field,
        operator=matching.Operator(row.operator),
        value=matching.clean_criterion_value(row.field, row.operator, row.value),
        group=row.group,
        required=row.required,
        basis=matching.Basis(row.basis),
        explanation=matching.Text(row.explanation_en, row.explanation_zh_hans),
    )


def programme_rules(row: Programme) -> matching.Programme:
    """Return the plain-data programme; expects criteria, sources and provider prefetched."""
    return build_programme(row, row.criteria.all(), row.sources.all())


def build_programme(
    row: Programme, criteria: Iterable[Criterion], sources: Iterable[Source]
) -> matching.Programme:
    """Return the plain-data programme from rows, saved or not."""
    return matching.Programme(
        slug=row.slug,
        provider=row.provider.slug,
        provider_kind=row.provider.kind,
        provider_name=matching.Text(row.provider.name_en, row.provider.name_zh_hans),
        name=matching.Text(row.name_en, row.name_zh_hans),
        criteria=tuple(criterion_rules(c) for c in criteria),
        summary=matching.Text(row.summary_en, row.summary_zh_hans),
        benefits=matching.Text(row.benefits_en, row.benefits_zh_hans),
        apply_channel=matching.Text(row.apply_channel_en, row.apply_channel_zh_hans),
        apply_steps=matching.Text(row.apply_steps_en, row.apply_steps_zh_hans),
        apply_url=row.apply_url,
        announced_on=row.announced_on,
        opens_on=row.opens_on,
        closes_on=row.closes_on,
        closes_on_assumed=row.closes_on_assumed,
        withdrawn=row.status == Programme.Status.WITHDRAWN,
        last_verified_on=row.last_verified_on,
        days_to_money=row.days_to_money,
        days_to_money_assumed=row.days_to_money_assumed,
        max_amount_cny=row.max_amount_cny,
        needs=frozenset(row.needs),
        discretionary=matching.Text(row.discretionary_en, row.discretionary_zh_hans),
        sources=tuple(
            matching.Source(s.title, s.url, s.published_on, s.confidence)
            for s in sources
        ),
    )


def programme_queryset():
    return Programme.objects.select_related("provider").prefetch_related(
        "criteria", "sources"
    )


@dataclass(frozen=True)
class Catalogue:
    programmes: tuple[matching.Programme, ...]
    version: str
    #: slug -> primary key of each programme row, for storing results.
    ids: Mapping[str, int] = field(default_factory=dict, compare=False)

    def get(self, slug: str) -> matching.Programme | None:
        return next((p for p in self.programmes if p.slug == slug), None)


def read_catalogue() -> Catalogue:
    """Return every programme as plain data with the catalogue version (three queries)."""
    rows = list(programme_queryset())
    programmes = tuple(programme_rules(row) for row in rows)
    return Catalogue(
        programmes,
        matching.catalogue_version(programmes),
        ids={row.slug: row.pk for row in rows},
    )


def catalogue_revision() -> str | None:
    """Return the token that changes with every catalogue change (one query).

    None when the revision row is missing (a database without the triggers
    of migration 0006): then nothing may be cached.
    """
    return (
        CatalogueRevision.objects.filter(pk=1).values_list("token", flat=True).first()
    )


#: (revision token, catalogue) compiled by this process; replaced, never mutated.
_compiled: tuple[str, Catalogue] | None = None


def current_catalogue(*, revision: str | None = None) -> Catalogue:
    """Return the current catalogue: one query while it is unchanged, four after a change.

    `revision` is a token the caller already read in a query of its own
    (``kept_profile_and_catalogue``); then an unchanged catalogue costs no query.

    Each process keeps the catalogue it last read with the revision token it
    read first. A change anywhere in the catalogue gives the revision a new
    token (database triggers), so the next call reads the catalogue again.
    Reading the token before the rows means a change racing with the read
    can only make the cache rebuild once more, never keep stale rules.
    """
    global _compiled
    token = revision if revision is not None else catalogue_revision()
    compiled = _compiled
    if token is not None and compiled is not None and compiled[0] == token:
        return compiled[1]
    catalogue = read_catalogue()
    if token is not None:
        _compiled = (token, catalogue)
    return catalogue


def run_match(
    *,
    profile: matching.Profile,
    as_of: datetime.date | None = None,
    catalogue: Catalogue | None = None,
) -> matching.MatchReport:
    """Return the ranked results for a profile against the (current) catalogue."""
    catalogue = catalogue or current_catalogue()
    return matching.match(
        profile,
        catalogue.programmes,
        as_of=as_of or timezone.localdate(),
        catalogue_version=catalogue.version,
    )


# --------------------------------------------------------------------------
# Stored profiles
# --------------------------------------------------------------------------


def profile_model_fields(profile: matching.Profile) -> dict[str, Any]:
    """Return BusinessProfile column values for a profile, derived fields included."""
    values: dict[str, Any] = {}
    for name in matching.PROFILE_FIELDS:
        value = getattr(profile, name)
        if name in MASKED_FIELDS:
            values[f"{name}_mask"] = (
                None if value is None else mask_of(value, MASKED_FIELDS[name])
            )
        else:
            values[name] = value
    derived = profile.derived()
    values["industry"] = derived["industry"]
    values["size_class"] = derived["size_class"]
    values["urgency"] = derived["urgency"]
    values["runway_months"] = derived["cash_runway_months"]
    return values


def profile_from_model(row: BusinessProfile) -> matching.Profile:
    values: dict[str, Any] = {}
    for name in matching.PROFILE_FIELDS:
        if name in MASKED_FIELDS:
            mask = getattr(row, f"{name}_mask")
            values[name] = None if mask is None else codes_of(mask, MASKED_FIELDS[name])
        else:
            values[name] = getattr(row, name)
    values["city"] = values["city"] or ""
    return matching.Profile(**values)


def profile_create(*, profile: matching.Profile, **extra: Any) -> BusinessProfile:
    row = BusinessProfile(**profile_model_fields(profile), **extra)
    # The one unique column is the digest of a fresh 256-bit random token:
    # the database's constraint guards it without a query beforehand.
    row.full_clean(validate_unique=False)
    row.save()
    return row


# --------------------------------------------------------------------------
# Kept profiles: private links, consent, results, deletion
# --------------------------------------------------------------------------

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
    compiled = _compiled
    if compiled is not None and compiled[1].version == report.catalogue_version:
        return compiled[1].ids
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
    profile: matching.Profile,
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


def kept_profile_and_catalogue(token: str) -> tuple[BusinessProfile, Catalogue] | None:
    """Return the kept profile behind a private link and the current catalogue.

    One query: the profile row comes with the catalogue's revision token, so
    an unchanged compiled catalogue is reused without asking again.
    """
    revision = CatalogueRevision.objects.filter(pk=1).values("token")[:1]
    rows = BusinessProfile.objects.annotate(catalogue_revision=Subquery(revision))
    row = _profile_by_token(token, rows)
    if row is None:
        return None
    return row, current_catalogue(revision=row.catalogue_revision)


def _profile_by_token(
    token: str, rows: QuerySet[BusinessProfile]
) -> BusinessProfile | None:
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
    profile: matching.Profile,
    as_of: datetime.date | None,
    report: matching.MatchReport,
) -> BusinessProfile:
    # Lock the row for this transaction; a profile purged or deleted since
    # it was read is gone for good.
    if not BusinessProfile.objects.select_for_update().filter(pk=row.pk).exists():
        raise ProfileGone
    for name, value in profile_model_fields(profile).items():
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


# --------------------------------------------------------------------------
# Loading the catalogue file
# --------------------------------------------------------------------------

TEXT_FIELDS = (
    "name",
    "summary",
    "benefits",
    "apply_channel",
    "apply_steps",
    "discretionary",
)
PLAIN_FIELDS = (
    "apply_url",
    "announced_on",
    "opens_on",
    "closes_on",
    "closes_on_assumed",
    "last_verified_on",
    "days_to_money",
    "days_to_money_assumed",
    "max_amount_cny",
)


class CatalogueError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class LoadReport:
    version: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _programme_defaults(entry: Mapping[str, Any]) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        defaults[f"{name}_en"] = entry.get(f"{name}_en", "")
        defaults[f"{name}_zh_hans"] = entry.get(f"{name}_zh_hans", "")
    for name in PLAIN_FIELDS:
        defaults[name] = entry.get(name, Programme._meta.get_field(name).get_default())
    if defaults["apply_url"] is None:
        defaults["apply_url"] = ""
    if defaults["max_amount_cny"] is not None:
        defaults["max_amount_cny"] = Decimal(str(defaults["max_amount_cny"]))
    defaults["needs"] = sorted(entry.get("needs", []))
    defaults["status"] = entry.get("status", Programme.Status.ACTIVE)
    return defaults


def _criterion_rows(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for c in entry.get("criteria", []):
        value = matching.clean_criterion_value(c["field"], c["operator"], c["value"])
        rows.append(
            {
                "field": c["field"],
                "operator": c["operator"],
                "value": value_to_json(value),
                "group": c.get("group", 1),
                "required": c.get("required", True),
                "basis": c.get("basis", matching.Basis.DOCUMENTED),
                "explanation_en": c.get("explanation_en", ""),
                "explanation_zh_hans": c.get("explanation_zh_hans", ""),
            }
        )
    return rows


def _source_rows(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "title": s["title"],
            "url": s.get("url", ""),
            "published_on": s.get("published_on"),
            "confidence": s.get("confidence", ""),
        }
        for s in entry.get("sources", [])
    ]


def _validate_catalogue(data: Mapping[str, Any]) -> None:
    problems: list[str] = []
    providers = data.get("providers", {})
    seen: set[str] = set()
    need_codes = set(matching.FIELDS["needs"].codes)
    for entry in data.get("programmes", []):
        slug = entry.get("slug", "?")
        if slug in seen:
            problems.append(f"{slug}: duplicate slug")
        seen.add(slug)
        if entry.get("provider") not in providers:
            problems.append(f"{slug}: unknown provider {entry.get('provider')!r}")
        if unknown := set(entry.get("needs", [])) - need_codes:
            problems.append(f"{slug}: unknown needs {sorted(unknown)}")
        for i, c in enumerate(entry.get("criteria", []), start=1):
            try:
                matching.clean_criterion_value(c["field"], c["operator"], c["value"])
            except matching.RuleError as error:
                problems.append(f"{slug}: criterion {i}: {error.errors}")
    if problems:
        raise CatalogueError(problems)


@transaction.atomic
def load_catalogue(*, path: Path = CATALOGUE_FILE) -> LoadReport:
    """Insert or update providers and programmes by slug; never duplicate.

    A programme whose content already matches the file is left untouched, so
    running this twice writes nothing (and adds no history) the second time.
    """
    with path.open("rb") as fp:
        data = tomllib.load(fp)
    _validate_catalogue(data)
    report = LoadReport(version=str(data.get("version", "")))

    providers = {}
    for slug, p in data.get("providers", {}).items():
        provider, _ = Provider.objects.get_or_create(
            slug=slug, defaults={"name_en": p["name_en"], "kind": p["kind"]}
        )
        wanted = {
            "name_en": p["name_en"],
            "name_zh_hans": p.get("name_zh_hans", ""),
            "kind": p["kind"],
        }
        if any(getattr(provider, k) != v for k, v in wanted.items()):
            for k, v in wanted.items():
                setattr(provider, k, v)
            provider.save()
        providers[slug] = provider

    existing = {row.slug: row for row in programme_queryset()}
    for entry in data.get("programmes", []):
        slug = entry["slug"]
        defaults = _programme_defaults(entry)
        criteria = _criterion_rows(entry)
        sources = _source_rows(entry)
        row = existing.get(slug)
        if row is None:
            row = Programme(
                slug=slug, provider=providers[entry["provider"]], **defaults
            )
            row.full_clean()
            row.save()
            report.created.append(slug)
        else:
            before = programme_rules(row).to_dict()
            candidate = build_programme(
                Programme(slug=slug, provider=providers[entry["provider"]], **defaults),
                [Criterion(**c) for c in criteria],
                [Source(**s) for s in sources],
            ).to_dict()
            if candidate == before:
                report.unchanged.append(slug)
                continue
            row.provider = providers[entry["provider"]]
            for k, v in defaults.items():
                setattr(row, k, v)
            row.full_clean()
            row.save()
            for old in list(row.criteria.all()):
                old.delete()
            for old in list(row.sources.all()):
                old.delete()
            report.updated.append(slug)
        # One by one, not bulk_create, so the history records every row.
        for c in criteria:
            Criterion.objects.create(programme=row, **c)
        for s in sources:
            Source.objects.create(programme=row, **s)
    return report


# --------------------------------------------------------------------------
# Recomputing stored results after the catalogue changes
# --------------------------------------------------------------------------


@dataclass
class RematchReport:
    catalogue_version: str
    changed: dict[str, dict[tuple[str, str], int]] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=dict)

    def total_changed(self) -> int:
        return sum(sum(moves.values()) for moves in self.changed.values())

    def total_created(self) -> int:
        return sum(self.created.values())


def _availability_expression(programme: matching.Programme, as_of_field: str):
    closed = Q(pk__isnull=False) if programme.withdrawn else Q(pk__isnull=True)
    if programme.closes_on is not None:
        closed |= Q(**{f"{as_of_field}__gt": programme.closes_on})
    not_yet = (
        Q(**{f"{as_of_field}__lt": programme.opens_on})
        if programme.opens_on
        else Q(pk__isnull=True)
    )
    return Case(
        When(closed, then=Value(matching.Availability.CLOSED.value)),
        When(not_yet, then=Value(matching.Availability.NOT_YET_OPEN.value)),
        default=Value(matching.Availability.OPEN.value),
    )


def rematch(
    *, slugs: Iterable[str] | None = None, as_of: datetime.date | None = None
) -> RematchReport:
    """Recompute stored results with the database filter path; report what changed.

    For each programme, one UPDATE ... FROM a join of its stored results with
    their profiles sets every result's outcome and near-miss flag from the
    profile's columns (one query before it counts the moves), and one
    INSERT ... SELECT adds results for profiles that have none for the
    programme (a new programme). No profile is loaded into Python. Ranks of
    existing results are left as they were told; new rows get rank 0.
    """
    from . import filters

    catalogue = current_catalogue()
    wanted = set(slugs) if slugs is not None else None
    today = as_of or timezone.localdate()
    report = RematchReport(catalogue.version)
    ids = dict(Programme.objects.values_list("slug", "pk"))
    for programme in catalogue.programmes:
        if wanted is not None and programme.slug not in wanted:
            continue
        pk = ids[programme.slug]
        table = StoredResult._meta.db_table
        # Each stored result of the programme beside its profile's new answer,
        # in one join: no correlated subquery per row.
        recomputed = (
            BusinessProfile.objects.filter(results__programme_id=pk)
            .order_by()
            .annotate(
                _result=F("results__id"),
                _old=F("results__outcome"),
                _outcome=filters.outcome_expression(programme),
                _near=filters.near_miss_expression(programme),
                _availability=_availability_expression(programme, "results__as_of"),
            )
            .values("_result", "_old", "_outcome", "_near", "_availability")
        )
        sql, params = recomputed.query.sql_with_params()
        with transaction.atomic(), connection.cursor() as cursor:
            # Composed from the ORM's own SQL; no user input is interpolated.
            cursor.execute(
                "SELECT sub._old, sub._outcome, COUNT(*) FROM"  # noqa: S608
                f" ({sql}) sub WHERE sub._old <> sub._outcome GROUP BY sub._old, sub._outcome",
                params,
            )
            report.changed[programme.slug] = {
                (old, new): n for old, new, n in cursor.fetchall()
            }
            cursor.execute(
                f"UPDATE {table} SET outcome = sub._outcome, near_miss = sub._near,"  # noqa: S608
                " availability = sub._availability, catalogue_version = %s,"
                f" computed_at = %s FROM ({sql}) sub WHERE {table}.id = sub._result",
                [catalogue.version, timezone.now(), *params],
            )
            missing = (
                BusinessProfile.objects.exclude(results__programme_id=pk)
                .annotate(_profile=F("pk"), _programme=Value(pk))
                .annotate(_outcome=filters.outcome_expression(programme))
                .annotate(_near=filters.near_miss_expression(programme))
                .annotate(_as_of=Coalesce("as_of", Value(today)))
                .annotate(_availability=_availability_expression(programme, "_as_of"))
                .values(
                    "_profile",
                    "_programme",
                    "_outcome",
                    "_near",
                    "_as_of",
                    "_availability",
                )
            )
            sql, params = missing.query.sql_with_params()
            cursor.execute(
                f"INSERT INTO {table} (profile_id, programme_id, outcome, near_miss, as_of,"  # noqa: S608
                " availability, score, rank, catalogue_version, computed_at)"
                " SELECT sub._profile, sub._programme, sub._outcome, sub._near, sub._as_of,"
                f" sub._availability, 0, 0, %s, %s FROM ({sql}) sub",
                [catalogue.version, timezone.now(), *params],
            )
            report.created[programme.slug] = cursor.rowcount
    return report


# --------------------------------------------------------------------------
# API keys and rate limiting
# --------------------------------------------------------------------------


def api_key_create(*, name: str, created_by=None) -> tuple[Any, str]:
    """Create an API key; return it and the key text, which is never stored."""
    prefix = secrets.token_hex(4)
    key = f"rm_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey.objects.create(
        name=name, prefix=prefix, key_hash=token_digest(key), created_by=created_by
    )
    return row, key


def api_key_check(key: str):
    """Return the active ApiKey for a presented key, or None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "rm" or not (8 <= len(key) <= 120):
        return None
    row = ApiKey.objects.filter(prefix=parts[1], revoked_at__isnull=True).first()
    if row is None or not hmac.compare_digest(row.key_hash, token_digest(key)):
        return None
    ApiKey.objects.filter(pk=row.pk).update(last_used_at=timezone.now())
    return row


def throttle_hit(*, key: str, limit: int, period: int) -> tuple[bool, int]:
    """Count one request for `key` in the current window; return (allowed, seconds left).

    One atomic upsert, the same SQL on PostgreSQL and SQLite (3.35+), so every
    web process shares one count without a separate cache server.
    """
    import time

    now = int(time.time())
    window = now - now % period
    q = connection.ops.quote_name  # "window" is a reserved word in PostgreSQL
    table, key_col, window_col, count_col = (
        q(ThrottleCount._meta.db_table),
        q("key"),
        q("window"),
        q("count"),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            # Identifiers only are interpolated; values are parameters.
            f"INSERT INTO {table} ({key_col}, {window_col}, {count_col}) VALUES (%s, %s, 1) "  # noqa: S608
            f"ON CONFLICT ({key_col}, {window_col}) DO UPDATE SET {count_col} = {table}.{count_col} + 1 "
            f"RETURNING {count_col}",
            [key[:120], window],
        )
        count = cursor.fetchone()[0]
        if (
            count == 1 and now % 97 == 0
        ):  # now and then, forget windows older than a day
            cursor.execute(
                f"DELETE FROM {table} WHERE {window_col} < %s", [now - 86400]
            )  # noqa: S608
    return count <= limit, window + period - now
