"""
The eligibility engine: a pure module over plain data.

Nothing here touches the ORM, so every rule runs and is tested without a
database. ``programs.services`` loads programmes from the database into the
dataclasses below; ``programs.filters`` compiles the same criteria into
database filters, and a property test proves the two paths agree.

Contract
--------
* A ``Profile`` holds the answers of the profile contract; ``None`` means "not
  answered". For set fields ``None`` is unknown and an empty set is "none".
* Each ``Criterion`` names a profile field, an operator and a value, and
  evaluates to **met**, **not met** or **unknown** (field not answered).
* Criteria in the same group are alternatives (any may pass); every group of
  required criteria must pass. Preference criteria never filter; when met
  they raise the score.
* A programme is ``eligible`` when every group is met, ``possibly_eligible``
  when no group failed but some are unknown, else ``not_eligible``. A
  not-eligible programme with exactly one failing group is a *near miss*.
* Programmes whose selection is at the provider's discretion are never better
  than ``possibly_eligible``.

Ranking (the one place it is defined: ``rank_key``)
---------------------------------------------------
1. Tier: eligible, possibly eligible, near miss, not eligible.
2. Availability on the as-of date: open, not yet open, closed.
3. Within that, a business whose urgency is critical or high sees the fastest
   money first (``days_to_money``, unknown last), then the best fit; any other
   business sees the best fit first, then the fastest money.
4. Slug, so the order is total and stable.

The fit score is ``10 x (needs of the business this programme addresses) +
(preference criteria met)``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cached_property
from typing import Any

from django.utils.functional import Promise
from django.utils.text import capfirst
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

# --------------------------------------------------------------------------
# Vocabulary of the profile contract. Append only: stored sets are bit masks
# in this order, so reordering would change what stored profiles mean.
# --------------------------------------------------------------------------

BUSINESS_TYPES: tuple[tuple[str, Promise], ...] = (
    ("street_stall", _("Street stall or market stall")),
    ("convenience_store", _("Convenience store or corner shop")),
    ("retail_shop", _("Retail shop")),
    ("restaurant", _("Restaurant, café or food stall")),
    ("online_seller", _("Online seller")),
    ("manufacturer", _("Manufacturer or factory")),
    ("wholesaler", _("Wholesaler")),
    ("farm", _("Farm, fishery or farm co-operative")),
    ("service_business", _("Service business (hair salon, repairs, tutoring, …)")),
    ("tech_company", _("Software or IT company")),
    ("other", _("Other")),
)
REGISTRATIONS = (
    ("unregistered", _("Not registered")),
    ("individual_business", _("Individual business (个体工商户)")),
    ("company", _("Company")),
)
PROVINCES = (
    ("CN-AH", _("Anhui")),
    ("CN-BJ", _("Beijing")),
    ("CN-CQ", _("Chongqing")),
    ("CN-FJ", _("Fujian")),
    ("CN-GD", _("Guangdong")),
    ("CN-GS", _("Gansu")),
    ("CN-GX", _("Guangxi")),
    ("CN-GZ", _("Guizhou")),
    ("CN-HA", _("Henan")),
    ("CN-HB", _("Hubei")),
    ("CN-HE", _("Hebei")),
    ("CN-HI", _("Hainan")),
    ("CN-HK", _("Hong Kong")),
    ("CN-HL", _("Heilongjiang")),
    ("CN-HN", _("Hunan")),
    ("CN-JL", _("Jilin")),
    ("CN-JS", _("Jiangsu")),
    ("CN-JX", _("Jiangxi")),
    ("CN-LN", _("Liaoning")),
    ("CN-MO", _("Macao")),
    ("CN-NM", _("Inner Mongolia")),
    ("CN-NX", _("Ningxia")),
    ("CN-QH", _("Qinghai")),
    ("CN-SC", _("Sichuan")),
    ("CN-SD", _("Shandong")),
    ("CN-SH", _("Shanghai")),
    ("CN-SN", _("Shaanxi")),
    ("CN-SX", _("Shanxi")),
    ("CN-TJ", _("Tianjin")),
    ("CN-TW", _("Taiwan")),
    ("CN-XJ", _("Xinjiang")),
    ("CN-XZ", _("Tibet")),
    ("CN-YN", _("Yunnan")),
    ("CN-ZJ", _("Zhejiang")),
)
EXPORT_MARKETS = (
    ("southeast_asia", _("Southeast Asia")),
    ("east_asia", _("East Asia")),
    ("south_asia", _("South Asia")),
    ("middle_east", _("Middle East")),
    ("europe", _("Europe")),
    ("north_america", _("North America")),
    ("latin_america", _("Latin America")),
    ("africa", _("Africa")),
    ("oceania", _("Oceania")),
    ("russia_central_asia", _("Russia and Central Asia")),
)
PLATFORMS = (
    ("taobao", _("Taobao")),
    ("tmall", _("Tmall")),
    ("alibaba_com", _("Alibaba.com")),
    ("aliexpress", _("AliExpress")),
    ("lazada", _("Lazada")),
    ("alibaba_1688", _("1688.com")),
    ("jd", _("JD.com")),
    ("pinduoduo", _("Pinduoduo")),
    ("meituan", _("Meituan")),
    ("eleme", _("Ele.me")),
    ("douyin", _("Douyin")),
    ("alipay_merchant", _("Alipay merchant account")),
    ("wechat_pay_merchant", _("WeChat Pay merchant account")),
    ("own_website", _("Own website or online shop")),
)
PREMISES = (
    ("none", _("No premises")),
    ("rented_state_owned", _("Rented from a state-owned landlord")),
    ("rented_private", _("Rented from a private landlord")),
    ("owned", _("Owned")),
)
NEEDS = (
    ("financing", _("Loans or credit")),
    ("interest_relief", _("Lower interest or deferred repayments")),
    ("fee_relief", _("Lower platform fees or commissions")),
    ("rent_relief", _("Rent relief")),
    ("tax_relief", _("Tax relief")),
    ("social_insurance_relief", _("Social insurance relief")),
    ("export_markets", _("New export markets")),
    ("domestic_sales", _("Selling in China instead of abroad")),
    ("digitisation", _("Going digital or online")),
    ("stock_sourcing", _("Buying stock and supplies")),
    ("cloud_it", _("Cloud and IT services")),
    ("hiring", _("Hiring")),
    ("training", _("Training and courses")),
    ("logistics", _("Logistics and delivery")),
)
INDUSTRIES = (
    ("retail", _("retail")),
    ("catering", _("catering")),
    ("industry", pgettext_lazy("industry category (工业)", "industry")),
    ("wholesale", _("wholesale")),
    ("agriculture", _("agriculture, forestry, animal husbandry and fishery")),
    ("software_it", _("software and information technology services")),
    ("other_unlisted", _("other industries not listed")),
)
SIZE_CLASSES = (
    ("micro", _("micro")),
    ("small", _("small")),
    ("medium", _("medium")),
    ("large", _("large")),
)
URGENCIES = (
    ("critical", _("critical: one month of cash or less")),
    ("high", _("high: three months or less")),
    ("moderate", _("moderate: six months or less")),
    ("low", _("low: more than six months")),
)


class FieldKind(StrEnum):
    CHOICE = "choice"
    MULTI = "multi"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    TEXT = "text"


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: Promise
    kind: FieldKind
    choices: tuple[tuple[str, Promise], ...] = ()
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    derived: bool = False
    required: bool = False

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(code for code, _label in self.choices)

    def choice_label(self, code: str) -> str:
        return str(dict(self.choices).get(code, code))


def _spec(name, label, kind, choices=(), minimum=None, maximum=None, **kw) -> FieldSpec:
    return FieldSpec(
        name,
        label,
        kind,
        choices,
        None if minimum is None else Decimal(minimum),
        None if maximum is None else Decimal(maximum),
        **kw,
    )


FIELDS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        _spec(
            "business_type",
            _("type of business"),
            FieldKind.CHOICE,
            BUSINESS_TYPES,
            required=True,
        ),
        _spec("registration", _("registration"), FieldKind.CHOICE, REGISTRATIONS),
        _spec("province", _("province"), FieldKind.CHOICE, PROVINCES, required=True),
        _spec("city", _("city"), FieldKind.TEXT),
        _spec(
            "employees",
            _("number of employees"),
            FieldKind.INTEGER,
            minimum=0,
            maximum=10_000_000,
        ),
        _spec(
            "annual_revenue_cny",
            _("annual revenue (CNY)"),
            FieldKind.DECIMAL,
            minimum=0,
            maximum=10**13,
        ),
        _spec(
            "years_operating",
            _("years in business"),
            FieldKind.DECIMAL,
            minimum=0,
            maximum=200,
        ),
        _spec(
            "export_share_pct",
            _("share of revenue from exports (%)"),
            FieldKind.DECIMAL,
            minimum=0,
            maximum=100,
        ),
        _spec("export_markets", _("export markets"), FieldKind.MULTI, EXPORT_MARKETS),
        _spec(
            "platforms",
            _("online platforms and payment accounts"),
            FieldKind.MULTI,
            PLATFORMS,
        ),
        _spec(
            "cash_runway_months",
            _("months of cash runway"),
            FieldKind.DECIMAL,
            minimum=0,
            maximum=120,
        ),
        _spec(
            "cash_on_hand_cny",
            _("cash on hand (CNY)"),
            FieldKind.DECIMAL,
            minimum=0,
            maximum=10**13,
        ),
        _spec(
            "monthly_fixed_costs_cny",
            _("monthly fixed costs (CNY)"),
            FieldKind.DECIMAL,
            minimum=0,
            maximum=10**13,
        ),
        _spec(
            "revenue_change_pct",
            _("revenue change against last year (%)"),
            FieldKind.DECIMAL,
            minimum=-100,
            maximum=1000,
        ),
        _spec("has_bank_loan", _("has a bank loan"), FieldKind.BOOLEAN),
        _spec("premises", _("premises"), FieldKind.CHOICE, PREMISES),
        _spec("vat_small_scale", _("small-scale VAT taxpayer"), FieldKind.BOOLEAN),
        _spec("needs", _("needs"), FieldKind.MULTI, NEEDS, required=True),
        _spec("industry", _("industry"), FieldKind.CHOICE, INDUSTRIES, derived=True),
        _spec(
            "size_class", _("size class"), FieldKind.CHOICE, SIZE_CLASSES, derived=True
        ),
        _spec("urgency", _("urgency"), FieldKind.CHOICE, URGENCIES, derived=True),
    )
}

#: Fields a criterion may test: every answer except free text and the two
#: runway inputs (a criterion on runway uses the derived cash_runway_months).
CRITERION_FIELDS: tuple[str, ...] = tuple(
    name
    for name, spec in FIELDS.items()
    if spec.kind is not FieldKind.TEXT
    and name not in {"cash_on_hand_cny", "monthly_fixed_costs_cny"}
)

#: Answer fields of the contract, in form order (derived ones excluded).
PROFILE_FIELDS: tuple[str, ...] = tuple(n for n, s in FIELDS.items() if not s.derived)

# --------------------------------------------------------------------------
# Derived fields: industry, size class (2011 standard) and urgency.
# --------------------------------------------------------------------------

#: business type -> industry table of the 2011 SME size standard
#: (工信部联企业〔2011〕300号). Service businesses such as salons and repair shops
#: fall under no listed sector, so the standard's "other industries not
#: listed" table (employees only) applies to them and to "other".
INDUSTRY_OF_BUSINESS_TYPE: dict[str, str] = {
    "street_stall": "retail",
    "convenience_store": "retail",
    "retail_shop": "retail",
    "online_seller": "retail",
    "restaurant": "catering",
    "manufacturer": "industry",
    "wholesaler": "wholesale",
    "farm": "agriculture",
    "service_business": "other_unlisted",
    "tech_company": "software_it",
    "other": "other_unlisted",
}


@dataclass(frozen=True)
class SizeThreshold:
    """A class is reached at `employees` AND `revenue_cny` or more (None: not used)."""

    employees: int | None
    revenue_cny: int | None


M = 10_000  # 万元, the unit the standard is written in
#: Per industry: the lower bounds of small, medium and large. Below "small" is
#: micro. Retail, industry and catering are in ../shared/catalogue-facts.md;
#: the other tables are from the standard's own text.
SIZE_STANDARD: dict[str, tuple[SizeThreshold, SizeThreshold, SizeThreshold]] = {
    "retail": (
        SizeThreshold(10, 100 * M),
        SizeThreshold(50, 500 * M),
        SizeThreshold(300, 20_000 * M),
    ),
    "catering": (
        SizeThreshold(10, 100 * M),
        SizeThreshold(100, 2_000 * M),
        SizeThreshold(300, 10_000 * M),
    ),
    "industry": (
        SizeThreshold(20, 300 * M),
        SizeThreshold(300, 2_000 * M),
        SizeThreshold(1000, 40_000 * M),
    ),
    "wholesale": (
        SizeThreshold(5, 1_000 * M),
        SizeThreshold(20, 5_000 * M),
        SizeThreshold(200, 40_000 * M),
    ),
    "agriculture": (
        SizeThreshold(None, 50 * M),
        SizeThreshold(None, 500 * M),
        SizeThreshold(None, 20_000 * M),
    ),
    "software_it": (
        SizeThreshold(10, 50 * M),
        SizeThreshold(100, 1_000 * M),
        SizeThreshold(300, 10_000 * M),
    ),
    "other_unlisted": (
        SizeThreshold(10, None),
        SizeThreshold(100, None),
        SizeThreshold(300, None),
    ),
}


def _at_least(
    threshold: SizeThreshold, employees: int | None, revenue: Decimal | None
) -> bool | None:
    """Tri-state AND of the threshold's tests: False wins over unknown."""
    tests: list[bool | None] = []
    if threshold.employees is not None:
        tests.append(None if employees is None else employees >= threshold.employees)
    if threshold.revenue_cny is not None:
        tests.append(None if revenue is None else revenue >= threshold.revenue_cny)
    if False in tests:
        return False
    if None in tests:
        return None
    return True


