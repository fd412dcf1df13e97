"""
The rule language: one unit per criterion operator.

Shaped like Django's ``password_validation``: each operator is one small
class that says everything about itself, and nothing else in the code base
switches on operators:

* ``kinds``: the field kinds it applies to; ``label``: its name in the admin;
* ``clean()``: an admin's or the catalogue file's value made canonical, or a
  ``RuleError`` saying what is wrong; ``value_help``: what to type;
* ``test()``: the test of an answered value in Python (an unanswered value
  is *unknown* before any test runs);
* ``sql()``: the same test as a condition SQL evaluates to TRUE, FALSE or
  NULL (unknown), from which ``programs.engine.sql`` derives every database
  filter;
* ``rule``: the rule as a clause ("%(field)s must be %(expected)s") and
  ``met``: the sentence when the owner's answer meets it. From these two
  every sentence is made, in the active language: ``describe()`` states the
  rule (the catalogue, the alternatives that decide nothing); ``reason()``
  gives the met sentence, the rule with what the owner said when it is not
  met, and the rule with what is still to answer when it is unknown.

Values are written as the contract says them (``contract.spoken_value``):
labels for codes, numbers with the field's unit, a yes or no as the owner's
own statement, alternatives joined with "or" and "或", never a code.

Adding an operator is one class here plus its tests; ``OPERATORS`` picks it
up, and with it the admin's choices, the catalogue loader, the matcher, the
SQL path, the sentences and the property test that the two paths agree.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from django.db.models import F, Q
from django.db.models.lookups import Exact, GreaterThan, In
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from programs.engine.contract import (
    CRITERION_FIELDS,
    FIELDS,
    FieldKind,
    FieldSpec,
    in_sentence,
    labels_of,
    mask_of,
    spoken_value,
    to_bool,
    to_decimal,
    with_unit,
)
from programs.engine.text import either, quoted_items, together

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise


class State(StrEnum):
    MET = "met"
    NOT_MET = "not_met"
    UNKNOWN = "unknown"


STATE_LABELS = {
    State.MET: _("met"),
    State.NOT_MET: _("not met"),
    State.UNKNOWN: _("unknown"),
}


class RuleError(ValueError):
    """A criterion refused, with every problem by part (field, operator, value)."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


def _refuse(message: StrPromise | str) -> RuleError:
    return RuleError({"value": [str(message)]})


# -- how every operator's sentences are put together -----------------------------

#: A rule and the owner's side of it: "Registration must be Company; you
#: said Individual business." / "注册类型需要是公司；您填写的是个体工商户。"
RULE_AND_ANSWER = _("%(rule)s; %(answer)s.")
#: A rule stated on its own (the catalogue, an alternative that decides nothing).
RULE_SENTENCE = pgettext_lazy("a rule as one sentence", "%(rule)s.")
#: What the owner answered.
YOU_SAID = _("you said %(actual)s")
#: A yes or no, as the owner's own statement ("you said you have no bank loan").
YOU_SAID_STATEMENT = pgettext_lazy(
    "followed by the owner's own statement", "you said %(actual)s"
)
#: A set answered as "none of these".
YOU_CHOSE_NONE = _("you chose none of them")
#: A derived field (size class, industry, urgency) is never "said".
WORKED_OUT = _("from your answers it works out as %(actual)s")
#: Unknown: the answer is missing, or one the derived field is worked out from.
NOT_ANSWERED = _("you have not answered this yet")
NOT_WORKED_OUT = _("we work this out from your %(inputs)s, not all answered yet")


class NotIn(In):  # type: ignore[type-arg]  # In is generic in the stubs only
    """``column NOT IN (...)``: NULL for a NULL column, as SQL's IN is."""

    lookup_name = "not_in_list"

    def get_rhs_op(self, connection: Any, rhs: str) -> str:
        return f"NOT IN {rhs}"


