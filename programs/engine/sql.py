"""
The engine's rules as SQL over stored profiles, and recomputing stored results.

Each criterion's condition comes from its operator's own ``sql()`` (the rule
language): a condition SQL evaluates to TRUE (met), FALSE (not met) or NULL
(unknown: the column is NULL, not answered). Everything here is derived from
that one condition:

* *met*      = the condition (NULL selects nothing);
* *not met*  = the column is answered AND NOT the condition;
* eligible   = every required group has a met criterion (and no discretion);
* failed     = some required group has all its criteria not met;
* possibly   = neither (eligible and failed cannot both hold);
* the state code of ``outcome_counts`` uses SQL's three-valued logic as is.

``tests/engine/test_sql.py`` proves, with generated profiles and criteria,
that these conditions select exactly the profiles the matcher puts in each
outcome.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import reduce
from operator import and_, or_
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    Field,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.db.models.lookups import Exact
from django.utils import timezone

from programs.catalogue.store import current_catalogue
from programs.engine import matching
from programs.engine.contract import (
    FIELDS,
    IMPLIED_FIELDS,
    MASKED_FIELDS,
    criterion_column,
    mask_of,
)
from programs.engine.rules import operator
from programs.models import BusinessProfile, Programme, RecomputedRules, StoredResult

NEVER = Q(pk__isnull=True)
ALWAYS = Q(pk__isnull=False)


def _any(conditions: Iterable[Q]) -> Q:
    """OR of the conditions; NEVER when there are none (no always-false term otherwise)."""
    conditions = list(conditions)
    return reduce(or_, conditions) if conditions else NEVER


def _all(conditions: Iterable[Q]) -> Q:
    """AND of the conditions; ALWAYS when there are none (no always-true term otherwise)."""
    conditions = list(conditions)
    return reduce(and_, conditions) if conditions else ALWAYS


# -- implied answers --------------------------------------------------------------


def fact_column(name: str) -> str:
    """Return what criteria on a field test: the stored column, or its fact alias."""
    column = criterion_column(name)
    return f"{column}_fact" if name in IMPLIED_FIELDS else column


def stored_value(name: str, value: Any) -> Any:
    """Return a fact's value as its column stores it (sets as bit masks)."""
    return mask_of(value, name) if name in MASKED_FIELDS else value


def fact_expressions() -> dict[str, Any]:
    """Return, per implied field, its stored answer or else the implied one (SQL).

    Built from ``contract.IMPLICATIONS``, as the matcher's ``facts_of`` is, so
    both paths fill the same unanswered fields with the same values.
    """
    expressions = {}
    for name, implications in IMPLIED_FIELDS.items():
        column = criterion_column(name)
        output = BusinessProfile._meta.get_field(column)
        assert isinstance(output, Field)  # a concrete column, not a relation
        expressions[fact_column(name)] = Case(
            *(
                When(
                    Q(**{f"{column}__isnull": True})
                    & operator(i.when_operator).sql(
                        criterion_column(i.when_field),
                        i.when_value,
                        FIELDS[i.when_field],
                    ),
                    then=Value(stored_value(name, i.value), output_field=output),
                )
                for i in implications
            ),
            default=F(column),
            output_field=output,
        )
    return expressions


def with_facts(queryset: QuerySet[BusinessProfile]) -> QuerySet[BusinessProfile]:
    """Return the queryset with the implied facts every criterion condition may test."""
    return queryset.alias(**fact_expressions())


def criterion_state(criterion: matching.Criterion) -> Q:
    """Return a condition SQL evaluates to TRUE (met), FALSE (not met) or NULL (unknown).

    SQL's three-valued logic is the matcher's: a comparison with a NULL
    column (not answered) is NULL, OR of a group is TRUE when any criterion
    is met, FALSE when all are not met and NULL otherwise, and AND of the
    groups likewise gives eligible, not eligible or possibly eligible.
    """
    column = fact_column(criterion.field)
    return criterion.operator.sql(column, criterion.value, criterion.spec)


def criterion_conditions(criterion: matching.Criterion) -> tuple[Q, Q]:
    """Return (met, not met) conditions for one criterion; neither holds when unknown."""
    met = criterion_state(criterion)
    answered = Q(**{f"{fact_column(criterion.field)}__isnull": False})
    return met, answered & ~met


def _groups(programme: matching.Programme) -> list[list[matching.Criterion]]:
    """Return the criteria of each required group, in group order."""
    criteria = programme.criteria
    return [
        [criteria[i] for i in members]
        for _group, members in matching.required_groups(criteria)
    ]


def _actionable(programme: matching.Programme) -> list[bool]:
    """Return, per required group in group order, whether the owner can act on it."""
    rules = programme.rules
    return [group in rules.actionable for group, _members in rules.groups]