def size_class_for(
    industry: str, employees: int | None, revenue: Decimal | None
) -> str | None:
    """Return micro/small/medium/large by the 2011 standard, or None if unknowable."""
    small, medium, large = SIZE_STANDARD[industry]
    if (is_small := _at_least(small, employees, revenue)) is False:
        return "micro"
    if (is_medium := _at_least(medium, employees, revenue)) is False:
        return "small" if is_small else None
    if (is_large := _at_least(large, employees, revenue)) is False:
        return "medium" if is_medium else None
    return "large" if is_large else None


RUNWAY_CAP = Decimal(120)


def runway_months(
    stated: Decimal | None, cash: Decimal | None, monthly_costs: Decimal | None
) -> Decimal | None:
    """Months of runway: as stated, else cash / monthly fixed costs, capped at 120."""
    if stated is not None:
        return stated
    if cash is None or monthly_costs is None:
        return None
    if monthly_costs == 0:
        return RUNWAY_CAP
    return min(RUNWAY_CAP, (cash / monthly_costs).quantize(Decimal("0.01")))


def urgency_for(runway: Decimal | None) -> str | None:
    if runway is None:
        return None
    if runway <= 1:
        return "critical"
    if runway <= 3:
        return "high"
    if runway <= 6:
        return "moderate"
    return "low"