class Operator:
    """One criterion operator; subclasses fill in the class attributes and methods."""

    name: ClassVar[str]
    label: ClassVar[StrPromise]
    kinds: ClassVar[frozenset[FieldKind]]
    value_help: ClassVar[StrPromise]
    #: The rule as a clause, with %(field)s and %(expected)s.
    rule: ClassVar[StrPromise]
    #: The sentence when the owner's answer meets the rule, with %(field)s,
    #: %(expected)s and %(actual)s.
    met: ClassVar[StrPromise]
    #: Is a rule met by gaining one of its values, so that the field's action
    #: ("open a shop on …") says what to do? Rules met by not having
    #: something, or by a number, are not.
    actionable: ClassVar[bool] = False

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<operator {self.name}>"

    def clean(self, spec: FieldSpec, value: Any) -> Any:
        """Return the canonical value, or raise RuleError."""
        raise NotImplementedError

    def test(self, expected: Any) -> Callable[[Any], bool]:
        """Return the test of an answered value against the canonical value."""
        raise NotImplementedError

    def sql(self, column: str, expected: Any, spec: FieldSpec) -> Q:
        """Return a condition that is TRUE when met, FALSE when not, NULL when unknown."""
        raise NotImplementedError

    def reason(self, state: State, spec: FieldSpec, expected: Any, actual: Any) -> str:
        """Return why a criterion is met, not met or unknown, in the active language."""
        if state is State.MET:
            return capfirst(str(self.met % self.params(spec, expected, actual)))
        if state is State.NOT_MET:
            answer = self.answer(spec, expected, actual)
        elif spec.derived:
            inputs = [FIELDS[name].name_in_sentence for name in spec.questions]
            answer = str(NOT_WORKED_OUT % {"inputs": together(inputs)})
        else:
            answer = str(NOT_ANSWERED)
        return capfirst(
            str(
                RULE_AND_ANSWER
                % {"rule": self.clause(spec, expected), "answer": answer}
            )
        )

    def expected_text(self, spec: FieldSpec, expected: Any) -> str:
        """Return the rule's value as the sentences say it."""
        return spoken_value(spec.name, expected)

    def params(self, spec: FieldSpec, expected: Any, actual: Any) -> dict[str, str]:
        """Return the placeholders of this operator's sentences."""
        return {
            "field": spec.name_in_sentence,
            "expected": self.expected_text(spec, expected),
            "actual": spoken_value(spec.name, actual),
        }

    def clause(self, spec: FieldSpec, expected: Any) -> str:
        """Return the rule as a clause: "size class must be micro or small"."""
        return str(self.rule % self.params(spec, expected, None))

    def answer(self, spec: FieldSpec, expected: Any, actual: Any) -> str:
        """Return the owner's side of a rule not met: what they said."""
        if spec.derived:
            template = WORKED_OUT
        elif isinstance(actual, frozenset | set) and not actual:
            return str(YOU_CHOSE_NONE)
        else:
            template = YOU_SAID
        return str(template % {"actual": spoken_value(spec.name, actual)})

    def action(self, spec: FieldSpec, expected: Any) -> str | None:
        """Return what the owner can do to meet the rule, or None if nothing."""
        if not (self.actionable and spec.action):
            return None
        codes = (expected,) if isinstance(expected, str) else tuple(expected)
        return str(spec.action % {"values": either_of(spec, codes)})

    def describe(self, spec: FieldSpec, expected: Any) -> str:
        """Return the rule as the catalogue states it, in the active language."""
        return capfirst(str(RULE_SENTENCE % {"rule": self.clause(spec, expected)}))


def either_of(spec: FieldSpec, codes: Any) -> str:
    """Return codes of a field as alternatives: "micro or small", "微型或小型"."""
    labels = [in_sentence(spec, label) for label in labels_of(spec.name, codes)]
    return either(quoted_items(labels))


# -- shared cleaning ------------------------------------------------------------


