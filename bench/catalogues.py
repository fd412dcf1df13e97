"""A synthetic catalogue of any size, from a fixed seed, as plain matcher data.

Programmes look like the shipped ones: about five criteria each over the
fields the shipped catalogue tests (business type, size, province, runway,
platforms, needs, export share, ...), most in groups of their own (all must
hold), some sharing a group (any may hold), one in five a preference.
"""

from __future__ import annotations

import datetime
import random
from decimal import Decimal

from programs.engine import contract, matching, rules
from programs.engine.text import Text

CODES = {name: spec.codes for name, spec in contract.FIELDS.items() if spec.choices}


def _subset(rng: random.Random, field: str, low: int, high: int) -> list[str]:
    codes = CODES[field]
    return rng.sample(codes, k=min(len(codes), rng.randint(low, high)))


#: (field, operator, value maker) of the criteria programmes draw from.
TEMPLATES = (
    ("business_type", "one_of", lambda rng: _subset(rng, "business_type", 2, 6)),
    ("size_class", "one_of", lambda rng: _subset(rng, "size_class", 1, 3)),
    ("province", "one_of", lambda rng: _subset(rng, "province", 3, 15)),
    ("employees", "lte", lambda rng: Decimal(rng.choice((10, 20, 50, 100, 300)))),
    ("cash_runway_months", "lte", lambda rng: Decimal(rng.choice((1, 2, 3, 6)))),
    ("platforms", "contains_any", lambda rng: _subset(rng, "platforms", 1, 3)),
    ("registration", "one_of", lambda rng: _subset(rng, "registration", 1, 2)),
    ("export_share_pct", "gte", lambda rng: Decimal(rng.choice((10, 20, 30, 50)))),
    ("has_bank_loan", "is", lambda rng: rng.random() < 0.3),
    ("urgency", "one_of", lambda rng: _subset(rng, "urgency", 1, 2)),
    (
        "years_operating",
        "between",
        lambda rng: [Decimal(rng.randint(0, 2)), Decimal(rng.randint(3, 20))],
    ),
    ("industry", "not_one_of", lambda rng: _subset(rng, "industry", 1, 2)),
)


def synthetic_programme(rng: random.Random, number: int) -> matching.Programme:
    criteria = []
    templates = rng.sample(TEMPLATES, k=rng.choice((4, 5, 5, 5, 6)))
    for group, (field, operator, make) in enumerate(templates, start=1):
        value = rules.clean_criterion_value(field, operator, make(rng))
        preference = rng.random() < 0.2
        shared = group > 1 and rng.random() < 0.15  # any of two may hold
        criteria.append(
            matching.Criterion(
                field=field,
                operator=rules.operator(operator),
                value=value,
                group=0 if preference else (group - 1 if shared else group),
                required=not preference,
            )
        )
    opens = rng.random() < 0.1
    return matching.Programme(
        slug=f"synthetic-{number:04d}",
        provider=f"provider-{number % 12}",
        provider_kind="platform",
        name=Text(f"Synthetic programme {number}", f"合成项目{number}"),
        criteria=tuple(criteria),
        days_to_money=rng.choice((None, 1, 3, 7, 14, 30)),
        needs=frozenset(_subset(rng, "needs", 1, 2)),
        discretionary=Text("Selected by the provider")
        if rng.random() < 0.2
        else Text(),
        opens_on=datetime.date(2020, 3, 1) if opens else None,
    )


def synthetic_catalogue(size: int, *, seed: int = 7) -> tuple[matching.Programme, ...]:
    rng = random.Random(seed)
    return tuple(synthetic_programme(rng, n) for n in range(size))
