"""
The profile contract: the one definition of what a business profile is.

Each answer field is declared once, on ``Profile`` itself, with ``answer()``:
its kind, its allowed values and their labels, its bounds, whether it is
required, the question as the form asks it, its help text, its form section
and how it is stored. Derived fields (``industry``, ``size_class``,
``urgency``) are declared in ``DERIVED``. Everything else is built from these
declarations and nothing else:

* ``FIELDS``, ``PROFILE_FIELDS``, ``CRITERION_FIELDS``, ``MASKED_FIELDS``;
* ``parse_profile``, the one parser of answers, used by the JSON API, the
  screening CSV and the command line (the web form builds its fields from
  the same specs in ``programs.journey.forms``);
* ``FieldSpec.message``, what a reader is told when an answer is refused,
  the same sentence from the form and from the parser;
* ``to_columns`` / ``from_columns``, the stored model's column values
  (``programs.checks`` fails ``manage.py check`` when the model drifts);
* ``display_value``, a value as a reader reads it.

Vocabularies are append only: stored sets are bit masks in their order, so
reordering a vocabulary would change what stored profiles mean.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy, pgettext_lazy

from programs.engine.text import (
    format_number,
    is_chinese,
    jsonable,
    list_separator,
    quoted_items,
    together,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

Choices = tuple[tuple[str, "StrPromise"], ...]

# --------------------------------------------------------------------------
# Vocabularies
# --------------------------------------------------------------------------

BUSINESS_TYPES: Choices = (
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
REGISTRATIONS: Choices = (
    ("unregistered", _("Unregistered (no business licence)")),
    ("individual_business", _("Individual business (个体工商户)")),
    ("company", _("Company")),
)
PROVINCES: Choices = (
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
EXPORT_MARKETS: Choices = (
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
PLATFORMS: Choices = (
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
PREMISES: Choices = (
    ("none", _("No premises")),
    ("rented_state_owned", _("Rented from a state-owned landlord")),
    ("rented_private", _("Rented from a private landlord")),
    ("owned", _("Owned")),
)
NEEDS: Choices = (
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
INDUSTRIES: Choices = (
    ("retail", _("retail")),
    ("catering", _("catering")),
    ("industry", pgettext_lazy("industry category (工业)", "industry")),
    ("wholesale", _("wholesale")),
    ("agriculture", _("agriculture, forestry, animal husbandry and fishery")),
    ("software_it", _("software and information technology services")),
    ("other_unlisted", _("other industries not listed")),
)
SIZE_CLASSES: Choices = (
    ("micro", _("micro")),
    ("small", _("small")),
    ("medium", _("medium")),
    ("large", _("large")),
)
URGENCIES: Choices = (
    ("critical", _("critical: one month of cash or less")),
    ("high", _("high: three months or less")),
    ("moderate", _("moderate: six months or less")),
    ("low", _("low: more than six months")),
)

# --------------------------------------------------------------------------
# Units: a number as a reader reads it, "80,000 CNY", "80,000元"
# --------------------------------------------------------------------------

CNY = _("%(number)s CNY")
PERCENT = _("%(number)s%%")
MONTHS = ngettext_lazy("%(number)s month", "%(number)s months", "count")
YEARS = ngettext_lazy("%(number)s year", "%(number)s years", "count")
PEOPLE = ngettext_lazy("%(number)s person", "%(number)s people", "count")

# --------------------------------------------------------------------------
# Field specs
# --------------------------------------------------------------------------


class FieldKind(StrEnum):
    CHOICE = "choice"
    MULTI = "multi"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    TEXT = "text"


class Storage(StrEnum):
    """How a field is stored on ``BusinessProfile``."""

    COLUMN = "column"  # a column of the field's own name
    MASK = "mask"  # an integer column <name>_mask, bit i = the i-th code


class Section(StrEnum):
    """The form's sections, in order."""

    BUSINESS = "business"
    SIZE_AND_MONEY = "size_and_money"
    EXPORTS = "exports"
    NEEDS = "needs"

    @property
    def legend(self) -> StrPromise:
        return SECTION_LEGENDS[self]