URGENT = frozenset({"critical", "high"})

# --------------------------------------------------------------------------
# Profile
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """Answers of the profile contract; None means not answered."""

    business_type: str
    province: str
    needs: frozenset[str]
    registration: str | None = None
    city: str = ""
    employees: int | None = None
    annual_revenue_cny: Decimal | None = None
    years_operating: Decimal | None = None
    export_share_pct: Decimal | None = None
    export_markets: frozenset[str] | None = None
    platforms: frozenset[str] | None = None
    cash_runway_months: Decimal | None = None
    cash_on_hand_cny: Decimal | None = None
    monthly_fixed_costs_cny: Decimal | None = None
    revenue_change_pct: Decimal | None = None
    has_bank_loan: bool | None = None
    premises: str | None = None
    vat_small_scale: bool | None = None

    @property
    def industry(self) -> str:
        return INDUSTRY_OF_BUSINESS_TYPE[self.business_type]

    @property
    def size_class(self) -> str | None:
        return size_class_for(self.industry, self.employees, self.annual_revenue_cny)

    @property
    def runway_months(self) -> Decimal | None:
        return runway_months(
            self.cash_runway_months, self.cash_on_hand_cny, self.monthly_fixed_costs_cny
        )

    @property
    def urgency(self) -> str | None:
        return urgency_for(self.runway_months)

    def facts(self) -> dict[str, Any]:
        """Return every field a criterion may test, derived ones included."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["cash_runway_months"] = self.runway_months
        values["industry"] = self.industry
        values["size_class"] = self.size_class
        values["urgency"] = self.urgency
        return values

    def derived(self) -> dict[str, Any]:
        return {
            "industry": self.industry,
            "size_class": self.size_class,
            "urgency": self.urgency,
            "cash_runway_months": self.runway_months,
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the answers as JSON-ready contract fields (unanswered: None)."""
        return {f.name: jsonable(getattr(self, f.name)) for f in fields(self)}


