"""
The eligibility engine: a pure module over plain data.

Nothing here touches the ORM, so every rule runs and is tested without a
database. The profile contract (``contract``) says what a profile is; the
rule language (``rules``) what each operator means; this module assesses a
profile against programmes. ``programs.catalogue.store`` loads programmes
from the database into the dataclasses below; ``programs.engine.sql``
compiles the same criteria into database conditions, and a property test
proves the two paths agree.

Contract
--------
* Each ``Criterion`` names a profile field, an operator and a value, and
  evaluates to **met**, **not met** or **unknown** (field not answered).
* Criteria in the same group are alternatives (any may pass); every group of
  required criteria must pass. Preference criteria never filter; when met
  they raise the score.
* A programme is ``eligible`` when every group is met, ``possibly_eligible``
  when no group failed but some are unknown, else ``not_eligible``.
* A not-eligible programme is a *near miss* when exactly one group fails and
  that group is one the owner can act on: each of its criteria is met by
  something the owner can do (a field with an action, such as opening a
  shop on a platform or registering as an individual business). Anything
  else that fails is simply not for this business.
* Programmes whose selection is at the provider's discretion are never better
  than ``possibly_eligible``.
* What the owner needs never decides eligibility: a programme declares the
  needs it addresses, and each result says which of the owner's stated needs
  it addresses (``needs_addressed``); those the sources do not state are our
  reading (``needs_assumed``) and said to be.

Ranking (the one place it is defined: ``rank_key``)
---------------------------------------------------
1. Programmes that fit or might fit and address at least one stated need;
   then those that address none ("you also qualify for"); then near misses;
   then the rest. Within each: fit before might fit.
2. Availability on the as-of date: open, not yet open, closed.
3. A business whose urgency is critical or high sees the fastest money first
   (``days_to_money``, unknown last), then the programme addressing more of
   its needs (more of them stated by the sources first); any other business
   the programme addressing more needs first, then the fastest money.
4. Ties: more preferences met, the larger amount, the faster money, a
   documented time to money before an estimated one, then the name.

The fit score is ``10 x (needs of the business this programme addresses) +
(preference criteria met)``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from programs.engine.contract import (
    FIELDS,
    IMPLICATIONS,
    PROFILE_FIELDS,
    URGENT,
    FieldSpec,
    Implication,
    Profile,
)
from programs.engine.rules import Operator, State, operator
from programs.engine.text import Text, is_chinese, jsonable

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

NEED_CODES = FIELDS["needs"].codes


class Basis(StrEnum):
    DOCUMENTED = "documented"
    ASSUMED = "assumed"


class Outcome(StrEnum):
    ELIGIBLE = "eligible"
    POSSIBLY_ELIGIBLE = "possibly_eligible"
    NOT_ELIGIBLE = "not_eligible"


OUTCOME_LABELS = {
    Outcome.ELIGIBLE: _("eligible"),
    Outcome.POSSIBLY_ELIGIBLE: _("possibly eligible"),
    Outcome.NOT_ELIGIBLE: _("not eligible"),
}


class Tier(StrEnum):
    """Where a programme stands for a profile: the outcome, with near misses apart.

    The one list of tiers, in rank order, each with its label and its badge
    style; cards, reports, exports and filters all use it.
    """

    ELIGIBLE = "eligible"
    POSSIBLY_ELIGIBLE = "possibly_eligible"
    NEAR_MISS = "near_miss"
    NOT_ELIGIBLE = "not_eligible"

    @property
    def label(self) -> StrPromise:
        return TIER_LABELS[self]

    @property
    def badge(self) -> str:
        """Return the Bootstrap colour of the tier's badge."""
        return TIER_BADGES[self]

    @property
    def rank(self) -> int:
        return TIER_RANKS[self]

    @classmethod
    def choices(cls) -> list[tuple[str, StrPromise]]:
        return [(tier.value, tier.label) for tier in cls]