SECTION_LEGENDS: dict[Section, StrPromise] = {
    Section.BUSINESS: _("Your business"),
    Section.SIZE_AND_MONEY: _("Size and money"),
    Section.EXPORTS: _("Exports and online sales"),
    Section.NEEDS: _("What you need"),
}


@dataclass(frozen=True)
class FieldSpec:
    """Everything the application knows about one profile field."""

    name: str
    label: StrPromise  # a noun phrase, as reasons name the field
    kind: FieldKind
    choices: Choices = ()
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    required: bool = False
    derived: bool = False
    question: StrPromise | None = None  # as the form asks it; derived fields: None
    help_text: StrPromise | str = ""
    section: Section | None = None
    storage: Storage = Storage.COLUMN
    none_label: StrPromise | None = None  # sets: the "none of these" answer
    #: What the owner can do to change the answer, with %(values)s for the
    #: values a rule wants; None: not something anyone changes to get relief.
    action: StrPromise | None = None
    max_length: int = 0  # text
    testable: bool = True  # may a criterion test it?
    criterion_column: str = ""  # the column criteria test, when not the stored one
    settled_by: tuple[str, ...] = ()  # derived: the answers that settle it
    #: How a number of this field is written with its unit: a lazy message
    #: with %(number)s, plural on %(count)s ("%(number)s people", "%(number)s人").
    unit: StrPromise | None = None
    #: The field as a sentence names it, when the label carries the unit
    #: ("annual revenue (CNY)" -> "annual revenue"); None: the label.
    noun: StrPromise | None = None
    #: Yes/no fields: the answer as the owner's own statement, for yes and
    #: for no ("you have a bank loan", "you have no bank loan").
    statements: tuple[StrPromise, StrPromise] | None = None
    #: Choices that are names (provinces, regions, platforms) keep their
    #: capital inside an English sentence; others read "a convenience store".
    names: bool = False

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(code for code, _label in self.choices)

    def choice_label(self, code: str) -> str:
        return str(dict(self.choices).get(code, code))

    @property
    def column(self) -> str:
        """Return the BusinessProfile column that stores the answer."""
        return f"{self.name}_mask" if self.storage is Storage.MASK else self.name

    @property
    def name_in_sentence(self) -> str:
        """Return the field as a sentence names it, in the active language."""
        return str(self.noun or self.label)

    @property
    def max_items(self) -> int:
        """Return how many items a set answer may list (repeats included)."""
        return 4 * len(self.choices)

    @property
    def questions(self) -> tuple[str, ...]:
        """Return the answer fields that would settle this field when unknown."""
        return self.settled_by or (self.name,)

    def message(self, refusal: Refusal) -> str:
        """Return what a reader is told when an answer is refused, in the active language."""
        by_kind = REFUSAL_MESSAGES[refusal]
        message = by_kind.get(self.kind, by_kind[None])
        return str(message) % {
            "min": "" if self.minimum is None else format_number(self.minimum),
            "max": "" if self.maximum is None else format_number(self.maximum),
            "length": format_number(self.max_length),
        }

    def messages(self) -> dict[str, str]:
        """Return every refusal's message by its code, translated when shown.

        Form fields are built once, at import, so each message is lazy: it is
        worded in the language active when the error is displayed.
        """
        return {refusal.value: lazy(self.message, str)(refusal) for refusal in Refusal}


class Refusal(StrEnum):
    """Why an answer is refused.

    The values are the error codes of Django's form fields and validators,
    so ``FieldSpec.messages()`` can be given to a form field as its
    ``error_messages`` (validators' messages are replaced by code too).
    """

    REQUIRED = "required"
    NOT_A_NUMBER = "invalid"
    BELOW_MINIMUM = "min_value"
    ABOVE_MAXIMUM = "max_value"
    DECIMAL_PLACES = "max_decimal_places"
    INVALID_CHOICE = "invalid_choice"
    TOO_LONG = "max_length"
    TOO_MANY = "too_many"


