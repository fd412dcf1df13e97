"""
Reads for the staff match report: filters, partner scoping, summaries.

Scoping and withholding happen here, in the query, so that every page and
every export format built on ``report_queryset`` gets the same rows and the
same withheld contacts:

* a partner (a user with a ``PartnerAccount``) sees only results of their
  provider's programmes;
* contact details come out only for businesses that consented to share them
  with providers; otherwise the columns are empty in the query itself.

Profiles deleted after the retention period (``manage.py
purge_stale_profiles``) leave only counts behind, in ``PurgedTally`` rows
written by ``tally_profiles``. ``summary`` adds them to the live counts when
given ``purged_counts``; row-level exports read ``report_queryset`` only, so
they hold live rows only.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, Protocol

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    F,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, TruncMonth
from django.utils.functional import Promise

from programs.engine import contract, matching
from programs.engine.matching import Tier, tier_of
from programs.models import (
    BusinessProfile,
    PartnerAccount,
    Programme,
    PurgedTally,
    StoredResult,
)

PERMISSION = "programs.view_match_report"
TIERS = tuple(tier.value for tier in Tier)
#: The submission dates the report filters on. No profile was submitted
#: outside them, and date arithmetic at the calendar's ends (9999-12-31 plus
#: a day) overflows in the counts of purged profiles, so the filter form refuses
#: others. (``export_matches`` only reads rows, which no date can overflow.)
SUBMITTED_RANGE = (datetime.date(2000, 1, 1), datetime.date(2099, 12, 31))


class StaffUser(Protocol):
    """What the report asks of a user: a request's user, or a command's stand-in."""

    @property
    def pk(self) -> Any: ...
    @property
    def is_active(self) -> bool: ...
    @property
    def is_staff(self) -> bool: ...
    def has_perm(self, perm: str, obj: Any = None) -> bool: ...


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


def partner_provider_id(user: StaffUser) -> int | None:
    """Return the provider a partner is limited to, or None for other staff."""
    account = PartnerAccount.objects.filter(user_id=user.pk).only("provider_id").first()
    return account.provider_id if account else None


def check_access(user: StaffUser) -> None:
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
    *, user: StaffUser, filters: ReportFilters = ReportFilters()
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
    #: The columns of ``per_programme``'s counts, in order.
    tiers: tuple[Tier, ...] = tuple(Tier)
    #: Of ``profiles``, those counted from the tallies of purged profiles.
    purged_profiles: int = 0
    #: True when the date filters cut through a month that has purged
    #: profiles: their counts are left out (tallies know the month only).
    purged_months_left_out: bool = False

    def runway_cumulative_pct(self) -> dict[str, float]:
        known = sum(n for _band, n in self.runway)
        if not known:
            return {"one": 0.0, "three": 0.0}
        counts = dict(self.runway)
        return {
            "one": 100 * counts["≤1"] / known,
            "three": 100 * (counts["≤1"] + counts["1–3"]) / known,
        }


def runway_band_expression(field: str = "runway_months") -> Case:
    """Return, in SQL, the index in RUNWAY_BANDS of a runway (NULL when unknown)."""
    whens = []
    for i, (_label, low, high) in enumerate(RUNWAY_BANDS):
        condition = Q(**{f"{field}__isnull": False})
        if low is not None:
            condition &= Q(**{f"{field}__gt": low})
        if high is not None:
            condition &= Q(**{f"{field}__lte": high})
        whens.append(When(condition, then=Value(i)))
    return Case(*whens, default=Value(None), output_field=IntegerField())


def summary(
    queryset: QuerySet[StoredResult], purged: PurgedCounts | None = None
) -> Summary:
    """Return the counts the report page and the PDF show, in a handful of queries.

    With ``purged`` (see ``purged_counts``), the counts of purged profiles
    that match the same filters are added to every figure.
    """
    names = {p.slug: str(p) for p in Programme.objects.all()}
    per_programme: dict[str, dict[str, int]] = {}

    def add_tier(slug: str, tier: str, n: int) -> None:
        per_programme.setdefault(slug, dict.fromkeys(TIERS, 0))[tier] += n

    for row in (
        queryset.order_by()
        .annotate(tier=tier_expression())
        .values("programme__slug", "tier")
        .annotate(n=Count("pk"))
    ):
        add_tier(row["programme__slug"], row["tier"], row["n"])

    profiles = BusinessProfile.objects.filter(
        pk__in=queryset.order_by().values("profile_id")
    )
    per_province: dict[str, int] = {}
    for row in profiles.order_by().values("province").annotate(n=Count("pk")):
        per_province[row["province"]] = row["n"]
    per_urgency: dict[str | None, int] = {}
    for row in profiles.order_by().values("urgency").annotate(n=Count("pk")):
        per_urgency[row["urgency"]] = row["n"]
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
    rows = queryset.count()
    purged_profiles = 0

    if purged is not None:
        for row in (
            purged.results.order_by()
            .values("programme__slug", "tiers")
            .annotate(n=Sum("profiles"))
        ):
            add_tier(row["programme__slug"], tier_of_bit(row["tiers"]), row["n"])
            rows += row["n"]
        tallies = purged.profiles.order_by()
        for row in tallies.values("province").annotate(n=Sum("profiles")):
            per_province[row["province"]] = (
                per_province.get(row["province"], 0) + row["n"]
            )
        for row in tallies.values("urgency").annotate(n=Sum("profiles")):
            per_urgency[row["urgency"]] = per_urgency.get(row["urgency"], 0) + row["n"]
        purged_bands = tallies.aggregate(
            total=Sum("profiles", default=0),
            unknown=Sum("profiles", filter=Q(runway_band__isnull=True), default=0),
            **{
                f"band{i}": Sum("profiles", filter=Q(runway_band=i), default=0)
                for i in range(len(RUNWAY_BANDS))
            },
        )
        for key, n in purged_bands.items():
            aggregated[key] += n
        purged_profiles = purged_bands["total"]

    province_labels = dict(contract.PROVINCES)
    urgency_labels: dict[str | None, Promise] = dict(contract.URGENCIES)
    urgency_order = [code for code, _label in contract.URGENCIES]
    return Summary(
        rows=rows,
        profiles=aggregated["total"],
        per_programme=sorted(
            (
                (slug, names.get(slug, slug), counts)
                for slug, counts in per_programme.items()
            ),
            key=lambda item: (-item[2]["eligible"], item[0]),
        ),
        per_province=[
            (code, str(province_labels.get(code, code)), n)
            for code, n in sorted(per_province.items(), key=lambda c: (-c[1], c[0]))
        ],
        per_urgency=[
            (code or "unknown", str(urgency_labels.get(code, "—")), n)
            for code, n in sorted(
                per_urgency.items(),
                key=lambda c: (
                    urgency_order.index(c[0])
                    if c[0] in urgency_order
                    else len(urgency_order)
                ),
            )
        ],
        runway=[
            (label, aggregated[f"band{i}"])
            for i, (label, _low, _high) in enumerate(RUNWAY_BANDS)
        ],
        runway_unknown=aggregated["unknown"],
        purged_profiles=purged_profiles,
        purged_months_left_out=purged is not None and purged.months_left_out,
    )


# -- profiles purged after the retention period -----------------------------------

#: The classes a stored result falls in, as (outcome, near miss); bit i of a
#: tally's ``tiers`` stands for TIER_CLASSES[i].
TIER_CLASSES: tuple[tuple[str, bool], ...] = tuple(
    (outcome.value, near_miss)
    for outcome in matching.Outcome
    for near_miss in (False, True)
)
ALL_TIER_CLASSES = (1 << len(TIER_CLASSES)) - 1


def tier_of_bit(bit: int) -> str:
    """Return the report tier (a key of TIERS) of one TIER_CLASSES bit."""
    outcome, near_miss = TIER_CLASSES[bit.bit_length() - 1]
    return tier_of(outcome, near_miss)


def tier_bit_expression() -> Case:
    """Return, in SQL, the TIER_CLASSES bit of a stored result."""
    return Case(
        *(
            When(outcome=outcome, near_miss=near_miss, then=Value(1 << i))
            for i, (outcome, near_miss) in enumerate(TIER_CLASSES)
        ),
        default=Value(0),
        output_field=IntegerField(),
    )


def tier_mask(filters: ReportFilters) -> int:
    """Return the TIER_CLASSES bits that the tier and near-miss filters let through.

    Mirrors the tier filters of ``report_queryset`` exactly.
    """

    def passes(outcome: str, near_miss: bool) -> bool:
        if filters.tier == "near_miss":
            ok = near_miss
        elif filters.tier == "not_eligible":
            ok = outcome == "not_eligible" and not near_miss
        elif filters.tier:
            ok = outcome == filters.tier
        else:
            ok = True
        return ok and (filters.near_miss is None or near_miss == filters.near_miss)

    return sum(1 << i for i, (o, n) in enumerate(TIER_CLASSES) if passes(o, n))


def _first_of_next_month(day: datetime.date) -> datetime.date:
    return (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


@dataclass(frozen=True)
class PurgedCounts:
    """The tallies of purged profiles that match a report's filters and scope."""

    #: Tallies counting one per stored result (programme rows).
    results: QuerySet[PurgedTally]
    #: Tallies counting each profile once, for profile counts and breakdowns.
    profiles: QuerySet[PurgedTally]
    #: The date filters cut through a month holding tallies, which is left out.
    months_left_out: bool