def _clean_codes(spec: FieldSpec, value: Any) -> list[str]:
    items = (
        value
        if isinstance(value, list | tuple | set | frozenset)
        else str(value).split(",")
    )
    codes = sorted({str(item).strip() for item in items if str(item).strip()})
    if not codes:
        raise _refuse(_("Enter at least one value."))
    if unknown := [code for code in codes if code not in spec.codes]:
        raise _refuse(
            _("Not a value of %(field)s: %(values)s. Allowed: %(allowed)s.")
            % {
                "field": spec.label,
                "values": ", ".join(unknown),
                "allowed": ", ".join(spec.codes),
            }
        )
    return codes


def _clean_numbers(spec: FieldSpec, value: Any, want: int) -> list[Decimal]:
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    if len(items) != want:
        raise _refuse(
            _("Enter two numbers, low and high, separated by a comma.")
            if want == 2
            else _("Enter one number.")
        )
    try:
        numbers = [to_decimal(item) for item in items]
    except (TypeError, ValueError, InvalidOperation):
        raise _refuse(_("Enter a number.")) from None
    for number in numbers:
        if (spec.minimum is not None and number < spec.minimum) or (
            spec.maximum is not None and number > spec.maximum
        ):
            raise _refuse(
                _("%(field)s ranges from %(min)s to %(max)s.")
                % {"field": spec.label, "min": spec.minimum, "max": spec.maximum}
            )
    if spec.kind is FieldKind.INTEGER and any(
        n != n.to_integral_value() for n in numbers
    ):
        raise _refuse(_("Enter a whole number."))
    return [n.normalize() + 0 for n in numbers]  # canonical: no trailing zeros


CHOICE = frozenset({FieldKind.CHOICE})
SET = frozenset({FieldKind.MULTI})
NUMBER = frozenset({FieldKind.INTEGER, FieldKind.DECIMAL})
YES_NO = frozenset({FieldKind.BOOLEAN})

# -- the operators --------------------------------------------------------------


class Equals(Operator):
    name = "equals"
    label = _("equals")
    kinds = CHOICE
    actionable = True
    value_help = _("one code")
    rule = _("%(field)s must be %(expected)s")
    met = _("Your %(field)s is %(actual)s.")

    def clean(self, spec: FieldSpec, value: Any) -> str:
        codes = _clean_codes(spec, value)
        if len(codes) != 1:
            raise _refuse(_("Enter exactly one value."))
        return codes[0]

    def test(self, expected: str) -> Callable[[Any], bool]:
        return lambda actual: actual == expected

    def sql(self, column: str, expected: str, spec: FieldSpec) -> Q:
        return Q(**{column: expected})


class OneOf(Operator):
    name = "one_of"
    label = _("is one of")
    kinds = CHOICE
    actionable = True
    value_help = _("codes separated by commas")
    rule = Equals.rule
    met = Equals.met

    def clean(self, spec: FieldSpec, value: Any) -> tuple[str, ...]:
        return tuple(_clean_codes(spec, value))

    def expected_text(self, spec: FieldSpec, expected: Any) -> str:
        return either_of(spec, expected)

    def test(self, expected: tuple[str, ...]) -> Callable[[Any], bool]:
        return frozenset(expected).__contains__

    def sql(self, column: str, expected: tuple[str, ...], spec: FieldSpec) -> Q:
        return Q(**{f"{column}__in": list(expected)})


class NotOneOf(OneOf):
    name = "not_one_of"
    label = _("is not one of")
    actionable = False
    rule = _("%(field)s must not be %(expected)s")
    met = _("Your %(field)s is %(actual)s, not %(expected)s.")

    def test(self, expected: tuple[str, ...]) -> Callable[[Any], bool]:
        codes = frozenset(expected)
        return lambda actual: actual not in codes

    def sql(self, column: str, expected: tuple[str, ...], spec: FieldSpec) -> Q:
        return Q(NotIn(F(column), list(expected)))


