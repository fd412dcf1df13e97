"""
System checks: the stored profile model must store what the contract says.

``manage.py check`` (and so ``runserver``, ``migrate`` and the test run)
fails when ``BusinessProfile`` drifts from ``programs.engine.contract``: a
field without its column, a column of the wrong type, a vocabulary the
column's choices do not match, a number the column cannot hold, or an
optional answer whose column cannot be NULL ("not answered").
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core import checks
from django.core.exceptions import FieldDoesNotExist
from django.db import models

from programs.engine.contract import DERIVED_COLUMNS, FIELDS, FieldKind, FieldSpec
from programs.models import BusinessProfile

#: Model field classes that can hold each kind of answer.
COLUMN_TYPES: dict[FieldKind, tuple[type[models.Field[Any, Any]], ...]] = {
    FieldKind.CHOICE: (models.CharField,),
    FieldKind.MULTI: (models.IntegerField,),
    FieldKind.INTEGER: (models.IntegerField,),
    FieldKind.DECIMAL: (models.DecimalField,),
    FieldKind.BOOLEAN: (models.BooleanField,),
    FieldKind.TEXT: (models.CharField,),
}


def column_problems(
    spec: FieldSpec, column: str, model: type[models.Model]
) -> list[str]:
    """Return what is wrong with the column that stores one contract field."""
    try:
        field = model._meta.get_field(column)
    except FieldDoesNotExist:
        return [f"has no column {column!r} for the contract field {spec.name!r}"]
    problems = []
    kind = spec.kind
    if not isinstance(field, COLUMN_TYPES[kind]):
        wanted = " or ".join(t.__name__ for t in COLUMN_TYPES[kind])
        problems.append(
            f"stores {spec.name!r} in {column!r}, a {type(field).__name__}; "
            f"a {kind} answer needs a {wanted}"
        )
        return problems
    if kind is FieldKind.CHOICE:
        codes = tuple(code for code, _label in field.flatchoices)
        if codes != spec.codes:
            problems.append(
                f"offers choices {codes} for {column!r}; the contract's are {spec.codes}"
            )
        longest = max(len(code) for code in spec.codes)
        if field.max_length is None or field.max_length < longest:
            problems.append(
                f"{column!r} is too short for the code of {longest} characters"
            )
    if kind is FieldKind.TEXT and (field.max_length or 0) < spec.max_length:
        problems.append(f"{column!r} holds fewer than {spec.max_length} characters")
    if kind is FieldKind.DECIMAL and isinstance(field, models.DecimalField):
        problems += decimal_problems(spec, column, field)
    if not spec.required and not field.null and kind is not FieldKind.TEXT:
        problems.append(f"{column!r} cannot be NULL, which stores 'not answered'")
    return problems


def decimal_problems(
    spec: FieldSpec, column: str, field: models.DecimalField[Any, Any]
) -> list[str]:
    problems = []
    places, digits = field.decimal_places or 0, field.max_digits or 0
    if places < 2:
        problems.append(f"{column!r} keeps {places} decimal places; answers keep 2")
    for bound in (spec.minimum, spec.maximum):
        if bound is not None and len(str(abs(int(bound)))) + places > digits:
            problems.append(f"{column!r} cannot hold {Decimal(bound):,}")
    return problems


def stored_columns() -> Iterable[tuple[FieldSpec, str]]:
    """Yield every contract field with the column that stores it."""
    for spec in FIELDS.values():
        yield spec, spec.column
    yield FIELDS["cash_runway_months"], DERIVED_COLUMNS["cash_runway_months"]


@checks.register(checks.Tags.models)
def check_profile_model(
    app_configs: Any = None, *, model: type[models.Model] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Fail when BusinessProfile's columns drift from the profile contract."""
    model = BusinessProfile if model is None else model
    return [
        checks.Error(
            f"{model.__name__} {problem}.",
            hint="Change the model (and add a migration) or the contract in "
            "programs/engine/contract.py so that they agree.",
            obj=model,
            id="programs.E001",
        )
        for spec, column in stored_columns()
        for problem in column_problems(spec, column, model)
    ]