def purged_counts(
    *, user: StaffUser, filters: ReportFilters = ReportFilters()
) -> PurgedCounts:
    """Return the tallies of purged profiles that ``summary`` adds for these filters.

    Every filter of the report applies to the tallies exactly as it applies
    to live rows, with one exception: dates. Tallies know the month a profile
    was submitted, not the day, so with ``submitted_from``/``submitted_to``
    only months lying wholly inside the range count; a month the range cuts
    through is left out and ``months_left_out`` says so (the page tells the
    reader). Partner scoping follows the programme's current provider for
    result counts and the provider at purge time for profile counts.

    Profile counts are distinct businesses, as on live rows: with a
    programme filter they come from the programme rows (one result per
    programme and profile); with a provider filter or a partner's scope,
    from the per-provider rows; otherwise from the per-profile rows. The
    tier and near-miss filters keep a profile when any of its results in
    scope passes, as ``report_queryset`` does.
    """
    check_access(user)
    tallies = PurgedTally.objects.all()
    for name in ("province", "business_type", "size_class", "urgency"):
        if (value := getattr(filters, name)) is not None:
            tallies = tallies.filter(**{name: value})
    if (mask := tier_mask(filters)) != ALL_TIER_CLASSES:
        tallies = tallies.alias(passing=F("tiers").bitand(mask)).filter(passing__gt=0)
    cut_months = []
    if (start := filters.submitted_from) is not None:
        first = start if start.day == 1 else _first_of_next_month(start)
        tallies = tallies.filter(month__gte=first)
        if start.day != 1:
            cut_months.append(start.replace(day=1))
    if (end := filters.submitted_to) is not None:
        after = _first_of_next_month(end)
        tallies = tallies.filter(month__lt=after)
        if after != end + datetime.timedelta(days=1):
            cut_months.append(end.replace(day=1))

    provider_id = partner_provider_id(user)
    results = tallies.filter(programme__isnull=False)
    if provider_id is not None:
        results = results.filter(programme__provider_id=provider_id)
    if filters.programme:
        results = results.filter(programme__slug=filters.programme)
    if filters.provider:
        results = results.filter(programme__provider__slug=filters.provider)

    if filters.programme:
        profiles = results
    elif provider_id is not None or filters.provider:
        profiles = tallies.filter(programme__isnull=True, provider__isnull=False)
        if provider_id is not None:
            profiles = profiles.filter(provider_id=provider_id)
        if filters.provider:
            profiles = profiles.filter(provider__slug=filters.provider)
    else:
        profiles = tallies.filter(programme__isnull=True, provider__isnull=True)

    months_left_out = bool(cut_months) and (
        PurgedTally.objects.filter(month__in=cut_months).exists()
    )
    return PurgedCounts(
        results=results, profiles=profiles, months_left_out=months_left_out
    )