def group_conditions(programme: matching.Programme) -> list[tuple[Q, Q]]:
    """Return (met, failed) conditions per required group."""
    result = []
    for criteria in _groups(programme):
        pairs = [criterion_conditions(c) for c in criteria]
        result.append(
            (_any(met for met, _ in pairs), _all(not_met for _, not_met in pairs))
        )
    return result


def eligible_q(programme: matching.Programme) -> Q:
    if programme.discretionary:
        return NEVER
    return _all(met for met, _ in group_conditions(programme))


def failed_q(programme: matching.Programme) -> Q:
    return _any(failed for _, failed in group_conditions(programme))


def outcome_expression(programme: matching.Programme) -> Case:
    """Return a CASE giving each stored profile's outcome for the programme."""
    return Case(
        When(failed_q(programme), then=Value(matching.Outcome.NOT_ELIGIBLE.value)),
        When(eligible_q(programme), then=Value(matching.Outcome.ELIGIBLE.value)),
        default=Value(matching.Outcome.POSSIBLY_ELIGIBLE.value),
    )


def failing_groups_expression(programme: matching.Programme) -> Any:
    """Return the failing groups counted 1 when actionable, 2 when not; 1 is a near miss."""
    terms = [
        Case(
            When(failed, then=Value(1 if actionable else 2)),
            default=Value(0),
            output_field=IntegerField(),
        )
        for (_, failed), actionable in zip(
            group_conditions(programme), _actionable(programme), strict=True
        )
    ]
    return _sum(terms)


def _sum(terms: Iterable[Any]) -> Any:
    """Return the SQL sum of integer expressions (0 when there are none)."""
    total: Any = Value(0, output_field=IntegerField())
    for term in terms:
        total = total + term
    return total


def near_miss_expression(programme: matching.Programme) -> Case:
    """Return a boolean: exactly one required group fails."""
    return Case(
        When(
            Q(
                Exact(
                    failing_groups_expression(programme),
                    Value(1, output_field=IntegerField()),
                )
            ),
            then=Value(True),
        ),
        default=Value(False),
        output_field=BooleanField(),
    )


def matching_profiles(
    queryset: QuerySet[BusinessProfile],
    programme: matching.Programme,
    outcome: matching.Outcome,
) -> QuerySet[BusinessProfile]:
    """Return the stored profiles with that outcome for the programme: one query."""
    if outcome is matching.Outcome.ELIGIBLE:
        return with_facts(queryset).filter(eligible_q(programme))
    if outcome is matching.Outcome.NOT_ELIGIBLE:
        return with_facts(queryset).filter(failed_q(programme))
    return (
        with_facts(queryset)
        .alias(_outcome=outcome_expression(programme))
        .filter(_outcome=outcome.value)
    )


#: In a programme's state code, each failing group the owner can act on adds
#: FAILED, each other failing group FIXED, and each unknown group UNKNOWN (a
#: programme has fewer than 1,000 groups). So a code from FAILED up to 2 x
#: FAILED is a near miss: one actionable failing group and nothing else failed.
FAILED, UNKNOWN = 1000, 1
FIXED = FAILED * FAILED


def state_code(programme: matching.Programme) -> Any:
    """Return an integer expression: 0 when all groups are met, else the sum above.

    Each group's condition appears once, so the database evaluates each
    criterion once per profile however the code is used afterwards.
    """
    terms = []
    for criteria, actionable in zip(
        _groups(programme), _actionable(programme), strict=True
    ):
        group = ExpressionWrapper(
            _any(criterion_state(c) for c in criteria), output_field=BooleanField()
        )
        weight = FAILED if actionable else FIXED
        failed = (Value(1) - Cast(group, IntegerField())) * Value(weight)
        terms.append(Coalesce(failed, Value(UNKNOWN)))
    return _sum(terms)