#: The sentence for each refusal, by field kind (None: any other kind), as
#: the form, the API, the CSV upload and the command line all say it.
#: %(min)s and %(max)s are the field's bounds, %(length)s its longest text.
#: No message may contain a literal "%": Django fills a validator's
#: parameters into the message it shows.
REFUSAL_MESSAGES: dict[Refusal, dict[FieldKind | None, StrPromise]] = {
    Refusal.REQUIRED: {
        FieldKind.CHOICE: _("Choose one."),
        FieldKind.MULTI: _("Choose at least one."),
        None: _("Answer this question."),
    },
    Refusal.NOT_A_NUMBER: {
        FieldKind.INTEGER: _("Enter a whole number, for example 12."),
        None: _("Enter a number, for example 12."),
    },
    Refusal.BELOW_MINIMUM: {None: _("Enter %(min)s or more.")},
    Refusal.ABOVE_MAXIMUM: {None: _("Enter %(max)s or less.")},
    # The form keeps two decimal places (programs.journey.forms).
    Refusal.DECIMAL_PLACES: {
        None: _("Use at most 2 decimal places, for example 12.25.")
    },
    Refusal.INVALID_CHOICE: {
        FieldKind.BOOLEAN: _("Answer yes or no."),
        None: _("Choose from the list."),
    },
    Refusal.TOO_LONG: {None: _("Use %(length)s characters or fewer.")},
    Refusal.TOO_MANY: {None: _("Too many choices.")},
}


def answer(
    kind: FieldKind,
    label: StrPromise,
    *,
    question: StrPromise,
    section: Section,
    choices: Choices = (),
    minimum: int | None = None,
    maximum: int | None = None,
    required: bool = False,
    default: Any = None,
    **options: Any,
) -> Any:
    """Declare one answer field of ``Profile`` with its spec (name from the attribute)."""
    spec = {
        "label": label,
        "kind": kind,
        "choices": choices,
        "minimum": None if minimum is None else Decimal(minimum),
        "maximum": None if maximum is None else Decimal(maximum),
        "required": required,
        "question": question,
        "section": section,
        "storage": Storage.MASK if kind is FieldKind.MULTI else Storage.COLUMN,
        **options,
    }
    if required:
        return dataclasses.field(metadata={"spec": spec})
    return dataclasses.field(default=default, metadata={"spec": spec})