TIER_LABELS: dict[Tier, StrPromise] = {
    Tier.ELIGIBLE: OUTCOME_LABELS[Outcome.ELIGIBLE],
    Tier.POSSIBLY_ELIGIBLE: OUTCOME_LABELS[Outcome.POSSIBLY_ELIGIBLE],
    Tier.NEAR_MISS: _("near miss"),
    Tier.NOT_ELIGIBLE: OUTCOME_LABELS[Outcome.NOT_ELIGIBLE],
}
TIER_BADGES: dict[Tier, str] = {
    Tier.ELIGIBLE: "success",
    Tier.POSSIBLY_ELIGIBLE: "info",
    Tier.NEAR_MISS: "warning",
    Tier.NOT_ELIGIBLE: "secondary",
}
TIER_RANKS: dict[Tier, int] = {tier: i for i, tier in enumerate(Tier)}

#: The tiers worth telling a business about: reports, summaries and alerts.
SHOWN_TIERS: tuple[Tier, ...] = (Tier.ELIGIBLE, Tier.POSSIBLY_ELIGIBLE, Tier.NEAR_MISS)


#: Outcome value -> its tier, without a near miss (a dict lookup: ranking asks often).
_TIER_OF_OUTCOME: dict[str, Tier] = {
    tier.value: tier for tier in Tier if tier is not Tier.NEAR_MISS
}


def tier_of(outcome: str, near_miss: bool) -> Tier:
    """Return the tier of an outcome and near-miss flag (as stored results keep them)."""
    if near_miss:
        return Tier.NEAR_MISS
    try:
        return _TIER_OF_OUTCOME[outcome]
    except KeyError:
        raise ValueError(f"{outcome!r} is not an outcome") from None


#: Answers are given as of a day from this one to ten years after today.
EARLIEST_AS_OF = datetime.date(2019, 1, 1)


def as_of_problem(as_of: datetime.date) -> StrPromise | None:
    """Return why an as-of date is refused (a lazy message), or None if it is fine."""
    latest = timezone.localdate() + datetime.timedelta(days=3650)
    if not EARLIEST_AS_OF <= as_of <= latest:
        return _("Choose a date between 2019 and ten years from now.")
    return None


class Availability(StrEnum):
    OPEN = "open"
    NOT_YET_OPEN = "not_yet_open"
    CLOSED = "closed"


AVAILABILITY_LABELS = {
    Availability.OPEN: _("open"),
    Availability.NOT_YET_OPEN: _("not yet open"),
    Availability.CLOSED: _("closed"),
}


# --------------------------------------------------------------------------
# Programmes and criteria
# --------------------------------------------------------------------------


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
        return self.operator.test(self.value)

    def describe(self) -> str:
        """Return the rule as the catalogue states it, in the active language."""
        return self.operator.describe(self.spec, self.value)

    @property
    def action(self) -> str | None:
        """Return what the owner can do to meet the criterion, or None."""
        return self.operator.action(self.spec, self.value)

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


@dataclass(frozen=True)
class Source:
    title: str  # as the source itself is titled, in its own language
    url: str = ""
    published_on: datetime.date | None = None
    confidence: str = ""  # H, M or L, as graded in the fact sheet
    #: The title explained in Chinese, for a title in another language.
    title_zh: str = ""

    @property
    def shown_title(self) -> str:
        """Return the title as shown in the active language.

        The original title always stays; Chinese pages add the Chinese
        explanation after it: "China Banking News: …（英文网站China Banking News：…）".
        """
        if self.title_zh and is_chinese():
            return gettext("%(title)s (%(gloss)s)") % {
                "title": self.title,
                "gloss": self.title_zh,
            }
        return self.title

    @property
    def confidence_label(self) -> str:
        """Return the grade spelled out: "Confidence: high", "可信度高"; "" if ungraded."""
        label = CONFIDENCE_LABELS.get(self.confidence)
        return "" if label is None else str(label)


#: Each grade of a source as a reader reads it (the fact sheet's H, M and L).
CONFIDENCE_LABELS: dict[str, StrPromise] = {
    "H": _("Confidence: high"),
    "M": _("Confidence: medium"),
    "L": _("Confidence: low"),
}