class ProfileError(ValueError):
    """Every problem found in a profile, by field; each a translatable message."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError
    number = (
        Decimal(str(value).strip()) if isinstance(value, str) else Decimal(str(value))
    )
    if not number.is_finite():
        raise ValueError
    return number


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"yes", "true", "1", "y"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"no", "false", "0", "n"}:
        return False
    raise ValueError


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def parse_profile(data: Mapping[str, Any]) -> Profile:
    """Return a Profile from contract fields, or raise ProfileError with every problem.

    Accepts JSON values or strings (from CSV); unknown keys are errors, so a
    misspelt field never silently becomes "not answered".
    """
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    if not isinstance(data, Mapping):
        raise ProfileError(
            {"__all__": [str(_("A profile must be an object of fields."))]}
        )
    for key in data:
        if key not in FIELDS or FIELDS[key].derived:
            errors.setdefault(str(key)[:64], []).append(str(_("Unknown field.")))
    for name in PROFILE_FIELDS:
        spec = FIELDS[name]
        raw = data.get(name)
        try:
            values[name] = _parse_value(spec, raw)
        except _FieldProblem as problem:
            errors.setdefault(name, []).append(str(problem.message))
    if errors:
        raise ProfileError(errors)
    values["city"] = values["city"] or ""
    return Profile(**values)


class _FieldProblem(Exception):
    def __init__(self, message: Promise | str):
        self.message = message


def _parse_value(spec: FieldSpec, raw: Any) -> Any:  # noqa: C901 - one branch per kind
    if spec.kind is FieldKind.MULTI:
        if raw is None:
            if spec.required:
                raise _FieldProblem(_("Choose at least one."))
            return None
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple | set | frozenset):
            raise _FieldProblem(_("Give a list of choices."))
        if len(items) > 4 * len(spec.choices):
            raise _FieldProblem(_("Too many choices."))
        codes = {str(item).strip() for item in items if str(item).strip()}
        if unknown := sorted(codes - set(spec.codes)):
            raise _FieldProblem(
                _("Unknown choice: %(values)s.")
                % {"values": ", ".join(v[:40] for v in unknown[:5])}
            )
        if spec.required and not codes:
            raise _FieldProblem(_("Choose at least one."))
        return frozenset(codes)
    if _is_blank(raw):
        if spec.required:
            raise _FieldProblem(_("This field is required."))
        return None
    if spec.kind is FieldKind.CHOICE:
        code = raw.strip() if isinstance(raw, str) else raw
        if code not in spec.codes:
            raise _FieldProblem(_("Choose one of the listed options."))
        return code
    if spec.kind is FieldKind.TEXT:
        if not isinstance(raw, str):
            raise _FieldProblem(_("Enter text."))
        text = raw.strip()
        if len(text) > 100:
            raise _FieldProblem(_("Use 100 characters or fewer."))
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
            raise _FieldProblem(_("Remove control characters."))
        return text
    if spec.kind is FieldKind.BOOLEAN:
        try:
            return _to_bool(raw)
        except ValueError:
            raise _FieldProblem(_("Answer yes or no.")) from None
    try:
        number = _to_decimal(raw)
    except (TypeError, ValueError, InvalidOperation):
        raise _FieldProblem(_("Enter a number.")) from None
    if spec.minimum is not None and number < spec.minimum:
        raise _FieldProblem(
            _("Enter a number of at least %(min)s.") % {"min": spec.minimum}
        )
    if spec.maximum is not None and number > spec.maximum:
        raise _FieldProblem(
            _("Enter a number of at most %(max)s.") % {"max": spec.maximum}
        )
    if spec.kind is FieldKind.INTEGER:
        if number != number.to_integral_value():
            raise _FieldProblem(_("Enter a whole number."))
        return int(number)
    if number.as_tuple().exponent < -2:  # type: ignore[operator]
        number = number.quantize(Decimal("0.01"))
    return number


# --------------------------------------------------------------------------
# Programmes and criteria
# --------------------------------------------------------------------------


class Operator(StrEnum):
    EQUALS = "equals"
    ONE_OF = "one_of"
    NOT_ONE_OF = "not_one_of"
    CONTAINS_ANY = "contains_any"
    GTE = "gte"
    LTE = "lte"
    BETWEEN = "between"
    IS = "is"


OPERATOR_LABELS: dict[Operator, Promise] = {
    Operator.EQUALS: _("equals"),
    Operator.ONE_OF: _("is one of"),
    Operator.NOT_ONE_OF: _("is not one of"),
    Operator.CONTAINS_ANY: _("contains any of"),
    Operator.GTE: _("is at least"),
    Operator.LTE: _("is at most"),
    Operator.BETWEEN: _("is between"),
    Operator.IS: _("is yes/no"),
}

OPERATORS_FOR_KIND: dict[FieldKind, tuple[Operator, ...]] = {
    FieldKind.CHOICE: (Operator.EQUALS, Operator.ONE_OF, Operator.NOT_ONE_OF),
    FieldKind.MULTI: (Operator.CONTAINS_ANY,),
    FieldKind.INTEGER: (Operator.GTE, Operator.LTE, Operator.BETWEEN),
    FieldKind.DECIMAL: (Operator.GTE, Operator.LTE, Operator.BETWEEN),
    FieldKind.BOOLEAN: (Operator.IS,),
    FieldKind.TEXT: (),
}


class Basis(StrEnum):
    DOCUMENTED = "documented"
    ASSUMED = "assumed"


@dataclass(frozen=True)
class Text:
    """A bilingual text: English and Simplified Chinese."""

    en: str = ""
    zh: str = ""

    def __str__(self) -> str:
        language = get_language() or "en"
        return self.zh if language.startswith("zh") and self.zh else self.en

    def __bool__(self) -> bool:
        return bool(self.en or self.zh)


@dataclass(frozen=True)
class Criterion:
    field: str
    operator: Operator
    value: Any
    group: int = 0
    required: bool = True
    basis: Basis = Basis.DOCUMENTED
    explanation: Text = Text()

    @property
    def spec(self) -> FieldSpec:
        return FIELDS[self.field]

    @cached_property
    def test(self) -> Callable[[Any], bool]:
        """Return the test of an answered value, built once per criterion."""
        return TESTS[self.operator](self.value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "operator": str(self.operator),
            "value": jsonable(self.value),
            "group": self.group,
            "required": self.required,
            "basis": str(self.basis),
            "explanation_en": self.explanation.en,
            "explanation_zh_hans": self.explanation.zh,
        }


class RuleError(ValueError):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


def clean_criterion_value(field_name: str, operator: str, value: Any) -> Any:
    """Return the canonical value for a criterion, or raise RuleError by part.

    Canonical values: a code (equals), a sorted tuple of codes (one of, not one
    of, contains any), a Decimal (at least, at most), a (low, high) pair of
    Decimals (between) and a bool (is yes/no).
    """
    if field_name not in CRITERION_FIELDS:
        raise RuleError({"field": [str(_("Choose a profile field from the list."))]})
    spec = FIELDS[field_name]
    try:
        op = Operator(operator)
    except ValueError:
        raise RuleError(
            {"operator": [str(_("Choose an operator from the list."))]}
        ) from None
    if op not in OPERATORS_FOR_KIND[spec.kind]:
        allowed = ", ".join(
            str(OPERATOR_LABELS[o]) for o in OPERATORS_FOR_KIND[spec.kind]
        )
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

    def fail(message: Promise | str) -> RuleError:
        return RuleError({"value": [str(message)]})

    if op is Operator.IS:
        try:
            return _to_bool(value)
        except ValueError:
            raise fail(_("Enter yes or no.")) from None
    if op in {Operator.GTE, Operator.LTE, Operator.BETWEEN}:
        items = value if isinstance(value, list | tuple) else str(value).split(",")
        want = 2 if op is Operator.BETWEEN else 1
        if len(items) != want:
            raise fail(
                _("Enter two numbers, low and high, separated by a comma.")
                if want == 2
                else _("Enter one number.")
            )
        try:
            numbers = [_to_decimal(item) for item in items]
        except (TypeError, ValueError, InvalidOperation):
            raise fail(_("Enter a number.")) from None
        for number in numbers:
            if (spec.minimum is not None and number < spec.minimum) or (
                spec.maximum is not None and number > spec.maximum
            ):
                raise fail(
                    _("%(field)s ranges from %(min)s to %(max)s.")
                    % {"field": spec.label, "min": spec.minimum, "max": spec.maximum}
                )
        if spec.kind is FieldKind.INTEGER and any(
            n != n.to_integral_value() for n in numbers
        ):
            raise fail(_("Enter a whole number."))
        numbers = [n.normalize() + 0 for n in numbers]  # canonical: no trailing zeros
        if op is Operator.BETWEEN:
            if numbers[0] > numbers[1]:
                raise fail(_("The low number must not be above the high number."))
            return (numbers[0], numbers[1])
        return numbers[0]
    items = (
        value
        if isinstance(value, list | tuple | set | frozenset)
        else str(value).split(",")
    )
    codes = sorted({str(item).strip() for item in items if str(item).strip()})
    if not codes:
        raise fail(_("Enter at least one value."))
    if unknown := [code for code in codes if code not in spec.codes]:
        raise fail(
            _("Not a value of %(field)s: %(values)s. Allowed: %(allowed)s.")
            % {
                "field": spec.label,
                "values": ", ".join(unknown),
                "allowed": ", ".join(spec.codes),
            }
        )
    if op is Operator.EQUALS:
        if len(codes) != 1:
            raise fail(_("Enter exactly one value."))
        return codes[0]
    return tuple(codes)


class Availability(StrEnum):
    OPEN = "open"
    NOT_YET_OPEN = "not_yet_open"
    CLOSED = "closed"


AVAILABILITY_LABELS = {
    Availability.OPEN: _("open"),
    Availability.NOT_YET_OPEN: _("not yet open"),
    Availability.CLOSED: _("closed"),
}


@dataclass(frozen=True)
class Source:
    title: str
    url: str = ""
    published_on: datetime.date | None = None
    confidence: str = ""  # H, M or L, as graded in the fact sheet


@dataclass(frozen=True)
class Programme:
    slug: str
    provider: str
    provider_kind: str
    name: Text
    criteria: tuple[Criterion, ...] = ()
    summary: Text = Text()
    benefits: Text = Text()
    apply_channel: Text = Text()
    apply_steps: Text = Text()
    apply_url: str = ""
    announced_on: datetime.date | None = None
    opens_on: datetime.date | None = None
    closes_on: datetime.date | None = None
    closes_on_assumed: bool = False
    withdrawn: bool = False
    last_verified_on: datetime.date | None = None
    days_to_money: int | None = None
    days_to_money_assumed: bool = True
    max_amount_cny: Decimal | None = None
    needs: frozenset[str] = frozenset()
    discretionary: Text = Text()  # why selection is at the provider's discretion
    sources: tuple[Source, ...] = ()
    provider_name: Text = Text()

    @cached_property
    def rules(self) -> CompiledRules:
        """Return the criteria compiled for evaluation, built once per programme."""
        return CompiledRules.of(self.criteria)

    def availability(self, as_of: datetime.date) -> Availability:
        if self.withdrawn or (self.closes_on is not None and as_of > self.closes_on):
            return Availability.CLOSED
        if self.opens_on is not None and as_of < self.opens_on:
            return Availability.NOT_YET_OPEN
        return Availability.OPEN

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            # Sorted, so that the order rows come back in never changes the
            # fingerprint of a programme whose content did not change.
            if f.name == "criteria":
                data[f.name] = sorted((c.to_dict() for c in value), key=_canonical)
            elif f.name == "sources":
                data[f.name] = sorted(
                    ({k: jsonable(v) for k, v in s.__dict__.items()} for s in value),
                    key=_canonical,
                )
            elif isinstance(value, Text):
                data[f"{f.name}_en"] = value.en
                data[f"{f.name}_zh_hans"] = value.zh
            else:
                data[f.name] = jsonable(value)
        return data


def _canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


def catalogue_version(programmes: Iterable[Programme]) -> str:
    """Return a short fingerprint that changes whenever any programme or rule changes."""
    canonical = json.dumps(
        sorted((p.to_dict() for p in programmes), key=lambda d: d["slug"]),
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


# --------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------


class State(StrEnum):
    MET = "met"
    NOT_MET = "not_met"
    UNKNOWN = "unknown"


class Outcome(StrEnum):
    ELIGIBLE = "eligible"
    POSSIBLY_ELIGIBLE = "possibly_eligible"
    NOT_ELIGIBLE = "not_eligible"


STATE_LABELS = {
    State.MET: _("met"),
    State.NOT_MET: _("not met"),
    State.UNKNOWN: _("unknown"),
}
OUTCOME_LABELS = {
    Outcome.ELIGIBLE: _("eligible"),
    Outcome.POSSIBLY_ELIGIBLE: _("possibly eligible"),
    Outcome.NOT_ELIGIBLE: _("not eligible"),
}

#: operator -> a maker of the test of an answered value against the criterion's
#: canonical value. The one definition of what each operator means; a
#: criterion builds its test once (``Criterion.test``) and keeps it.
TESTS: dict[Operator, Callable[[Any], Callable[[Any], bool]]] = {
    Operator.EQUALS: lambda expected: lambda actual: actual == expected,
    Operator.ONE_OF: lambda expected: frozenset(expected).__contains__,
    Operator.NOT_ONE_OF: lambda expected: (
        lambda actual, codes=frozenset(expected): actual not in codes
    ),
    Operator.CONTAINS_ANY: lambda expected: (
        lambda actual, codes=frozenset(expected): not codes.isdisjoint(actual)
    ),
    Operator.GTE: lambda expected: lambda actual: actual >= expected,
    Operator.LTE: lambda expected: lambda actual: actual <= expected,
    Operator.BETWEEN: lambda expected: (
        lambda actual, low=expected[0], high=expected[1]: low <= actual <= high
    ),
    Operator.IS: lambda expected: lambda actual: actual is expected,
}


def evaluate(criterion: Criterion, facts: Mapping[str, Any]) -> State:
    """Return whether the profile's facts meet one criterion."""
    actual = facts.get(criterion.field)
    if actual is None:
        return State.UNKNOWN
    return State.MET if criterion.test(actual) else State.NOT_MET


