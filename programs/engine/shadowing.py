"""
Alternatives that decide nothing: criteria that no profile's tier depends on.

Definition
----------
A required criterion *c* in a group of alternatives *G* is **shadowed** when
every profile the contract admits gets the same tier from the programme
with *c* as without it. Then no edit of *c*'s value that leaves it shadowed
(raising a threshold, say) changes any outcome either: both versions give
every profile the tier of the programme without *c*.

Without *c*, *G* holds only where another alternative holds; so *c* decides
something only for a profile that meets *c* while the other alternatives
together are

* not met: the group turns from met into failed; or
* unknown: the group turns from met into open, which changes the tier
  unless the programme is at the provider's discretion (never better than
  possibly eligible, and an open group fails nothing, so neither the
  outcome nor a near miss moves).

So *c* is shadowed exactly when every admissible profile that meets *c*
meets another alternative of *G* (or, for a discretionary programme, meets
one or leaves one unknown).

How it is decided
-----------------
The admissible profiles are those the contract lets an owner give:
``contract.CONTRADICTIONS`` refuse some pairs of answers, and
``contract.IMPLICATIONS`` fill unanswered fields from others, as
``matching.facts_of`` does. Fields tied by either are examined together (a
*component*: export share with export markets, revenue with the VAT
status); criteria on fields of different components are independent, so
each other component contributes every group state its alternatives can
take. Within a component every combination of representative values is
tried: each vocabulary code and "not answered"; for a set, every subset of
up to as many codes as criteria test the field (enough to give those
criteria every combination of met and not met); for a number, every
threshold of the group's criteria and of the implications, the bounds,
values just beside each and between each two. Treating fields as free
where the contract knows a tie (a derived size class and the employees it
comes from) only adds profiles, so a criterion reported shadowed is
shadowed; one that is not reported may still be.

Spring Thunder's domestic arm is the worked case: "export share at least
10%" is an alternative of "has any export market". A share above 0 with
"I don't export" is refused; a share above 0 with markets not answered
leaves the markets open, which for a programme of Alibaba's own selection
is the same tier. So the share threshold, 10% or 30%, decides nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext

from programs.engine.contract import (
    CONTRADICTIONS,
    FIELDS,
    IMPLICATIONS,
    FieldKind,
    FieldSpec,
)
from programs.engine.matching import (
    IMPLICATION_TESTS,
    Criterion,
    Programme,
    evaluate,
    group_state,
)
from programs.engine.rules import State
from programs.engine.text import either

#: How far beside a threshold the values tried lie.
BESIDE = Decimal("0.001")


@dataclass(frozen=True)
class Shadowed:
    """A criterion that decides nothing, and the alternatives that decide instead."""

    criterion: Criterion
    deciding: tuple[Criterion, ...]

    def warning(self) -> str:
        """Return the warning in plain words, in the active language."""
        c = self.criterion
        return gettext(
            "The rule “%(rule)s” cannot change any outcome: in the same group, "
            "%(alternatives)s already decides it."
        ) % {
            "rule": c.operator.clause(c.spec, c.value),
            "alternatives": either(
                [f"“{d.operator.clause(d.spec, d.value)}”" for d in self.deciding]
            ),
        }


def shadowed_criteria(programme: Programme) -> tuple[Shadowed, ...]:
    """Return the programme's shadowed criteria (see the module docstring), in order."""
    found = []
    for _group, members in programme.rules.groups:
        if len(members) < 2:
            continue
        group = [programme.criteria[i] for i in members]
        for criterion in group:
            others = [c for c in group if c is not criterion]
            deciding = _deciding_alternatives(
                criterion, others, discretionary=bool(programme.discretionary)
            )
            if deciding:
                found.append(Shadowed(criterion, deciding))
    return tuple(found)