@dataclass(frozen=True)
class CompiledRules:
    """A programme's criteria arranged for evaluation, built once per programme.

    ``tests`` pairs each criterion's field with its test, in criteria order;
    ``groups`` lists each required group (ascending) with the indexes of its
    criteria; ``actionable`` the groups the owner can act on;
    ``preferences`` the indexes of preference criteria.
    """

    tests: tuple[tuple[str, Callable[[Any], bool]], ...]
    groups: tuple[tuple[int, tuple[int, ...]], ...]
    actionable: frozenset[int]
    preferences: tuple[int, ...]

    @classmethod
    def of(cls, criteria: Iterable[Criterion]) -> CompiledRules:
        criteria = tuple(criteria)
        groups = required_groups(criteria)
        return cls(
            tests=tuple((c.field, c.test) for c in criteria),
            groups=tuple((g, tuple(members)) for g, members in groups),
            actionable=frozenset(
                g
                for g, members in groups
                if all(criteria[i].action is not None for i in members)
            ),
            preferences=tuple(i for i, c in enumerate(criteria) if not c.required),
        )


def required_groups(
    criteria: Iterable[Criterion],
) -> list[tuple[int, list[int]]]:
    """Return each required group (ascending) with the indexes of its criteria."""
    groups: dict[int, list[int]] = {}
    for i, c in enumerate(criteria):
        if c.required:
            groups.setdefault(c.group, []).append(i)
    return sorted(groups.items())


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
    #: Of ``needs``, those the sources do not state: our reading, said as such.
    needs_assumed: frozenset[str] = frozenset()
    discretionary: Text = Text()  # why selection is at the provider's discretion
    sources: tuple[Source, ...] = ()
    provider_name: Text = Text()

    @cached_property
    def rules(self) -> CompiledRules:
        """Return the criteria compiled for evaluation, built once per programme."""
        return CompiledRules.of(self.criteria)

    @property
    def has_closed(self) -> bool:
        """Return whether the programme has ended by today (or was withdrawn)."""
        return self.withdrawn or (
            self.closes_on is not None and self.closes_on < timezone.localdate()
        )

    @property
    def closes_on_text(self) -> str:
        """Return the closing date, said to be our estimate where it is one."""
        if self.closes_on is None:
            return ""
        if self.closes_on_assumed:
            return gettext("%(date)s (our estimate)") % {
                "date": self.closes_on.isoformat()
            }
        return self.closes_on.isoformat()

    @property
    def closed_text(self) -> str:
        """Return that the programme has ended, or "" while it runs."""
        if self.withdrawn:
            return gettext("Withdrawn by the provider")
        if self.has_closed:
            return gettext("Closed on %(date)s") % {"date": self.closes_on_text}
        return ""

    @property
    def deadline_text(self) -> str:
        """Return the deadline as a card's first fact: ended, or when it closes."""
        if self.closed_text or not self.closes_on:
            return self.closed_text
        return gettext("Deadline: %(date)s") % {"date": self.closes_on_text}

    @property
    def checked_text(self) -> str:
        """Return when the sources were checked, after the programme's end when it
        has ended, so that the date never reads as "still running then"."""
        if self.last_verified_on is None:
            return ""
        checked = self.last_verified_on.isoformat()
        if self.closed_text:
            return gettext("%(closed)s; sources checked on %(date)s.") % {
                "closed": self.closed_text,
                "date": checked,
            }
        return gettext("Sources checked on %(date)s.") % {"date": checked}

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


def catalogue_checked_on(programmes: Iterable[Programme]) -> datetime.date | None:
    """Return the day the catalogue's sources were last checked: its date for
    readers (the fingerprint, ``catalogue_version``, is for machines)."""
    return max(
        (p.last_verified_on for p in programmes if p.last_verified_on), default=None
    )


def catalogue_edition(checked_on: datetime.date | None) -> str:
    """Return the catalogue as a reader names it: "Catalogue of 2026-11-24"."""
    if checked_on is None:
        return ""
    return gettext("Catalogue of %(date)s") % {"date": checked_on.isoformat()}


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