@dataclass(frozen=True)
class CompiledRules:
    """A programme's criteria arranged for evaluation, built once per programme.

    ``tests`` pairs each criterion's field with its test, in criteria order;
    ``groups`` lists each required group (ascending) with the indexes of its
    criteria; ``preferences`` the indexes of preference criteria.
    """

    tests: tuple[tuple[str, Callable[[Any], bool]], ...]
    groups: tuple[tuple[int, tuple[int, ...]], ...]
    preferences: tuple[int, ...]

    @classmethod
    def of(cls, criteria: Iterable[Criterion]) -> CompiledRules:
        criteria = tuple(criteria)
        groups: dict[int, list[int]] = {}
        for i, c in enumerate(criteria):
            if c.required:
                groups.setdefault(c.group, []).append(i)
        return cls(
            tests=tuple((c.field, c.test) for c in criteria),
            groups=tuple((g, tuple(members)) for g, members in sorted(groups.items())),
            preferences=tuple(i for i, c in enumerate(criteria) if not c.required),
        )


def display_value(field_name: str, value: Any) -> str:
    """Return a value as a person reads it, with choice codes as their labels."""
    spec = FIELDS[field_name]
    if value is None:
        return str(_("not answered"))
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if spec.choices and isinstance(value, str):
        return spec.choice_label(value)
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(v, Decimal) for v in value)
    ):
        return str(
            _("%(low)s to %(high)s")
            % {"low": _number(value[0]), "high": _number(value[1])}
        )
    if isinstance(value, list | tuple | set | frozenset):
        if not value:
            return str(_("none"))
        return list_separator().join(spec.choice_label(v) for v in sorted(value))
    if isinstance(value, Decimal | int):
        return _number(value)
    return str(value)