class ContainsAny(Operator):
    name = "contains_any"
    label = _("contains any of")
    kinds = SET
    actionable = True
    value_help = _("codes separated by commas")
    rule = _("%(field)s must include %(expected)s")
    #: The rule when any value of the field will do (any export market).
    rule_any = _("you need at least one entry under %(field)s")
    met = _("Your %(field)s include %(matched)s.")

    def clean(self, spec: FieldSpec, value: Any) -> tuple[str, ...]:
        return tuple(_clean_codes(spec, value))

    def expected_text(self, spec: FieldSpec, expected: Any) -> str:
        return either_of(spec, expected)

    def params(self, spec: FieldSpec, expected: Any, actual: Any) -> dict[str, str]:
        matched = set(actual or ()) & set(expected)
        return {
            **super().params(spec, expected, actual),
            "matched": spoken_value(spec.name, matched),
        }

    def clause(self, spec: FieldSpec, expected: Any) -> str:
        if set(expected) == set(spec.codes):
            return str(self.rule_any % {"field": spec.name_in_sentence})
        return super().clause(spec, expected)

    def test(self, expected: tuple[str, ...]) -> Callable[[Any], bool]:
        codes = frozenset(expected)
        return lambda actual: not codes.isdisjoint(actual)

    def sql(self, column: str, expected: tuple[str, ...], spec: FieldSpec) -> Q:
        bits = mask_of(expected, spec.name)
        return Q(GreaterThan(F(column).bitand(bits), 0))


class NotContainsAny(ContainsAny):
    """None of the listed codes: "not on any of these platforms"."""

    name = "not_contains_any"
    label = _("contains none of")
    actionable = False
    rule = _("%(field)s must not include %(expected)s")
    met = _("None of your %(field)s is %(expected)s.")

    def clause(self, spec: FieldSpec, expected: Any) -> str:
        return Operator.clause(self, spec, expected)

    def answer(self, spec: FieldSpec, expected: Any, actual: Any) -> str:
        matched = set(actual) & set(expected)
        return str(YOU_SAID % {"actual": spoken_value(spec.name, matched)})

    def test(self, expected: tuple[str, ...]) -> Callable[[Any], bool]:
        return frozenset(expected).isdisjoint

    def sql(self, column: str, expected: tuple[str, ...], spec: FieldSpec) -> Q:
        bits = mask_of(expected, spec.name)
        return Q(Exact(F(column).bitand(bits), 0))


class AtLeast(Operator):
    name = "gte"
    label = _("is at least")
    kinds = NUMBER
    value_help = _("one number")
    rule = _("%(field)s must be at least %(expected)s")
    met = _("Your %(field)s is %(actual)s, not below %(expected)s.")

    def clean(self, spec: FieldSpec, value: Any) -> Decimal:
        return _clean_numbers(spec, value, 1)[0]

    def test(self, expected: Decimal) -> Callable[[Any], bool]:
        return lambda actual: actual >= expected

    def sql(self, column: str, expected: Decimal, spec: FieldSpec) -> Q:
        return Q(**{f"{column}__gte": expected})


class AtMost(AtLeast):
    name = "lte"
    label = _("is at most")
    rule = _("%(field)s must be at most %(expected)s")
    met = _("Your %(field)s is %(actual)s, not above %(expected)s.")

    def test(self, expected: Decimal) -> Callable[[Any], bool]:
        return lambda actual: actual <= expected

    def sql(self, column: str, expected: Decimal, spec: FieldSpec) -> Q:
        return Q(**{f"{column}__lte": expected})


class Between(Operator):
    name = "between"
    label = _("is between")
    kinds = NUMBER
    value_help = _("low, high")
    rule = _("%(field)s must be between %(low)s and %(high)s")
    met = _("Your %(field)s is %(actual)s, between %(low)s and %(high)s.")

    def clean(self, spec: FieldSpec, value: Any) -> tuple[Decimal, Decimal]:
        low, high = _clean_numbers(spec, value, 2)
        if low > high:
            raise _refuse(_("The low number must not be above the high number."))
        return (low, high)

    def test(self, expected: tuple[Decimal, Decimal]) -> Callable[[Any], bool]:
        low, high = expected
        return lambda actual: low <= actual <= high

    def sql(self, column: str, expected: tuple[Decimal, Decimal], spec: FieldSpec) -> Q:
        low, high = expected
        return Q(**{f"{column}__gte": low}) & Q(**{f"{column}__lte": high})

    def params(self, spec: FieldSpec, expected: Any, actual: Any) -> dict[str, str]:
        low, high = expected
        return {
            **super().params(spec, expected, actual),
            "low": with_unit(spec.name, low),
            "high": with_unit(spec.name, high),
        }