# --------------------------------------------------------------------------
# The profile
# --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Profile:
    """Answers of the profile contract; None means not answered.

    For set fields None is unknown and an empty set is "none of these".
    """

    business_type: str = answer(
        FieldKind.CHOICE,
        _("type of business"),
        choices=BUSINESS_TYPES,
        required=True,
        question=_("What kind of business do you run?"),
        section=Section.BUSINESS,
    )
    registration: str | None = answer(
        FieldKind.CHOICE,
        _("registration"),
        choices=REGISTRATIONS,
        action=_("Register as %(values)s."),
        question=_("How is it registered?"),
        section=Section.BUSINESS,
    )
    province: str = answer(
        FieldKind.CHOICE,
        _("province"),
        choices=PROVINCES,
        names=True,
        required=True,
        question=_("Province or region"),
        section=Section.BUSINESS,
    )
    city: str = answer(
        FieldKind.TEXT,
        _("city"),
        default="",
        max_length=100,
        testable=False,
        question=_("City"),
        section=Section.BUSINESS,
    )
    employees: int | None = answer(
        FieldKind.INTEGER,
        _("number of employees"),
        minimum=0,
        maximum=10_000_000,
        unit=PEOPLE,
        question=_("How many people work for you?"),
        help_text=_("Count yourself and family members who work in the business."),
        section=Section.SIZE_AND_MONEY,
    )
    annual_revenue_cny: Decimal | None = answer(
        FieldKind.DECIMAL,
        _("annual revenue (CNY)"),
        minimum=0,
        maximum=10**13,
        unit=CNY,
        noun=_("annual revenue"),
        question=_("Revenue last year (CNY)"),
        section=Section.SIZE_AND_MONEY,
    )
    years_operating: Decimal | None = answer(
        FieldKind.DECIMAL,
        _("years in business"),
        minimum=0,
        maximum=200,
        unit=YEARS,
        noun=_("time in business"),
        question=_("Years in business"),
        section=Section.BUSINESS,
    )
    export_share_pct: Decimal | None = answer(
        FieldKind.DECIMAL,
        _("share of revenue from exports (%)"),
        minimum=0,
        maximum=100,
        unit=PERCENT,
        noun=_("share of revenue from exports"),
        question=_("Share of revenue from exports (%)"),
        section=Section.EXPORTS,
    )
    export_markets: frozenset[str] | None = answer(
        FieldKind.MULTI,
        _("export markets"),
        choices=EXPORT_MARKETS,
        names=True,
        none_label=_("I don't export"),
        question=_("Where do you export to?"),
        section=Section.EXPORTS,
    )
    platforms: frozenset[str] | None = answer(
        FieldKind.MULTI,
        _("online platforms and payment accounts"),
        choices=PLATFORMS,
        names=True,
        none_label=_("None of these"),
        action=_("Open a shop or an account on %(values)s."),
        question=_("Which platforms and payment accounts do you use?"),
        section=Section.EXPORTS,
    )
    cash_runway_months: Decimal | None = answer(
        FieldKind.DECIMAL,
        _("months of cash runway"),
        minimum=0,
        maximum=120,
        unit=MONTHS,
        noun=_("cash runway"),
        # Criteria test the runway worked out from cash and costs when the
        # months were not answered (``Profile.facts``), stored apart.
        criterion_column="runway_months",
        question=_("How many months could you keep going on the cash you have?"),
        help_text=_(
            "If you are not sure, fill in cash on hand and monthly fixed costs instead."
        ),
        section=Section.SIZE_AND_MONEY,
    )
    cash_on_hand_cny: Decimal | None = answer(
        FieldKind.DECIMAL,
        _("cash on hand (CNY)"),
        minimum=0,
        maximum=10**13,
        unit=CNY,
        noun=_("cash on hand"),
        testable=False,
        question=_("Cash on hand (CNY)"),
        section=Section.SIZE_AND_MONEY,
    )
    monthly_fixed_costs_cny: Decimal | None = answer(
        FieldKind.DECIMAL,
        _("monthly fixed costs (CNY)"),
        minimum=0,
        maximum=10**13,
        unit=CNY,
        noun=_("monthly fixed costs"),
        testable=False,
        question=_("Monthly fixed costs: rent, wages, loan payments (CNY)"),
        section=Section.SIZE_AND_MONEY,
    )
    revenue_change_pct: Decimal | None = answer(
        FieldKind.DECIMAL,
        _("revenue change against last year (%)"),
        minimum=-100,
        maximum=1000,
        unit=PERCENT,
        noun=_("revenue change against last year"),
        question=_("Revenue change against the same time last year (%)"),
        help_text=_("For example -40 if sales fell by 40%."),
        section=Section.SIZE_AND_MONEY,
    )
    has_bank_loan: bool | None = answer(
        FieldKind.BOOLEAN,
        _("has a bank loan"),
        statements=(_("you have a bank loan"), _("you have no bank loan")),
        question=_("Do you have a bank loan?"),
        section=Section.SIZE_AND_MONEY,
    )
    bank_credit_cny: Decimal | None = answer(
        FieldKind.DECIMAL,
        _("total bank credit (CNY)"),
        minimum=0,
        maximum=10**13,
        unit=CNY,
        noun=_("total bank credit"),
        question=_("How much credit do banks give you in total (CNY)?"),
        help_text=_(
            "All loans and credit lines together. Inclusive small-business loans are "
            "for a total of RMB 10 million or less."
        ),
        section=Section.SIZE_AND_MONEY,
    )
    premises: str | None = answer(
        FieldKind.CHOICE,
        _("premises"),
        choices=PREMISES,
        question=_("Your premises"),
        section=Section.SIZE_AND_MONEY,
    )
    vat_small_scale: bool | None = answer(
        FieldKind.BOOLEAN,
        _("small-scale VAT taxpayer"),
        statements=(
            _("you are a small-scale VAT taxpayer"),
            _("you are not a small-scale VAT taxpayer"),
        ),
        question=_("Are you a small-scale VAT taxpayer?"),
        section=Section.SIZE_AND_MONEY,
    )
    needs: frozenset[str] = answer(
        FieldKind.MULTI,
        _("needs"),
        choices=NEEDS,
        required=True,
        # Needs decide which programmes matter to the owner, never who can
        # get one: rules do not test them (``Programme.needs`` says what a
        # programme addresses).
        testable=False,
        question=_("What help do you need?"),
        help_text=_("Choose at least one."),
        section=Section.NEEDS,
    )

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
        values = {name: getattr(self, name) for name in PROFILE_FIELDS}
        values.update(self.derived())
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
        return {name: jsonable(getattr(self, name)) for name in PROFILE_FIELDS}