def list_separator() -> str:
    """Return the separator for a list of values in the active language."""
    return "、" if (get_language() or "en").startswith("zh") else ", "


def _number(value: Decimal | int) -> str:
    if isinstance(value, Decimal):
        value = value.normalize() + 0
        return f"{value:,f}"
    return f"{value:,}"


REASONS: dict[tuple[Operator, State], Promise] = {
    (Operator.EQUALS, State.MET): _("%(field)s is %(expected)s."),
    (Operator.EQUALS, State.NOT_MET): _(
        "%(field)s must be %(expected)s; you said %(actual)s."
    ),
    (Operator.ONE_OF, State.MET): _("%(field)s is %(actual)s, one of: %(expected)s."),
    (Operator.ONE_OF, State.NOT_MET): _(
        "%(field)s must be one of: %(expected)s; you said %(actual)s."
    ),
    (Operator.NOT_ONE_OF, State.MET): _(
        "%(field)s is %(actual)s, not one of: %(expected)s."
    ),
    (Operator.NOT_ONE_OF, State.NOT_MET): _(
        "%(field)s must not be one of: %(expected)s; you said %(actual)s."
    ),
    (Operator.CONTAINS_ANY, State.MET): _("%(field)s include %(matched)s."),
    (Operator.CONTAINS_ANY, State.NOT_MET): _(
        "%(field)s must include one of: %(expected)s; you said %(actual)s."
    ),
    (Operator.GTE, State.MET): _("%(field)s is %(actual)s, at least %(expected)s."),
    (Operator.GTE, State.NOT_MET): _(
        "%(field)s must be at least %(expected)s; you said %(actual)s."
    ),
    (Operator.LTE, State.MET): _("%(field)s is %(actual)s, at most %(expected)s."),
    (Operator.LTE, State.NOT_MET): _(
        "%(field)s must be at most %(expected)s; you said %(actual)s."
    ),
    (Operator.BETWEEN, State.MET): _("%(field)s is %(actual)s, within %(expected)s."),
    (Operator.BETWEEN, State.NOT_MET): _(
        "%(field)s must be %(expected)s; you said %(actual)s."
    ),
    (Operator.IS, State.MET): _("%(field)s: %(expected)s."),
    (Operator.IS, State.NOT_MET): _(
        "%(field)s must be %(expected)s; you said %(actual)s."
    ),
}
UNKNOWN_REASON = _("Not answered yet: %(field)s (%(operator)s %(expected)s).")
DERIVED_UNKNOWN_REASON = _(
    "Not known yet: %(field)s, worked out from your other answers (%(operator)s %(expected)s)."
)