def evaluate(criterion: Criterion, facts: Mapping[str, Any]) -> State:
    """Return whether the profile's facts meet one criterion."""
    actual = facts.get(criterion.field)
    if actual is None:
        return State.UNKNOWN
    return State.MET if criterion.test(actual) else State.NOT_MET


@dataclass(frozen=True)
class CriterionResult:
    criterion: Criterion
    state: State
    actual: Any
    implied_by: Implication | None = None  # the answer was not given but implied

    @property
    def reason(self) -> str:
        """Return why the criterion is met, not met or unknown, in the active language."""
        c = self.criterion
        if self.implied_by is not None and self.state is State.NOT_MET:
            # The owner did not say it: no "you said", the implication and the rule.
            reason = c.operator.describe(c.spec, c.value)
        else:
            reason = c.operator.reason(self.state, c.spec, c.value, self.actual)
        if self.implied_by is not None:
            return gettext("%(because)s %(reason)s") % {
                "because": self.implied_by.because,
                "reason": reason,
            }
        return reason

    @property
    def questions(self) -> tuple[str, ...]:
        """Return the answer fields that would settle this criterion."""
        if self.state is not State.UNKNOWN:
            return ()
        return self.criterion.spec.questions


class ConditionKind(StrEnum):
    RULE = "rule"  # a required group of one criterion
    ANY = "any"  # a required group of alternatives: any one is enough
    BONUS = "bonus"  # a preference: raises the ranking, never required


@dataclass(frozen=True)
class Condition:
    """A required group, or a preference, as the owner reads it.

    ``lines`` are (mark, sentence, criterion): the mark is a ``State`` value, or ""
    for a line that decides nothing for this owner (the other alternatives of
    a group that holds or is still open, a preference not met), worded as the
    rule, not as a failure. Only a group that fails shows its failures.
    """

    kind: ConditionKind
    state: State
    results: tuple[CriterionResult, ...]

    @property
    def lines(self) -> tuple[tuple[str, str, Criterion], ...]:
        return tuple((*self._line(r), r.criterion) for r in self.results)

    def _line(self, r: CriterionResult) -> tuple[str, str]:
        required = self.kind is not ConditionKind.BONUS
        failed = self.state is State.NOT_MET
        open_question = self.state is State.UNKNOWN and r.state is State.UNKNOWN
        if r.state is State.MET or (required and (failed or open_question)):
            return str(r.state), r.reason
        c = r.criterion
        return "", c.operator.describe(c.spec, c.value)


def group_state(states: Iterable[State]) -> State:
    """Return a group's state: met if any member is, unknown if any is, else not met."""
    seen = set(states)
    if State.MET in seen:
        return State.MET
    return State.UNKNOWN if State.UNKNOWN in seen else State.NOT_MET