#: Derived fields: worked out from the answers, stored, never asked.
DERIVED: tuple[FieldSpec, ...] = (
    FieldSpec(
        "industry",
        _("industry"),
        FieldKind.CHOICE,
        INDUSTRIES,
        required=True,  # always known: it follows from the business type
        derived=True,
        settled_by=("business_type",),
    ),
    FieldSpec(
        "size_class",
        _("size class"),
        FieldKind.CHOICE,
        SIZE_CLASSES,
        derived=True,
        settled_by=("employees", "annual_revenue_cny"),
    ),
    FieldSpec(
        "urgency",
        _("urgency"),
        FieldKind.CHOICE,
        URGENCIES,
        derived=True,
        settled_by=("cash_runway_months",),
    ),
)

FIELDS: dict[str, FieldSpec] = {
    **{
        f.name: FieldSpec(name=f.name, **f.metadata["spec"])
        for f in fields(Profile)
        if "spec" in f.metadata
    },
    **{spec.name: spec for spec in DERIVED},
}

#: Answer fields of the contract, in contract order (derived ones excluded).
PROFILE_FIELDS: tuple[str, ...] = tuple(n for n, s in FIELDS.items() if not s.derived)

#: The first step's questions, in the order it asks them: what most changes
#: the answer. The rest are asked on the results page when they would settle
#: a programme (``MatchReport.questions_to_ask``), or all at once on request.
FIRST_STEP: tuple[str, ...] = (
    "business_type",
    "province",
    "needs",
    "employees",
    "cash_runway_months",
    "registration",
    "platforms",
)
#: Answers that work out one the first step asks, for an owner who does not
#: know it: cash on hand and monthly costs give the months of runway.
HELPERS: dict[str, tuple[str, ...]] = {
    "cash_runway_months": ("cash_on_hand_cny", "monthly_fixed_costs_cny"),
}

#: Fields a criterion may test: every answer except free text and the two
#: runway inputs (a criterion on runway uses the worked-out runway).
CRITERION_FIELDS: tuple[str, ...] = tuple(n for n, s in FIELDS.items() if s.testable)

#: Set fields stored as bit masks, with their vocabularies.
MASKED_FIELDS: dict[str, tuple[str, ...]] = {
    name: spec.codes for name, spec in FIELDS.items() if spec.storage is Storage.MASK
}

# --------------------------------------------------------------------------
# Derived fields: industry, size class (2011 standard) and urgency
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
# Answers that cannot all be true
# --------------------------------------------------------------------------

#: The small-scale VAT taxpayer standard: annual VAT-liable sales of RMB 5
#: million or less (财税〔2018〕33号, from 1 May 2018). Above it a business must
#: register as a general taxpayer.
SMALL_SCALE_VAT_LIMIT = Decimal(5_000_000)