@dataclass(frozen=True)
class CriterionResult:
    criterion: Criterion
    state: State
    actual: Any

    @property
    def reason(self) -> str:
        """Return why the criterion is met, not met or unknown, in the active language."""
        c = self.criterion
        spec = c.spec
        params = {
            "field": capfirst(str(spec.label)),
            "operator": str(OPERATOR_LABELS[c.operator]),
            "expected": display_value(c.field, c.value),
            "actual": display_value(c.field, self.actual),
        }
        if self.state is State.UNKNOWN:
            template = DERIVED_UNKNOWN_REASON if spec.derived else UNKNOWN_REASON
            return str(template % params)
        if c.operator is Operator.CONTAINS_ANY and self.state is State.MET:
            params["matched"] = display_value(c.field, set(self.actual) & set(c.value))
        return str(REASONS[(c.operator, self.state)] % params)

    @property
    def questions(self) -> tuple[str, ...]:
        """Return the answer fields that would settle this criterion."""
        if self.state is not State.UNKNOWN:
            return ()
        return QUESTIONS_FOR_FIELD.get(self.criterion.field, (self.criterion.field,))


#: Derived fields are settled by answering the fields they come from.
QUESTIONS_FOR_FIELD: dict[str, tuple[str, ...]] = {
    "size_class": ("employees", "annual_revenue_cny"),
    "urgency": ("cash_runway_months",),
    "cash_runway_months": ("cash_runway_months",),
    "industry": ("business_type",),
}


