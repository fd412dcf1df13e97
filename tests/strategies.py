"""Hypothesis strategies for random profiles and random rules of the contract."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import assume
from hypothesis import strategies as st

from programs.engine import contract, matching, rules
from programs.engine.contract import FIELDS, FieldKind
from programs.engine.text import Text

# Values a rule and a profile both draw from, so boundaries are hit often.
LANDMARKS = [
    Decimal(v) for v in ("0", "0.5", "1", "3", "6", "10", "50", "100", "1000000")
]


def decimals_for(spec):
    low = spec.minimum if spec.minimum is not None else Decimal(0)
    high = spec.maximum if spec.maximum is not None else Decimal(10**9)
    landmarks = [v for v in LANDMARKS if low <= v <= high] + [low, high]
    if spec.kind is FieldKind.INTEGER:
        return st.one_of(
            st.sampled_from([int(v) for v in landmarks if v == v.to_integral_value()]),
            st.integers(min_value=int(low), max_value=int(high)),
        )
    return st.one_of(
        st.sampled_from(landmarks),
        st.decimals(
            min_value=low,
            max_value=high,
            places=2,
            allow_nan=False,
            allow_infinity=False,
        ),
    )


def answer_for(name):
    spec = FIELDS[name]
    if spec.kind is FieldKind.CHOICE:
        return st.sampled_from(spec.codes)
    if spec.kind is FieldKind.MULTI:
        return st.frozensets(st.sampled_from(spec.codes), max_size=4)
    if spec.kind is FieldKind.BOOLEAN:
        return st.booleans()
    if spec.kind is FieldKind.TEXT:
        return st.sampled_from(["", "Wuhan", "武汉"])
    return decimals_for(spec)


@st.composite
def profiles(draw):
    values = {
        "business_type": draw(answer_for("business_type")),
        "province": draw(answer_for("province")),
        "needs": draw(
            st.frozensets(
                st.sampled_from(FIELDS["needs"].codes), min_size=1, max_size=4
            )
        ),
    }
    for name in contract.PROFILE_FIELDS:
        if name in values:
            continue
        values[name] = draw(st.one_of(st.none(), answer_for(name)))
    values["city"] = values["city"] or ""
    # Profiles as the parser lets them in: answers that agree with each other
    # (the implications between them are then exercised, never contradicted).
    assume(not contract.contradictions(values))
    return contract.Profile(**values)


@st.composite
def value_for(draw, spec, operator):
    """Return a canonical value of any operator for the field, by the field's kind.

    Nothing here knows one operator from another: each candidate is offered
    to the operator's own cleaning, the way an admin would type it.
    """
    if spec.kind is FieldKind.BOOLEAN:
        candidates = [draw(st.booleans())]
    elif spec.choices:
        codes = sorted(
            draw(st.frozensets(st.sampled_from(spec.codes), min_size=1, max_size=5))
        )
        candidates = [codes, codes[:1]]
    else:
        a, b = draw(decimals_for(spec)), draw(decimals_for(spec))
        candidates = [str(a), [str(min(a, b)), str(max(a, b))]]
    for raw in candidates:
        try:
            return rules.clean_criterion_value(spec.name, operator.name, raw)
        except rules.RuleError:
            continue
    raise AssertionError(f"no value for {operator} on {spec.name}")


@st.composite
def criteria(draw):
    name = draw(st.sampled_from(contract.CRITERION_FIELDS))
    spec = FIELDS[name]
    operator = draw(st.sampled_from(rules.operators_for(spec.kind)))
    return matching.Criterion(
        field=name,
        operator=operator,
        value=draw(value_for(spec, operator)),
        group=draw(st.integers(min_value=1, max_value=3)),
        required=draw(st.sampled_from([True, True, True, False])),
    )


@st.composite
def programmes(draw):
    rules = draw(st.lists(criteria(), min_size=0, max_size=6))
    discretionary = draw(st.sampled_from(["", "", "", "at the provider's discretion"]))
    return matching.Programme(
        slug="generated",
        provider="acme",
        provider_kind="platform",
        name=Text("Generated", "生成"),
        criteria=tuple(rules),
        discretionary=Text(discretionary, ""),
    )