@dataclass(frozen=True)
class Contradiction:
    """Two answers that cannot both be true, and what to tell the owner."""

    fields: tuple[str, str]
    message: StrPromise
    holds: Callable[[Mapping[str, Any]], bool]  # True when the answers contradict


def _exports_without_markets(v: Mapping[str, Any]) -> bool:
    share = v.get("export_share_pct")
    return share is not None and share > 0 and v.get("export_markets") == frozenset()


def _markets_without_exports(v: Mapping[str, Any]) -> bool:
    share = v.get("export_share_pct")
    return share is not None and share == 0 and bool(v.get("export_markets"))


def _small_scale_above_the_limit(v: Mapping[str, Any]) -> bool:
    revenue = v.get("annual_revenue_cny")
    return (
        revenue is not None
        and revenue > SMALL_SCALE_VAT_LIMIT
        and v.get("vat_small_scale") is True
    )


CONTRADICTIONS: tuple[Contradiction, ...] = (
    Contradiction(
        ("export_share_pct", "export_markets"),
        _(
            "You chose “I don't export” but gave a share of revenue from exports "
            "above 0. Change one of the two."
        ),
        _exports_without_markets,
    ),
    Contradiction(
        ("export_share_pct", "export_markets"),
        _(
            "You said none of your revenue comes from exports but chose export "
            "markets. Change one of the two."
        ),
        _markets_without_exports,
    ),
    Contradiction(
        ("annual_revenue_cny", "vat_small_scale"),
        _(
            "With revenue above RMB 5 million a year a business is a general VAT "
            "taxpayer, not a small-scale one. Check your revenue or your VAT answer."
        ),
        _small_scale_above_the_limit,
    ),
)


@dataclass(frozen=True)
class Implication:
    """An answer that follows from another one: asked never, shown as implied.

    When ``field`` is not answered and the answer ``when_field`` meets the
    rule ``(when_operator, when_value)`` of the rule language, ``field`` is
    taken to be ``value``. The matcher applies it to a profile's facts and the
    SQL path to stored columns (``programs.engine.sql``), from this one
    declaration.
    """

    field: str
    value: Any
    when_field: str
    when_operator: str
    when_value: Any
    because: StrPromise


IMPLICATIONS: tuple[Implication, ...] = (
    Implication(
        "export_markets",
        frozenset(),
        "export_share_pct",
        "lte",
        Decimal(0),
        _(
            "You said none of your revenue comes from exports, so you have no export markets."
        ),
    ),
    Implication(
        "export_share_pct",
        Decimal(0),
        "export_markets",
        "not_contains_any",
        tuple(code for code, _label in EXPORT_MARKETS),
        _("You said you don't export, so none of your revenue comes from exports."),
    ),
    Implication(
        "vat_small_scale",
        False,
        "annual_revenue_cny",
        "gte",
        SMALL_SCALE_VAT_LIMIT + Decimal("0.01"),
        _(
            "Your revenue is above RMB 5 million a year, so you are a general VAT "
            "taxpayer, not a small-scale one."
        ),
    ),
)

#: Field -> the implications that can fill it.
IMPLIED_FIELDS: dict[str, tuple[Implication, ...]] = {
    name: tuple(i for i in IMPLICATIONS if i.field == name)
    for name in {i.field for i in IMPLICATIONS}
}


def contradictions(values: Mapping[str, Any]) -> list[tuple[tuple[str, str], str]]:
    """Return the answers that contradict each other, each with its message."""
    return [(c.fields, str(c.message)) for c in CONTRADICTIONS if c.holds(values)]


# --------------------------------------------------------------------------
# Parsing answers: the one validation path for the API, CSV and commands
# --------------------------------------------------------------------------