@dataclass(frozen=True)
class ProgrammeMatch:
    programme: Programme
    outcome: Outcome
    near_miss: bool
    availability: Availability
    need_fit: int
    preference_points: int
    states: tuple[State, ...]  # one per criterion, in the programme's order
    failing_groups: tuple[int, ...] = ()
    unknown_groups: tuple[int, ...] = ()
    facts: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def results(self) -> tuple[CriterionResult, ...]:
        """Return each criterion with its state and the answer it was tested on."""
        get = self.facts.get
        return tuple(
            CriterionResult(c, state, get(c.field))
            for c, state in zip(self.programme.criteria, self.states, strict=True)
        )

    @property
    def score(self) -> int:
        return 10 * self.need_fit + self.preference_points

    @property
    def tier(self) -> str:
        """eligible, possibly_eligible, near_miss or not_eligible."""
        return "near_miss" if self.near_miss else str(self.outcome)

    @property
    def questions(self) -> tuple[str, ...]:
        """Return the unanswered fields that would settle the open groups, in form order."""
        wanted = {
            question
            for result in self.results
            if result.criterion.required
            and result.criterion.group in self.unknown_groups
            for question in result.questions
        }
        return tuple(name for name in PROFILE_FIELDS if name in wanted)

    @property
    def changes(self) -> tuple[CriterionResult, ...]:
        """Return the criteria of the failing group: what would have to change."""
        if not self.near_miss:
            return ()
        return tuple(
            r
            for r in self.results
            if r.criterion.required and r.criterion.group == self.failing_groups[0]
        )

    def to_dict(self) -> dict[str, Any]:
        p = self.programme
        return {
            "slug": p.slug,
            "name": str(p.name),
            "provider": str(p.provider_name) or p.provider,
            "outcome": str(self.outcome),
            "near_miss": self.near_miss,
            "tier": self.tier,
            "availability": str(self.availability),
            "opens_on": jsonable(p.opens_on),
            "closes_on": jsonable(p.closes_on),
            "score": self.score,
            "days_to_money": p.days_to_money,
            "discretionary": str(p.discretionary) or None,
            "questions": list(self.questions),
            "criteria": [
                {
                    "field": r.criterion.field,
                    "operator": str(r.criterion.operator),
                    "expected": jsonable(r.criterion.value),
                    "actual": jsonable(r.actual),
                    "state": str(r.state),
                    "required": r.criterion.required,
                    "group": r.criterion.group,
                    "basis": str(r.criterion.basis),
                    "reason": r.reason,
                    "explanation": str(r.criterion.explanation),
                }
                for r in self.results
            ],
        }


def assess(
    profile: Profile,
    programme: Programme,
    *,
    as_of: datetime.date,
    facts: Mapping[str, Any] | None = None,
) -> ProgrammeMatch:
    """Return how one profile fares against one programme's criteria."""
    facts = profile.facts() if facts is None else facts
    rules = programme.rules
    get = facts.get
    met, not_met, unknown_state = State.MET, State.NOT_MET, State.UNKNOWN
    states = tuple(
        unknown_state
        if (actual := get(name)) is None
        else met
        if test(actual)
        else not_met
        for name, test in rules.tests
    )
    failing: list[int] = []
    unknown: list[int] = []
    for group, members in rules.groups:
        # A group holds when any criterion is met; it fails when all are not met.
        open_question = False
        for i in members:
            state = states[i]
            if state is met:
                break
            if state is unknown_state:
                open_question = True
        else:
            (unknown if open_question else failing).append(group)
    if failing:
        outcome = Outcome.NOT_ELIGIBLE
    elif unknown or programme.discretionary:
        outcome = Outcome.POSSIBLY_ELIGIBLE
    else:
        outcome = Outcome.ELIGIBLE
    return ProgrammeMatch(
        programme=programme,
        outcome=outcome,
        near_miss=len(failing) == 1,
        availability=programme.availability(as_of),
        need_fit=len(profile.needs & programme.needs),
        preference_points=sum(states[i] is met for i in rules.preferences),
        states=states,
        failing_groups=tuple(failing),
        unknown_groups=tuple(unknown),
        facts=facts,
    )


TIER_ORDER = {"eligible": 0, "possibly_eligible": 1, "near_miss": 2, "not_eligible": 3}
AVAILABILITY_ORDER = {
    Availability.OPEN: 0,
    Availability.NOT_YET_OPEN: 1,
    Availability.CLOSED: 2,
}
NO_DAYS = 10**9


def rank_key(match: ProgrammeMatch, *, urgent: bool) -> tuple:
    """Return the sort key of the ranking rule described in this module's docstring."""
    days = match.programme.days_to_money
    days = NO_DAYS if days is None else days
    fit = (days, -match.score) if urgent else (-match.score, days)
    return (
        TIER_ORDER[match.tier],
        AVAILABILITY_ORDER[match.availability],
        *fit,
        match.programme.slug,
    )


@dataclass(frozen=True)
class MatchReport:
    profile: Profile
    as_of: datetime.date
    catalogue_version: str
    matches: tuple[ProgrammeMatch, ...] = field(default_factory=tuple)

    def tier(self, name: str) -> list[ProgrammeMatch]:
        return [m for m in self.matches if m.tier == name]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(TIER_ORDER, 0)
        for m in self.matches:
            counts[m.tier] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "catalogue_version": self.catalogue_version,
            "profile": self.profile.to_dict(),
            "derived": {k: jsonable(v) for k, v in self.profile.derived().items()},
            "counts": self.counts(),
            "results": [m.to_dict() for m in self.matches],
        }


def match(
    profile: Profile,
    programmes: Iterable[Programme],
    *,
    as_of: datetime.date,
    catalogue_version: str = "",
) -> MatchReport:
    """Return every programme assessed for the profile, ranked best first."""
    facts = profile.facts()
    urgent = facts["urgency"] in URGENT
    assessed = [assess(profile, p, as_of=as_of, facts=facts) for p in programmes]
    assessed.sort(key=lambda m: rank_key(m, urgent=urgent))
    return MatchReport(profile, as_of, catalogue_version, tuple(assessed))


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        value = value.normalize() + 0
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Text):
        return {"en": value.en, "zh_hans": value.zh}
    return value