@dataclass(frozen=True, slots=True)
class ProgrammeMatch:
    """One programme's answer for one profile.

    Slotted: a page or a benchmark makes thousands of these, and objects
    without an instance dictionary cost the garbage collector less.
    """

    programme: Programme
    outcome: Outcome
    near_miss: bool
    #: The outcome, with a near miss apart (``tier_of``).
    tier: Tier
    availability: Availability
    needs_addressed: tuple[str, ...]  # the owner's needs it addresses, contract order
    preference_points: int
    states: tuple[State, ...]  # one per criterion, in the programme's order
    failing_groups: tuple[int, ...] = ()
    unknown_groups: tuple[int, ...] = ()
    facts: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    #: Fields not answered but implied by another answer, with the implication.
    implied: Mapping[str, Implication] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def results(self) -> tuple[CriterionResult, ...]:
        """Return each criterion with its state and the answer it was tested on."""
        get, implied = self.facts.get, self.implied.get
        return tuple(
            CriterionResult(c, state, get(c.field), implied(c.field))
            for c, state in zip(self.programme.criteria, self.states, strict=True)
        )

    @property
    def conditions(self) -> tuple[Condition, ...]:
        """Return the required groups in order, then the preferences, as read."""
        results, rules = self.results, self.programme.rules
        conditions = []
        for _group, members in rules.groups:
            group = tuple(results[i] for i in members)
            kind = ConditionKind.ANY if len(group) > 1 else ConditionKind.RULE
            conditions.append(
                Condition(kind, group_state(r.state for r in group), group)
            )
        for i in rules.preferences:
            conditions.append(
                Condition(ConditionKind.BONUS, results[i].state, (results[i],))
            )
        return tuple(conditions)

    @property
    def need_fit(self) -> int:
        return len(self.needs_addressed)

    @property
    def needs_assumed(self) -> tuple[str, ...]:
        """Return those of ``needs_addressed`` that are our reading of the sources."""
        assumed = self.programme.needs_assumed
        return tuple(code for code in self.needs_addressed if code in assumed)

    @property
    def score(self) -> int:
        return 10 * self.need_fit + self.preference_points

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
    def provider_decides(self) -> bool:
        """Return whether only the provider's own selection is left open: no question
        of ours would settle it, so the owner is told the provider decides."""
        return (
            self.outcome is Outcome.POSSIBLY_ELIGIBLE
            and bool(self.programme.discretionary)
            and not self.unknown_groups
        )

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

    @property
    def actions(self) -> tuple[str, ...]:
        """Return what the owner could do to get a near miss: any one of these."""
        return tuple(
            action
            for result in self.changes
            if (action := result.criterion.action) is not None
        )

    def to_dict(self) -> dict[str, Any]:
        p = self.programme
        return {
            "slug": p.slug,
            "name": str(p.name),
            "provider": str(p.provider_name) or p.provider,
            "outcome": str(self.outcome),
            "near_miss": self.near_miss,
            "tier": str(self.tier),
            "needs_addressed": list(self.needs_addressed),
            "needs_assumed": list(self.needs_assumed),
            "actions": list(self.actions),
            "availability": str(self.availability),
            "opens_on": jsonable(p.opens_on),
            "closes_on": jsonable(p.closes_on),
            "score": self.score,
            "days_to_money": p.days_to_money,
            "days_to_money_estimated": p.days_to_money_assumed,
            "discretionary": str(p.discretionary) or None,
            "questions": list(self.questions),
            "provider_decides": self.provider_decides,
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


#: Each implication with the test of its condition, built once.
IMPLICATION_TESTS: tuple[tuple[Implication, Callable[[Any], bool]], ...] = tuple(
    (i, operator(i.when_operator).test(i.when_value)) for i in IMPLICATIONS
)


def facts_of(profile: Profile) -> tuple[dict[str, Any], dict[str, Implication]]:
    """Return every fact a criterion may test, and the answers that were implied.

    The facts are the answers, the derived fields, and each unanswered field
    that another answer implies (``contract.IMPLICATIONS``).
    """
    facts = profile.facts()
    implied: dict[str, Implication] = {}
    for implication, test in IMPLICATION_TESTS:
        if facts.get(implication.field) is not None:
            continue
        actual = facts.get(implication.when_field)
        if actual is not None and test(actual):
            facts[implication.field] = implication.value
            implied[implication.field] = implication
    return facts, implied


def assess(
    profile: Profile,
    programme: Programme,
    *,
    as_of: datetime.date,
    facts: Mapping[str, Any] | None = None,
    implied: Mapping[str, Implication] | None = None,
) -> ProgrammeMatch:
    """Return how one profile fares against one programme's criteria."""
    if facts is None:
        facts, implied = facts_of(profile)
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
    addressed = profile.needs & programme.needs
    near_miss = len(failing) == 1 and failing[0] in rules.actionable
    return ProgrammeMatch(
        programme=programme,
        outcome=outcome,
        near_miss=near_miss,
        tier=tier_of(outcome, near_miss),
        availability=programme.availability(as_of),
        needs_addressed=tuple(code for code in NEED_CODES if code in addressed),
        preference_points=sum(states[i] is met for i in rules.preferences),
        states=states,
        failing_groups=tuple(failing),
        unknown_groups=tuple(unknown),
        facts=facts,
        implied=implied or {},
    )


AVAILABILITY_ORDER = {
    Availability.OPEN: 0,
    Availability.NOT_YET_OPEN: 1,
    Availability.CLOSED: 2,
}
NO_DAYS = 10**9


def rank_group(match: ProgrammeMatch) -> int:
    """Return 0 for a fit for a stated need, 1 for any other fit, 2 near miss, 3 the rest."""
    tier = match.tier
    if tier is Tier.ELIGIBLE or tier is Tier.POSSIBLY_ELIGIBLE:
        return 0 if match.needs_addressed else 1
    return 2 if tier is Tier.NEAR_MISS else 3


def rank_key(match: ProgrammeMatch, *, urgent: bool) -> tuple[Any, ...]:
    """Return the sort key of the ranking rule described in this module's docstring."""
    p = match.programme
    days = NO_DAYS if p.days_to_money is None else p.days_to_money
    needs = (-match.need_fit, len(match.needs_assumed))
    fit = (days, *needs) if urgent else (*needs, days)
    return (
        rank_group(match),
        match.tier.rank,
        AVAILABILITY_ORDER[match.availability],
        *fit,
        -match.preference_points,
        -(p.max_amount_cny or 0),
        days,
        p.days_to_money_assumed,
        p.name.en,
        p.slug,  # two programmes alike in all of the above: any fixed order
    )


@dataclass(frozen=True)
class MatchReport:
    profile: Profile
    as_of: datetime.date
    catalogue_version: str
    matches: tuple[ProgrammeMatch, ...] = field(default_factory=tuple)

    @property
    def catalogue_edition(self) -> str:
        """Return the catalogue the answers come from as a reader names it."""
        return catalogue_edition(
            catalogue_checked_on(m.programme for m in self.matches)
        )

    def tier(self, name: str) -> list[ProgrammeMatch]:
        return [m for m in self.matches if m.tier == name]

    def _undecided(self) -> list[ProgrammeMatch]:
        """Return the might-fits a question could settle: those not closed on the date."""
        return [
            m
            for m in self.matches
            if m.tier is Tier.POSSIBLY_ELIGIBLE
            and m.availability is not Availability.CLOSED
        ]

    @property
    def next_questions(self) -> tuple[tuple[str, int], ...]:
        """Return the unanswered fields worth asking, each with how many programmes
        it would help settle. Those settling more programmes for the owner's stated
        needs come first, then those settling more programmes, then form order.
        A programme closed on the as-of date is not worth a question."""
        undecided = self._undecided()
        settles = Counter(name for m in undecided for name in m.questions)
        for_needs = Counter(
            name for m in undecided if m.needs_addressed for name in m.questions
        )
        order = {name: i for i, name in enumerate(PROFILE_FIELDS)}
        return tuple(
            sorted(
                settles.items(),
                key=lambda item: (-for_needs[item[0]], -item[1], order[item[0]]),
            )
        )

    def questions_to_ask(self, limit: int) -> tuple[tuple[str, int], ...]:
        """Return up to `limit` of ``next_questions``, leaving out a question whose
        programmes the questions already picked would all settle (an owner who
        says they export nothing is not asked where they export to as well)."""
        settles: dict[str, set[str]] = {}
        for m in self._undecided():
            for name in m.questions:
                settles.setdefault(name, set()).add(m.programme.slug)
        picked: list[tuple[str, int]] = []
        covered: set[str] = set()
        for name, count in self.next_questions:
            if len(picked) == limit:
                break
            if settles[name] <= covered:
                continue
            picked.append((name, count))
            covered |= settles[name]
        return tuple(picked)

    def counts(self) -> dict[str, int]:
        counts = {tier.value: 0 for tier in Tier}
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
            "next_questions": [
                {"field": name, "programmes": n} for name, n in self.next_questions
            ],
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
    facts, implied = facts_of(profile)
    urgent = facts["urgency"] in URGENT
    assessed = [
        assess(profile, p, as_of=as_of, facts=facts, implied=implied)
        for p in programmes
    ]
    assessed.sort(key=lambda m: rank_key(m, urgent=urgent))
    return MatchReport(profile, as_of, catalogue_version, tuple(assessed))
