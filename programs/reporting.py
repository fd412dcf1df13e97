"""
Reads for the staff match report: filters, partner scoping, summaries.

Scoping and withholding happen here, in the query, so that every page and
every export format built on ``report_queryset`` gets the same rows and the
same withheld contacts:

* a partner (a user with a ``PartnerAccount``) sees only results of their
  provider's programmes;
* contact details come out only for businesses that consented to share them
  with providers; otherwise the columns are empty in the query itself.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, fields
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db.models import Case, CharField, Count, F, Q, QuerySet, Value, When

from . import matching
from .models import BusinessProfile, PartnerAccount, Programme, StoredResult

PERMISSION = "programs.view_match_report"
TIERS = ("eligible", "possibly_eligible", "near_miss", "not_eligible")


@dataclass(frozen=True)
class ReportFilters:
    programme: str | None = None  # slug
    provider: str | None = None  # slug
    tier: str | None = None
    near_miss: bool | None = None
    province: str | None = None
    business_type: str | None = None
    size_class: str | None = None
    urgency: str | None = None
    submitted_from: datetime.date | None = None
    submitted_to: datetime.date | None = None

    def as_query(self) -> dict[str, str]:
        """Return the filters as GET parameters (for links to exports)."""
        query = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            query[f.name] = (
                ("yes" if value else "no") if isinstance(value, bool) else str(value)
            )
        return query


def partner_provider_id(user) -> int | None:
    """Return the provider a partner is limited to, or None for other staff."""
    account = PartnerAccount.objects.filter(user_id=user.pk).only("provider_id").first()
    return account.provider_id if account else None


def check_access(user) -> None:
    if not (user.is_active and user.is_staff and user.has_perm(PERMISSION)):
        raise PermissionDenied


SHARED = Q(profile__share_contact_consented_at__isnull=False)


def _shared(field: str) -> Case:
    return Case(
        When(SHARED, then=F(f"profile__{field}")),
        default=Value(""),
        output_field=CharField(),
    )


def report_queryset(
    *, user, filters: ReportFilters = ReportFilters()
) -> QuerySet[StoredResult]:
    """Return the stored results this user may see, filtered, with withheld contacts."""
    check_access(user)
    qs = StoredResult.objects.all()
    if (provider_id := partner_provider_id(user)) is not None:
        qs = qs.filter(programme__provider_id=provider_id)
    if filters.programme:
        qs = qs.filter(programme__slug=filters.programme)
    if filters.provider:
        qs = qs.filter(programme__provider__slug=filters.provider)
    if filters.tier == "near_miss":
        qs = qs.filter(near_miss=True)
    elif filters.tier == "not_eligible":
        qs = qs.filter(outcome="not_eligible", near_miss=False)
    elif filters.tier:
        qs = qs.filter(outcome=filters.tier)
    if filters.near_miss is not None:
        qs = qs.filter(near_miss=filters.near_miss)
    for name in ("province", "business_type", "size_class", "urgency"):
        if (value := getattr(filters, name)) is not None:
            qs = qs.filter(**{f"profile__{name}": value})
    if filters.submitted_from:
        qs = qs.filter(profile__created_at__date__gte=filters.submitted_from)
    if filters.submitted_to:
        qs = qs.filter(profile__created_at__date__lte=filters.submitted_to)
    return qs.annotate(
        shared_email=_shared("email"),
        shared_name=_shared("contact_name"),
        shared_phone=_shared("contact_phone"),
    )


def tier_expression() -> Case:
    return Case(
        When(near_miss=True, then=Value("near_miss")),
        default=F("outcome"),
        output_field=CharField(),
    )


#: Runway bands of the chart, in months (upper bound inclusive).
RUNWAY_BANDS: tuple[tuple[str, Decimal | None, Decimal | None], ...] = (
    ("≤1", None, Decimal(1)),
    ("1–3", Decimal(1), Decimal(3)),
    ("3–6", Decimal(3), Decimal(6)),
    (">6", Decimal(6), None),
)
#: The 2020 survey (PKU ESIEC, 2,349 firms): 14% one month or less; about
#: half three months or less. No finer breakdown was published.
SURVEY_CUMULATIVE = {"one": 14, "three": 50}


@dataclass(frozen=True)
class Summary:
    rows: int
    profiles: int
    per_programme: list[tuple[str, str, dict[str, int]]]  # slug, name, tier counts
    per_province: list[tuple[str, str, int]]  # code, label, profiles
    per_urgency: list[tuple[str, str, int]]
    runway: list[tuple[str, int]]  # band label, profiles
    runway_unknown: int

    def runway_cumulative_pct(self) -> dict[str, float]:
        known = sum(n for _band, n in self.runway)
        if not known:
            return {"one": 0.0, "three": 0.0}
        counts = dict(self.runway)
        return {
            "one": 100 * counts["≤1"] / known,
            "three": 100 * (counts["≤1"] + counts["1–3"]) / known,
        }


def summary(queryset: QuerySet[StoredResult]) -> Summary:
    """Return the counts the report page and the PDF show, in a handful of queries."""
    names = {p.slug: str(p) for p in Programme.objects.all()}
    per_programme: dict[str, dict[str, int]] = {}
    for row in (
        queryset.order_by()
        .annotate(tier=tier_expression())
        .values("programme__slug", "tier")
        .annotate(n=Count("pk"))
    ):
        per_programme.setdefault(row["programme__slug"], dict.fromkeys(TIERS, 0))[
            row["tier"]
        ] = row["n"]

    profiles = BusinessProfile.objects.filter(
        pk__in=queryset.order_by().values("profile_id")
    )
    province_labels = dict(matching.PROVINCES)
    urgency_labels = dict(matching.URGENCIES)
    per_province = [
        (
            row["province"],
            str(province_labels.get(row["province"], row["province"])),
            row["n"],
        )
        for row in profiles.order_by()
        .values("province")
        .annotate(n=Count("pk"))
        .order_by("-n", "province")
    ]
    per_urgency = [
        (
            row["urgency"] or "unknown",
            str(urgency_labels.get(row["urgency"], "—")),
            row["n"],
        )
        for row in profiles.order_by()
        .values("urgency")
        .annotate(n=Count("pk"))
        .order_by("urgency")
    ]
    band_counts = {}
    for i, (_label, low, high) in enumerate(RUNWAY_BANDS):
        condition = Q(runway_months__isnull=False)
        if low is not None:
            condition &= Q(runway_months__gt=low)
        if high is not None:
            condition &= Q(runway_months__lte=high)
        band_counts[f"band{i}"] = Count("pk", filter=condition)
    aggregated = profiles.aggregate(
        total=Count("pk"),
        unknown=Count("pk", filter=Q(runway_months__isnull=True)),
        **band_counts,
    )
    return Summary(
        rows=queryset.count(),
        profiles=aggregated["total"],
        per_programme=sorted(
            (
                (slug, names.get(slug, slug), counts)
                for slug, counts in per_programme.items()
            ),
            key=lambda item: (-item[2]["eligible"], item[0]),
        ),
        per_province=per_province,
        per_urgency=per_urgency,
        runway=[
            (label, aggregated[f"band{i}"])
            for i, (label, _low, _high) in enumerate(RUNWAY_BANDS)
        ],
        runway_unknown=aggregated["unknown"],
    )