def _deciding_alternatives(
    criterion: Criterion, others: list[Criterion], *, discretionary: bool
) -> tuple[Criterion, ...]:
    """Return the alternatives that decide wherever the criterion is met, or ()
    when the criterion decides some admissible profile (or none meets it)."""
    own = component(criterion.field)
    inside = [c for c in others if c.field in own]
    # Each other component's alternatives: every group state they can take.
    outside: dict[frozenset[str], list[Criterion]] = {}
    for c in others:
        if c.field not in own:
            outside.setdefault(component(c.field), []).append(c)
    reachable = [
        {
            group_state(evaluate(c, facts) for c in members)
            for facts in _facts(fields, members)
        }
        for fields, members in outside.items()
    ]
    enough = {State.MET, State.UNKNOWN} if discretionary else {State.MET}
    met_somewhere = False
    deciding: list[Criterion] = []
    for facts in _facts(own, [criterion, *inside]):
        if evaluate(criterion, facts) is not State.MET:
            continue
        met_somewhere = True
        states = [evaluate(c, facts) for c in inside]
        for combination in itertools.product(*reachable):
            if group_state([*states, *combination]) not in enough:
                return ()
        deciding += [c for c, s in zip(inside, states, strict=True) if s is State.MET]
    if not met_somewhere:
        return ()
    # Name the alternatives met where the criterion is; failing those (a
    # discretionary programme's open alternatives), those tied to it.
    named = {id(c) for c in deciding or inside or others}
    return tuple(c for c in others if id(c) in named)


# -- the admissible profiles ------------------------------------------------------------


def _links() -> dict[str, set[str]]:
    """Return, per field, the fields the contract ties it to."""
    links: dict[str, set[str]] = {}
    pairs = [(i.field, i.when_field) for i in IMPLICATIONS] + [
        c.fields for c in CONTRADICTIONS
    ]
    for a, b in pairs:
        links.setdefault(a, set()).add(b)
        links.setdefault(b, set()).add(a)
    return links


LINKS = _links()


def component(field: str) -> frozenset[str]:
    """Return the field with every field tied to it, directly or not."""
    seen, todo = {field}, [field]
    while todo:
        for other in LINKS.get(todo.pop(), ()):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return frozenset(seen)


def _facts(
    fields: Iterable[str], criteria: list[Criterion]
) -> Iterator[Mapping[str, Any]]:
    """Yield the facts of every admissible combination of representative answers."""
    names = sorted(fields)
    for values in itertools.product(*(samples(FIELDS[n], criteria) for n in names)):
        answers = dict(zip(names, values, strict=True))
        if any(c.holds(answers) for c in CONTRADICTIONS):
            continue
        facts = dict(answers)
        for implication, test in IMPLICATION_TESTS:
            if facts.get(implication.field) is not None:
                continue
            when = facts.get(implication.when_field)
            if when is not None and test(when):
                facts[implication.field] = implication.value
        yield facts


def samples(spec: FieldSpec, criteria: list[Criterion]) -> list[Any]:
    """Return representative answers of a field for the given criteria (see above)."""
    values: list[Any] = [] if spec.required else [None]
    on_field = [c for c in criteria if c.field == spec.name]
    if spec.kind is FieldKind.CHOICE:
        return values + list(spec.codes)
    if spec.kind is FieldKind.BOOLEAN:
        return [*values, True, False]
    if spec.kind is FieldKind.MULTI:
        size = max(1, len(on_field))
        subsets = [
            frozenset(combo)
            for n in range(min(size, len(spec.codes)) + 1)
            for combo in itertools.combinations(spec.codes, n)
        ]
        return values + subsets + [frozenset(spec.codes)]
    if spec.kind in (FieldKind.INTEGER, FieldKind.DECIMAL):
        return values + _numbers(spec, on_field)
    return values


def _numbers(spec: FieldSpec, criteria: list[Criterion]) -> list[Decimal]:
    """Return numbers on, beside and between every threshold, within the bounds."""
    marks = {Decimal(0)}
    for c in criteria:
        value = c.value
        marks.update(value if isinstance(value, tuple) else (value,))
    for i in IMPLICATIONS:
        if i.when_field == spec.name and isinstance(i.when_value, Decimal):
            marks.add(i.when_value)
    for bound in (spec.minimum, spec.maximum):
        if bound is not None:
            marks.add(bound)
    ordered = sorted(marks)
    points = set(ordered)
    for mark in ordered:
        points.update((mark - BESIDE, mark + BESIDE))
    points.update((a + b) / 2 for a, b in itertools.pairwise(ordered))
    points.update((ordered[0] - 1, ordered[-1] + 1))
    return sorted(
        p
        for p in points
        if (spec.minimum is None or p >= spec.minimum)
        and (spec.maximum is None or p <= spec.maximum)
    )