class IsYesNo(Operator):
    name = "is"
    label = _("is yes/no")
    kinds = YES_NO
    value_help = _("yes or no")
    #: %(expected)s is the statement the rule wants ("you have a bank loan").
    rule = _("only if %(expected)s")
    met = pgettext_lazy("the owner's own statement", "%(actual)s.")

    def clean(self, spec: FieldSpec, value: Any) -> bool:
        try:
            return to_bool(value)
        except ValueError:
            raise _refuse(_("Enter yes or no.")) from None

    def test(self, expected: bool) -> Callable[[Any], bool]:
        return lambda actual: actual is expected

    def sql(self, column: str, expected: bool, spec: FieldSpec) -> Q:
        return Q(**{column: expected})

    def answer(self, spec: FieldSpec, expected: Any, actual: Any) -> str:
        return str(YOU_SAID_STATEMENT % {"actual": spoken_value(spec.name, actual)})


EQUALS = Equals()
ONE_OF = OneOf()
NOT_ONE_OF = NotOneOf()
CONTAINS_ANY = ContainsAny()
NOT_CONTAINS_ANY = NotContainsAny()
GTE = AtLeast()
LTE = AtMost()
BETWEEN = Between()
IS = IsYesNo()

#: name -> operator, in the order the admin lists them.
OPERATORS: dict[str, Operator] = {
    op.name: op
    for op in (
        EQUALS,
        ONE_OF,
        NOT_ONE_OF,
        CONTAINS_ANY,
        NOT_CONTAINS_ANY,
        GTE,
        LTE,
        BETWEEN,
        IS,
    )
}


def operator(name: str | Operator) -> Operator:
    """Return the operator of a name (KeyError for an unknown one)."""
    return name if isinstance(name, Operator) else OPERATORS[name]


def operators_for(kind: FieldKind) -> tuple[Operator, ...]:
    """Return the operators that apply to a field kind."""
    return tuple(op for op in OPERATORS.values() if kind in op.kinds)


def operator_choices() -> list[tuple[str, StrPromise]]:
    """Return (name, label) of every operator: the admin's and model's choices."""
    return [(op.name, op.label) for op in OPERATORS.values()]


def criterion_field_choices() -> list[tuple[str, StrPromise]]:
    """Return (name, label) of every field a criterion may test."""
    return [(name, FIELDS[name].label) for name in CRITERION_FIELDS]


def value_help() -> str:
    """Return what to type as a criterion's value, operator by operator."""
    return "; ".join(f"{op.label}: {op.value_help}" for op in OPERATORS.values())


def clean_criterion_value(field_name: str, operator_name: str, value: Any) -> Any:
    """Return the canonical value for a criterion, or raise RuleError by part.

    Canonical values: a code (equals), a sorted tuple of codes (the set and
    choice operators), a Decimal (at least, at most), a (low, high) pair of
    Decimals (between) and a bool (is yes/no).
    """
    if field_name not in CRITERION_FIELDS:
        raise RuleError({"field": [str(_("Choose a profile field from the list."))]})
    spec = FIELDS[field_name]
    try:
        op = operator(operator_name)
    except KeyError:
        raise RuleError(
            {"operator": [str(_("Choose an operator from the list."))]}
        ) from None
    if spec.kind not in op.kinds:
        allowed = ", ".join(str(o.label) for o in operators_for(spec.kind))
        raise RuleError(
            {
                "operator": [
                    str(
                        _("%(field)s can only be tested with: %(allowed)s.")
                        % {"field": spec.label, "allowed": allowed}
                    )
                ]
            }
        )
    return op.clean(spec, value)


def value_to_json(value: Any) -> Any:
    """Return a canonical criterion value as JSON (decimals as exact strings)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, tuple | list):
        return [value_to_json(v) for v in value]
    return value