class ProfileError(ValueError):
    """Every problem found in a profile, by field; each a translated message."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


class FieldProblem(ValueError):
    """One answer refused, with the message a reader sees."""

    def __init__(self, message: StrPromise | str):
        super().__init__(message)
        self.message = message


def to_decimal(value: Any) -> Decimal:
    """Return a finite Decimal from a number or a numeric string, else raise."""
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


def to_bool(value: Any) -> bool:
    """Return a yes/no answer from a bool or a yes/no word, else raise ValueError."""
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

    Accepts JSON values, and numbers and yes/no answers as text (from CSV);
    a set is a list of codes. Unknown keys are errors, so a misspelt field
    never silently becomes "not answered".
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
        try:
            values[name] = parse_value(FIELDS[name], data.get(name))
        except FieldProblem as problem:
            errors.setdefault(name, []).append(str(problem.message))
    if not errors:
        for fields_, message in contradictions(values):
            for name in fields_:
                errors.setdefault(name, []).append(message)
    if errors:
        raise ProfileError(errors)
    values["city"] = values["city"] or ""
    return Profile(**values)


def parse_value(spec: FieldSpec, raw: Any) -> Any:  # noqa: C901 - one branch per kind
    """Return one answer in its contract type, or raise FieldProblem."""
    if spec.kind is FieldKind.MULTI:
        if raw is None:
            if spec.required:
                raise FieldProblem(spec.message(Refusal.REQUIRED))
            return None
        items = raw
        if not isinstance(items, list | tuple | set | frozenset):
            raise FieldProblem(_("Give a list of choices."))
        if len(items) > spec.max_items:
            raise FieldProblem(spec.message(Refusal.TOO_MANY))
        codes = {str(item).strip() for item in items if str(item).strip()}
        if unknown := sorted(codes - set(spec.codes)):
            raise FieldProblem(
                _("Unknown choice: %(values)s.")
                % {"values": ", ".join(v[:40] for v in unknown[:5])}
            )
        if spec.required and not codes:
            raise FieldProblem(spec.message(Refusal.REQUIRED))
        return frozenset(codes)
    if _is_blank(raw):
        if spec.required:
            raise FieldProblem(spec.message(Refusal.REQUIRED))
        return None
    if spec.kind is FieldKind.CHOICE:
        code = raw.strip() if isinstance(raw, str) else raw
        if code not in spec.codes:
            raise FieldProblem(spec.message(Refusal.INVALID_CHOICE))
        return code
    if spec.kind is FieldKind.TEXT:
        if not isinstance(raw, str):
            raise FieldProblem(_("Enter text."))
        text = raw.strip()
        if len(text) > spec.max_length:
            raise FieldProblem(spec.message(Refusal.TOO_LONG))
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
            raise FieldProblem(_("Remove control characters."))
        return text
    if spec.kind is FieldKind.BOOLEAN:
        try:
            return to_bool(raw)
        except ValueError:
            raise FieldProblem(spec.message(Refusal.INVALID_CHOICE)) from None
    whole = spec.kind is FieldKind.INTEGER
    try:
        number = to_decimal(raw)
    except (TypeError, ValueError, InvalidOperation):
        raise FieldProblem(spec.message(Refusal.NOT_A_NUMBER)) from None
    if spec.minimum is not None and number < spec.minimum:
        raise FieldProblem(spec.message(Refusal.BELOW_MINIMUM))
    if spec.maximum is not None and number > spec.maximum:
        raise FieldProblem(spec.message(Refusal.ABOVE_MAXIMUM))
    if whole:
        if number != number.to_integral_value():
            raise FieldProblem(spec.message(Refusal.NOT_A_NUMBER))
        return int(number)
    if number.as_tuple().exponent < -2:  # type: ignore[operator]
        number = number.quantize(Decimal("0.01"))
    return number


# --------------------------------------------------------------------------
# Storage: a profile as BusinessProfile's column values, and back
# --------------------------------------------------------------------------


def mask_of(codes: frozenset[str] | set[str] | tuple[str, ...], field: str) -> int:
    """Return the bit mask of a set of codes of a set field."""
    vocabulary = MASKED_FIELDS[field]
    return sum(1 << vocabulary.index(code) for code in codes)


def codes_of(mask: int, field: str) -> frozenset[str]:
    """Return the codes a bit mask of a set field stands for."""
    vocabulary = MASKED_FIELDS[field]
    return frozenset(code for i, code in enumerate(vocabulary) if mask >> i & 1)


#: Derived field -> its stored column; the worked-out runway is stored apart
#: from the months as answered, in the column criteria on runway test.
DERIVED_COLUMNS: dict[str, str] = {
    **{spec.name: spec.column for spec in DERIVED},
    "cash_runway_months": FIELDS["cash_runway_months"].criterion_column,
}


def to_columns(profile: Profile) -> dict[str, Any]:
    """Return the stored model's column values for a profile, derived ones included."""
    values: dict[str, Any] = {}
    for name in PROFILE_FIELDS:
        spec, value = FIELDS[name], getattr(profile, name)
        if spec.storage is Storage.MASK:
            value = None if value is None else mask_of(value, name)
        values[spec.column] = value
    for name, value in profile.derived().items():
        values[DERIVED_COLUMNS[name]] = value
    return values


