"""
The matcher's criteria compiled to database filters over stored profiles.

Each criterion becomes two conditions that never overlap: *met* and *not
met*; a NULL column (not answered) satisfies neither, which is exactly the
matcher's *unknown*. No condition is ever negated, so SQL's three-valued
logic cannot turn "unknown" into "not met".

* eligible  = every required group has a met criterion (and no discretion);
* failed    = some required group has all its criteria not met;
* possibly  = neither (eligible and failed cannot both hold).

``tests/test_filters.py`` proves, with generated profiles and criteria, that
these filters select exactly the profiles the matcher puts in each outcome.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import reduce
from operator import and_, or_
from typing import Any

from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.db.models.lookups import Exact, GreaterThan, In

from . import matching
from .services import MASKED_FIELDS, mask_of

#: criterion field -> BusinessProfile column
COLUMNS: dict[str, str] = {
    **{name: name for name in matching.CRITERION_FIELDS},
    **{name: f"{name}_mask" for name in MASKED_FIELDS},
    "cash_runway_months": "runway_months",
}

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


def criterion_conditions(criterion: matching.Criterion) -> tuple[Q, Q]:
    """Return (met, not met) conditions for one criterion."""
    column = COLUMNS[criterion.field]
    op, value = criterion.operator, criterion.value
    spec = criterion.spec
    Op = matching.Operator
    if op is Op.CONTAINS_ANY:
        bits = mask_of(value, MASKED_FIELDS[criterion.field])
        overlap = F(column).bitand(bits)
        return Q(GreaterThan(overlap, 0)), Q(Exact(overlap, 0))
    if op is Op.EQUALS:
        others = [code for code in spec.codes if code != value]
        return Q(**{column: value}), Q(**{f"{column}__in": others})
    if op in (Op.ONE_OF, Op.NOT_ONE_OF):
        inside = list(value)
        outside = [code for code in spec.codes if code not in value]
        met, not_met = (inside, outside) if op is Op.ONE_OF else (outside, inside)
        return Q(**{f"{column}__in": met}), Q(**{f"{column}__in": not_met})
    if op is Op.GTE:
        return Q(**{f"{column}__gte": value}), Q(**{f"{column}__lt": value})
    if op is Op.LTE:
        return Q(**{f"{column}__lte": value}), Q(**{f"{column}__gt": value})
    if op is Op.BETWEEN:
        low, high = value
        return (
            Q(**{f"{column}__gte": low, f"{column}__lte": high}),
            Q(**{f"{column}__lt": low}) | Q(**{f"{column}__gt": high}),
        )
    if op is Op.IS:
        return Q(**{column: value}), Q(**{column: not value})
    raise ValueError(f"No database filter for operator {op!r}")


def _groups(programme: matching.Programme) -> dict[int, list[matching.Criterion]]:
    groups: dict[int, list[matching.Criterion]] = {}
    for criterion in programme.criteria:
        if criterion.required:
            groups.setdefault(criterion.group, []).append(criterion)
    return groups


def group_conditions(programme: matching.Programme) -> list[tuple[Q, Q]]:
    """Return (met, failed) conditions per required group."""
    result = []
    for criteria in _groups(programme).values():
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
    """Return the number of failing groups; 1 means a near miss."""
    terms = [
        Case(When(failed, then=Value(1)), default=Value(0), output_field=IntegerField())
        for _, failed in group_conditions(programme)
    ]
    return reduce(lambda a, b: a + b, terms, Value(0, output_field=IntegerField()))


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
    queryset: QuerySet, programme: matching.Programme, outcome: matching.Outcome
) -> QuerySet:
    """Return the stored profiles with that outcome for the programme: one query."""
    if outcome is matching.Outcome.ELIGIBLE:
        return queryset.filter(eligible_q(programme))
    if outcome is matching.Outcome.NOT_ELIGIBLE:
        return queryset.filter(failed_q(programme))
    return queryset.alias(_outcome=outcome_expression(programme)).filter(
        _outcome=outcome.value
    )


class NotIn(In):
    """``column NOT IN (...)``: NULL for a NULL column, as SQL's IN is."""

    lookup_name = "not_in_list"

    def get_rhs_op(self, connection, rhs):
        return f"NOT IN {rhs}"


def criterion_state(criterion: matching.Criterion) -> Q:
    """Return a condition SQL evaluates to TRUE (met), FALSE (not met) or NULL (unknown).

    SQL's three-valued logic is the matcher's: a comparison with a NULL
    column (not answered) is NULL, OR of a group is TRUE when any criterion
    is met, FALSE when all are not met and NULL otherwise, and AND of the
    groups likewise gives eligible, not eligible or possibly eligible.
    """
    column = COLUMNS[criterion.field]
    op, value = criterion.operator, criterion.value
    Op = matching.Operator
    if op is Op.CONTAINS_ANY:
        bits = mask_of(value, MASKED_FIELDS[criterion.field])
        return Q(GreaterThan(F(column).bitand(bits), 0))
    if op in (Op.EQUALS, Op.IS):
        return Q(**{column: value})
    if op is Op.ONE_OF:
        return Q(**{f"{column}__in": list(value)})
    if op is Op.NOT_ONE_OF:
        return Q(NotIn(F(column), list(value)))
    if op is Op.GTE:
        return Q(**{f"{column}__gte": value})
    if op is Op.LTE:
        return Q(**{f"{column}__lte": value})
    if op is Op.BETWEEN:
        low, high = value
        return Q(**{f"{column}__gte": low}) & Q(**{f"{column}__lte": high})
    raise ValueError(f"No database condition for operator {op!r}")


#: In a programme's state code, each failing group adds FAILED and each
#: unknown group adds UNKNOWN (a programme has fewer than 1,000 groups).
FAILED, UNKNOWN = 1000, 1


def state_code(programme: matching.Programme) -> Any:
    """Return an integer expression: 0 all groups met, 1000 x failing + unknown groups.

    Each group's condition appears once, so the database evaluates each
    criterion once per profile however the code is used afterwards.
    """
    terms = []
    for criteria in _groups(programme).values():
        group = ExpressionWrapper(
            _any_of(criterion_state(c) for c in criteria), output_field=BooleanField()
        )
        failed = (Value(1) - Cast(group, IntegerField())) * Value(FAILED)
        terms.append(Coalesce(failed, Value(UNKNOWN)))
    return reduce(lambda a, b: a + b, terms, Value(0, output_field=IntegerField()))


def _any_of(conditions: Iterable[Q]) -> Q:
    return reduce(or_, conditions)


def outcome_counts(
    queryset: QuerySet, programmes: Iterable[matching.Programme]
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
    inner = queryset.order_by().annotate(**codes).values(*codes)
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
    queryset: QuerySet, before: matching.Programme, after: matching.Programme
) -> dict[tuple[str, str], int]:
    """Return {(outcome before, outcome after): count} over stored profiles, in one query."""
    rows = (
        queryset.annotate(
            _before=outcome_expression(before), _after=outcome_expression(after)
        )
        .values("_before", "_after")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {(row["_before"], row["_after"]): row["n"] for row in rows}
