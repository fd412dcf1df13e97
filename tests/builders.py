"""
Builders and shared test data: plain-data profiles and programmes for the
engine (no database), the stall's form answers, a small catalogue file, and
keeping a profile through the form.
"""

from __future__ import annotations

import datetime
import re
import textwrap
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path
from typing import Any

from django.urls import reverse

from programs.engine import rules
from programs.engine.contract import Profile
from programs.engine.matching import Basis, Criterion, Programme
from programs.engine.text import Text

#: Realistic profiles as JSON files, for the command line and the API.
PROFILES = Path(__file__).parent / "profiles"


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
    for name in ("needs", "needs_assumed"):
        if name in kw:
            kw[name] = frozenset(kw[name])
    return Programme(slug=slug, criteria=tuple(criteria), **kw)


AS_OF = datetime.date(2020, 6, 15)


#: A Wuhan stall's answers, as the form posts them.
STALL = {
    "business_type": "street_stall",
    "registration": "individual_business",
    "province": "CN-HB",
    "city": "武汉",
    "employees": "1",
    "annual_revenue_cny": "80000",
    "cash_runway_months": "0.5",
    "platforms": ["alipay_merchant"],
    "needs": ["financing", "stock_sourcing"],
    "as_of": "2020-06-15",
}


def token_of(response) -> str:
    match = re.fullmatch(r"/r/([^/]+)/", response["Location"])
    assert match, response["Location"]
    return match.group(1)


def keep(client, **extra) -> str:
    response = client.post(
        reverse("programs:profile_form"), {**STALL, "consent_store": "on", **extra}
    )
    assert response.status_code == HTTPStatus.FOUND
    return token_of(response)


#: A one-programme catalogue file for the loader.
SMALL_CATALOGUE = textwrap.dedent(
    """
    version = "test-1"

    [providers.acme]
    name_en = "Acme Bank"
    name_zh_hans = "阿克米银行"
    kind = "bank"

    [[programmes]]
    slug = "acme-loans"
    provider = "acme"
    name_en = "Acme loans"
    name_zh_hans = "阿克米贷款"
    opens_on = 2020-03-01
    closes_on = 2020-06-30
    days_to_money = 3
    needs = ["financing"]

      [[programmes.criteria]]
      field = "size_class"
      operator = "one_of"
      value = ["micro", "small"]
      group = 1

      [[programmes.criteria]]
      field = "province"
      operator = "equals"
      value = "CN-HB"
      group = 2

      [[programmes.sources]]
      title = "Acme press release"
      url = "acme.example"
      published_on = 2020-03-01
      confidence = "H"

      [[programmes.sources]]
      title = "Undated blog post"
      confidence = "L"

      [[programmes.criteria]]
      field = "platforms"
      operator = "contains_any"
      value = ["alipay_merchant"]
      required = false
      group = 0
    """
)