def from_columns(row: Any) -> Profile:
    """Return the Profile stored in a row (any object with the model's columns)."""
    values: dict[str, Any] = {}
    for name in PROFILE_FIELDS:
        spec = FIELDS[name]
        value = getattr(row, spec.column)
        if spec.storage is Storage.MASK and value is not None:
            value = codes_of(value, name)
        values[name] = value
    values["city"] = values["city"] or ""
    return Profile(**values)


def criterion_column(name: str) -> str:
    """Return the stored column a criterion on the field is tested against."""
    spec = FIELDS[name]
    return spec.criterion_column or spec.column


# --------------------------------------------------------------------------
# Values as a reader reads them
# --------------------------------------------------------------------------


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
            % {"low": format_number(value[0]), "high": format_number(value[1])}
        )
    if isinstance(value, list | tuple | set | frozenset):
        if not value:
            return str(_("none"))
        return list_separator().join(spec.choice_label(v) for v in sorted(value))
    if isinstance(value, Decimal | int):
        return format_number(value)
    return str(value)


def with_unit(field_name: str, value: Decimal | int) -> str:
    """Return a number of a field with its unit: "80,000 CNY", "80,000元", "12人"."""
    spec = FIELDS[field_name]
    number = format_number(value)
    if spec.unit is None:
        return number
    # English says "1 month" but "0.5 months": only a whole 1 is singular.
    count = int(value) if value == int(value) else 2
    return str(spec.unit % {"count": count, "number": number})


def labels_of(field_name: str, codes: Iterable[str]) -> list[str]:
    """Return the labels of codes of a field, in the order of its vocabulary."""
    spec, wanted = FIELDS[field_name], set(codes)
    return [str(label) for code, label in spec.choices if code in wanted]


def spoken_value(field_name: str, value: Any) -> str:
    """Return a value as a sentence says it, in the active language.

    Numbers carry the field's unit, a yes or no is the owner's own statement
    ("you have no bank loan"), codes are labels, and several labels read
    "A, B and C" / "A、B和C" (a label that reads as a list is quoted).
    """
    spec = FIELDS[field_name]
    if isinstance(value, bool):
        if spec.statements:
            return str(spec.statements[0 if value else 1])
    elif isinstance(value, Decimal | int):
        return with_unit(field_name, value)
    elif isinstance(value, list | tuple | set | frozenset) and value:
        labels = [in_sentence(spec, label) for label in labels_of(field_name, value)]
        return together(quoted_items(labels))
    elif isinstance(value, str) and spec.choices:
        return in_sentence(spec, display_value(field_name, value))
    return display_value(field_name, value)


def in_sentence(spec: FieldSpec, label: str) -> str:
    """Return a choice's label as it reads inside an English sentence.

    "Convenience store or corner shop" -> "convenience store or corner shop";
    names keep their capital, and Chinese has none to drop.
    """
    if spec.names or is_chinese() or not label[:2].istitle():
        return label
    return label[0].lower() + label[1:]