#: PurgedTally columns and the aliases ``tally_profiles``' queries give them.
_TALLY_COLUMNS = {
    "month": "t_month",
    "provider_id": "t_provider",
    "programme_id": "t_programme",
    "tiers": "t_tiers",
    "province": "t_province",
    "business_type": "t_business_type",
    "size_class": "t_size_class",
    "urgency": "t_urgency",
    "runway_band": "t_runway_band",
}


def _insert_tallies(counted: QuerySet, present: Sequence[str]) -> int:
    """Insert one PurgedTally per group of ``counted``'s rows; return how many.

    ``counted`` yields one row per thing to count, with the aliases of
    _TALLY_COLUMNS; columns whose alias is not in ``present`` are NULL. One
    INSERT ... SELECT ... GROUP BY: no row comes into Python.
    """
    sql, params = counted.query.sql_with_params()
    quote = connection.ops.quote_name
    selected = [f"t.{a}" if a in present else "NULL" for a in _TALLY_COLUMNS.values()]
    grouped = [f"t.{a}" for a in _TALLY_COLUMNS.values() if a in present]
    with connection.cursor() as cursor:
        cursor.execute(
            # Composed from the ORM's own SQL and fixed identifiers; values are parameters.
            f"INSERT INTO {quote(PurgedTally._meta.db_table)}"  # noqa: S608
            f" ({', '.join(quote(c) for c in _TALLY_COLUMNS)}, {quote('profiles')})"
            f" SELECT {', '.join(selected)}, COUNT(*) FROM ({sql}) t"
            f" GROUP BY {', '.join(grouped)}",
            params,
        )
        return cursor.rowcount


