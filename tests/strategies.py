"""Hypothesis strategies: random profiles and rules of the contract, and attack query strings."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote, quote_from_bytes

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


# -- attack input for query strings ----------------------------------------------------

#: Values an attacker tries in a query string, by kind.
HUGE_NUMBERS = [
    "99999999999999999999",
    "-99999999999999999999",
    "9223372036854775808",
    "2147483648",
    "1e309",
    "-1",
    "0",
    "-0",
    "1.5",
    "-2.5",
    "NaN",
    "inf",
    "0x1F",
    "１２",  # full-width digits
]
ODD_DATES = [
    "9999-12-31",
    "0001-01-01",
    "0000-00-00",
    "2020-02-30",
    "2020-13-01",
    "99999-01-01",
    "-2020-01-01",
    "2020-06-15T00:00:00",
    "2020/06/15",
    "15/06/2020",
    "06/15/2020",
    "2020-06-15\n",
]
SQL_ISH = [
    "' OR '1'='1",
    "1; DROP TABLE programs_programme; --",
    "%",
    "_",
    "\\",
    "%%' --",
    "' UNION SELECT password FROM auth_user --",
    '")',
    "1' AND pg_sleep(5) --",
]
CONTROL = [
    "\x00",
    "a\x00b",
    "\x01\x02\x1b[31m",
    "\x7f",
    "\u202e",
    "\ufeff",
    "\r\n",
    "\t",
]
LONG = ["9" * 3000, "a" * 3000, "中" * 1000, "-" * 1000]
UNKNOWN = ["castle", "CN-XX", "__all__", "None", "null", "[]", "{}", "true", "Eligible"]
#: Bytes that are not UTF-8: a lone continuation byte, an overlong NUL, a
#: surrogate, a BOM in UTF-16, Latin-1.
NOT_UTF8 = [b"\x80", b"\xc0\x80", b"\xed\xa0\x80", b"\xff\xfe", b"caf\xe9"]
#: Pieces of a query string that are not name=value pairs.
RAW_PIECES = ["%", "%zz", "%ff%fe", "&&", "=", "a=b=c", ";", "x", "=%00"]


def query_value_bytes(valid: list[str]):
    """A value for one parameter, as bytes: attack values, or one of `valid`."""
    text = st.one_of(
        st.sampled_from(HUGE_NUMBERS + ODD_DATES + SQL_ISH + CONTROL + LONG + UNKNOWN),
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(str),
        st.dates().map(str),
        st.text(max_size=30),
    )
    encoded = text.map(lambda t: t.encode("utf-8", "surrogatepass"))
    choices = [encoded, st.sampled_from(NOT_UTF8)]
    if valid:
        # Twice: valid values let the other parameters reach deeper.
        choices += [st.sampled_from(valid).map(str.encode)] * 2
    return st.one_of(*choices)


@st.composite
def query_strings(draw, names: list[str], valid: list[str]):
    """A query string of up to five parameters, mostly the endpoint's own names.

    Values are percent-encoded from bytes, so they may be anything, not
    only UTF-8; sometimes a raw malformed piece is added.
    """
    own = st.sampled_from(names)
    pairs = draw(
        st.lists(
            st.tuples(
                st.one_of(own, own, own, st.text(max_size=12)),
                query_value_bytes(valid),
            ),
            max_size=5,
        )
    )
    pieces = [
        quote(name.encode("utf-8", "surrogatepass"), safe="")
        + "="
        + quote_from_bytes(value, safe="")
        for name, value in pairs
    ]
    if draw(st.booleans()):
        pieces.insert(
            draw(st.integers(0, len(pieces))), draw(st.sampled_from(RAW_PIECES))
        )
    return "&".join(pieces)
