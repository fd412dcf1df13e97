"""Plain-data builders for matcher tests (no database)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from programs.engine import rules
from programs.engine.contract import Profile
from programs.engine.matching import Basis, Criterion, Programme
from programs.engine.text import Text


def make_profile(**overrides: Any) -> Profile:
    values: dict[str, Any] = {
        "business_type": "retail_shop",
        "province": "CN-ZJ",
        "needs": frozenset({"financing"}),
    }
    for name, value in overrides.items():
        if isinstance(value, float):
            value = Decimal(str(value))
        if isinstance(value, set | list):
            value = frozenset(value)
        values[name] = value
    return Profile(**values)


def rule(field: str, operator: str, value: Any, **kw: Any) -> Criterion:
    return Criterion(
        field=field,
        operator=rules.operator(operator),
        value=rules.clean_criterion_value(field, operator, value),
        group=kw.pop("group", 1),
        required=kw.pop("required", True),
        basis=Basis(kw.pop("basis", "documented")),
        explanation=Text(kw.pop("explanation", ""), ""),
    )


def make_programme(slug: str = "p", *criteria: Criterion, **kw: Any) -> Programme:
    kw.setdefault("provider", "acme")
    kw.setdefault("provider_kind", "platform")
    kw.setdefault("name", Text(slug, slug))
    if isinstance(kw.get("discretionary"), str):
        kw["discretionary"] = Text(kw["discretionary"], "")
    if "needs" in kw:
        kw["needs"] = frozenset(kw["needs"])
    return Programme(slug=slug, criteria=tuple(criteria), **kw)


AS_OF = datetime.date(2020, 6, 15)