def tally_profiles(profile_ids: Sequence[int]) -> int:
    """Add the report's counts of these profiles to PurgedTally; return the rows added.

    Call it in the transaction that deletes the profiles, before deleting
    them. Three INSERT ... SELECT statements (see PurgedTally for the kinds
    of row); profiles without stored results leave nothing, as they are
    absent from the report too.
    """
    results = StoredResult.objects.filter(profile_id__in=profile_ids).order_by()
    dims = {
        "t_month": Cast(
            TruncMonth("profile__created_at", output_field=DateField()), DateField()
        ),
        "t_province": F("profile__province"),
        "t_business_type": F("profile__business_type"),
        "t_size_class": F("profile__size_class"),
        "t_urgency": F("profile__urgency"),
        "t_runway_band": runway_band_expression("profile__runway_months"),
    }
    per_result = results.values(
        **dims,
        t_provider=F("programme__provider_id"),
        t_programme=F("programme_id"),
        t_tiers=tier_bit_expression(),
    )
    per_provider = results.values(
        **dims, t_profile=F("profile_id"), t_provider=F("programme__provider_id")
    ).annotate(t_tiers=Sum(tier_bit_expression(), distinct=True))
    per_profile = results.values(**dims, t_profile=F("profile_id")).annotate(
        t_tiers=Sum(tier_bit_expression(), distinct=True)
    )
    profile_columns = [*dims, "t_tiers"]
    return (
        _insert_tallies(per_result, [*profile_columns, "t_provider", "t_programme"])
        + _insert_tallies(per_provider, [*profile_columns, "t_provider"])
        + _insert_tallies(per_profile, profile_columns)
    )
