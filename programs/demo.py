"""Synthetic business profiles with realistic mixes, from a fixed seed.

Used by ``manage.py setup_demo`` and by the benchmarks. The mix leans on the
2020 survey: about half of firms with three months of cash or less, 14% with
one month at most.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal
from typing import TypeVar

from programs.engine import contract

BUSINESS_TYPE_WEIGHTS = {
    "street_stall": 18,
    "convenience_store": 14,
    "retail_shop": 14,
    "restaurant": 14,
    "online_seller": 10,
    "manufacturer": 9,
    "wholesaler": 5,
    "farm": 6,
    "service_business": 6,
    "tech_company": 3,
    "other": 1,
}
#: (employees low, high, revenue per employee in CNY) by business type
SCALE = {
    "street_stall": (0, 3, 60_000),
    "convenience_store": (1, 8, 150_000),
    "retail_shop": (1, 40, 200_000),
    "restaurant": (2, 60, 120_000),
    "online_seller": (1, 30, 300_000),
    "manufacturer": (5, 800, 400_000),
    "wholesaler": (2, 150, 1_000_000),
    "farm": (1, 50, 80_000),
    "service_business": (1, 25, 100_000),
    "tech_company": (3, 300, 500_000),
    "other": (1, 50, 150_000),
}
PROVINCE_CODES = contract.FIELDS["province"].codes
BIG_PROVINCES = [
    "CN-GD",
    "CN-ZJ",
    "CN-JS",
    "CN-SD",
    "CN-HB",
    "CN-HA",
    "CN-SH",
    "CN-BJ",
    "CN-SC",
    "CN-FJ",
]
#: months of runway: 14% one month or less, about half three months or less
RUNWAY_BANDS = [((0, 1), 14), ((1, 3), 36), ((3, 6), 25), ((6, 24), 25)]

NEEDS_FOR_TYPE = {
    "street_stall": ["financing", "stock_sourcing", "fee_relief"],
    "convenience_store": ["stock_sourcing", "financing", "digitisation"],
    "retail_shop": ["rent_relief", "financing", "digitisation"],
    "restaurant": ["rent_relief", "fee_relief", "financing"],
    "online_seller": ["fee_relief", "logistics", "financing"],
    "manufacturer": ["domestic_sales", "export_markets", "financing"],
    "wholesaler": ["financing", "logistics", "domestic_sales"],
    "farm": ["logistics", "digitisation", "financing"],
    "service_business": ["rent_relief", "social_insurance_relief", "financing"],
    "tech_company": ["cloud_it", "hiring", "digitisation"],
    "other": ["financing", "training"],
}


_T = TypeVar("_T")


def _maybe(rng: random.Random, value: _T, answered: float = 0.85) -> _T | None:
    return value if rng.random() < answered else None


def synthetic_profile(rng: random.Random) -> contract.Profile:
    types, weights = zip(*BUSINESS_TYPE_WEIGHTS.items(), strict=True)
    business_type = rng.choices(types, weights)[0]
    low, high, per_head = SCALE[business_type]
    employees = int(rng.triangular(low, high, low + (high - low) * 0.1))
    revenue = Decimal(int(max(employees, 1) * per_head * rng.uniform(0.4, 1.6)))
    exporter = (
        business_type in {"manufacturer", "wholesaler", "online_seller"}
        and rng.random() < 0.45
    )
    band = rng.choices([b for b, _ in RUNWAY_BANDS], [w for _, w in RUNWAY_BANDS])[0]
    runway = Decimal(str(round(rng.uniform(*band), 1)))
    platform_codes = contract.FIELDS["platforms"].codes
    needs = set(rng.sample(NEEDS_FOR_TYPE[business_type], k=rng.randint(1, 2)))
    if rng.random() < 0.2:
        needs.add(rng.choice(contract.FIELDS["needs"].codes))
    province = (
        rng.choice(BIG_PROVINCES) if rng.random() < 0.75 else rng.choice(PROVINCE_CODES)
    )
    return contract.Profile(
        business_type=business_type,
        province=province,
        needs=frozenset(needs),
        registration=_maybe(
            rng,
            "individual_business"
            if business_type
            in {"street_stall", "convenience_store", "service_business"}
            else rng.choice(["company", "individual_business"]),
        ),
        employees=_maybe(rng, employees),
        annual_revenue_cny=_maybe(rng, revenue, 0.7),
        years_operating=_maybe(rng, Decimal(rng.randint(0, 25))),
        export_share_pct=_maybe(
            rng, Decimal(rng.randint(10, 90)) if exporter else Decimal(0), 0.8
        ),
        export_markets=_maybe(
            rng,
            frozenset(
                rng.sample(contract.FIELDS["export_markets"].codes, k=rng.randint(1, 3))
            )
            if exporter
            else frozenset(),
            0.7,
        ),
        platforms=_maybe(
            rng, frozenset(rng.sample(platform_codes, k=rng.randint(0, 3))), 0.8
        ),
        cash_runway_months=_maybe(rng, runway, 0.8),
        revenue_change_pct=_maybe(rng, Decimal(rng.randint(-90, 20)), 0.6),
        has_bank_loan=_maybe(rng, rng.random() < 0.3, 0.7),
        premises=_maybe(
            rng,
            rng.choices(
                ["none", "rented_state_owned", "rented_private", "owned"],
                [15, 15, 55, 15],
            )[0],
            0.7,
        ),
        vat_small_scale=_maybe(rng, rng.random() < 0.6, 0.5),
    )


def synthetic_profiles(count: int, *, seed: int = 2020) -> Iterator[contract.Profile]:
    rng = random.Random(seed)
    for _ in range(count):
        yield synthetic_profile(rng)