def outcome_counts(
    queryset: QuerySet[BusinessProfile], programmes: Iterable[matching.Programme]
) -> dict[str, dict[str, int]]:
    """Return {slug: {outcome: count, "near_miss": count}} for every programme in one query.

    An inner SELECT computes each programme's ``state_code`` once per
    profile; the outer one counts codes. On PostgreSQL ``OFFSET 0`` keeps
    the planner from folding the inner SELECT into the outer one, which
    would evaluate every code once per count that reads it.
    """
    programmes = list(programmes)
    codes = {f"s{i}": state_code(p) for i, p in enumerate(programmes)}
    if not codes:
        return {}
    inner = with_facts(queryset).order_by().annotate(**codes).values(*codes)
    sql, params = inner.query.sql_with_params()
    fence = " OFFSET 0" if connection.vendor == "postgresql" else ""
    counts = ["COUNT(*)"]
    for name in codes:
        counts += [
            f"SUM(CASE WHEN sub.{name} = 0 THEN 1 ELSE 0 END)",
            f"SUM(CASE WHEN sub.{name} >= {FAILED} THEN 1 ELSE 0 END)",
            f"SUM(CASE WHEN sub.{name} >= {FAILED} AND sub.{name} < {2 * FAILED} THEN 1 ELSE 0 END)",
        ]
    with connection.cursor() as cursor:
        # Composed from the ORM's own SQL and integer constants; nothing typed by a user.
        cursor.execute(
            f"SELECT {', '.join(counts)} FROM ({sql}{fence}) sub",  # noqa: S608
            params,
        )
        row = cursor.fetchone()
    total = row[0]
    result = {}
    for i, programme in enumerate(programmes):
        all_met, failed, near_miss = (n or 0 for n in row[1 + 3 * i : 4 + 3 * i])
        eligible = 0 if programme.discretionary else all_met
        result[programme.slug] = {
            matching.Outcome.ELIGIBLE.value: eligible,
            matching.Outcome.POSSIBLY_ELIGIBLE.value: total - eligible - failed,
            matching.Outcome.NOT_ELIGIBLE.value: failed,
            "near_miss": near_miss,
        }
    return result


def transition_counts(
    queryset: QuerySet[BusinessProfile],
    before: matching.Programme,
    after: matching.Programme,
) -> dict[tuple[str, str], int]:
    """Return {(outcome before, outcome after): count} over stored profiles, in one query."""
    rows = (
        with_facts(queryset)
        .annotate(_before=outcome_expression(before), _after=outcome_expression(after))
        .values("_before", "_after")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {(row["_before"], row["_after"]): row["n"] for row in rows}


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

    Each programme's results are recomputed by ``rematch_programme`` over
    every stored profile, one transaction per programme.
    """
    catalogue = current_catalogue()
    wanted = set(slugs) if slugs is not None else None
    report = RematchReport(catalogue.version)
    ids = dict(Programme.objects.values_list("slug", "pk"))
    for programme in catalogue.programmes:
        if wanted is not None and programme.slug not in wanted:
            continue
        moves, created = rematch_programme(
            programme,
            programme_id=ids[programme.slug],
            catalogue_version=catalogue.version,
            profiles=BusinessProfile.objects.all(),
            as_of=as_of,
        )
        report.changed[programme.slug] = moves
        report.created[programme.slug] = created
        # Every stored result of the programme now follows these rules.
        RecomputedRules.record(
            ids[programme.slug], matching.catalogue_version([programme])
        )
    return report


def rematch_programme(
    programme: matching.Programme,
    *,
    programme_id: int,
    catalogue_version: str,
    profiles: QuerySet[BusinessProfile],
    as_of: datetime.date | None = None,
) -> tuple[dict[tuple[str, str], int], int]:
    """Recompute one programme's stored results of the given profiles, in one transaction.

    Return the moves ({(outcome before, outcome after): count}) and how many
    results were added. One UPDATE ... FROM a join of the programme's stored
    results with their profiles sets every result's outcome and near-miss
    flag from the profile's columns (one query before it counts the moves),
    and one INSERT ... SELECT adds results for profiles that have none for
    the programme (a new programme). No profile is loaded into Python. Ranks
    of existing results are left as they were told; new rows get rank 0.
    ``profiles`` narrows the work (a background job passes ranges of ids).
    """
    today = as_of or timezone.localdate()
    pk = programme_id
    table = StoredResult._meta.db_table
    # Each stored result of the programme beside its profile's new answer,
    # in one join: no correlated subquery per row.
    recomputed = (
        with_facts(profiles.filter(results__programme_id=pk))
        .order_by()
        .annotate(
            _result=F("results__id"),
            _old=F("results__outcome"),
            _outcome=outcome_expression(programme),
            _near=near_miss_expression(programme),
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
        moves = {(old, new): n for old, new, n in cursor.fetchall()}
        cursor.execute(
            f"UPDATE {table} SET outcome = sub._outcome, near_miss = sub._near,"  # noqa: S608
            " availability = sub._availability, catalogue_version = %s,"
            f" computed_at = %s FROM ({sql}) sub WHERE {table}.id = sub._result",
            [catalogue_version, timezone.now(), *params],
        )
        missing = (
            with_facts(profiles.exclude(results__programme_id=pk))
            .annotate(_profile=F("pk"), _programme=Value(pk))
            .annotate(_outcome=outcome_expression(programme))
            .annotate(_near=near_miss_expression(programme))
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
            [catalogue_version, timezone.now(), *params],
        )
        created = cursor.rowcount
    return moves, created
