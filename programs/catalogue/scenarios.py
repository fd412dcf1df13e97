"""
Scenarios: worked examples of each programme's rules, kept as data.

``scenarios.toml``, beside the catalogue, holds for every programme a few
profiles with the tier the facts say they get: one that fits, one that does
not, one that might fit where the programme can be "possibly", and one on
each side of every threshold and for each alternative alone. Each names
the fact it follows from and that fact's source.

This module reads that file, the only thing it does besides computing, and
runs scenarios against programmes as plain data (``engine.matching``). It
imports no ORM: ``manage.py check_scenarios`` and the admin hand it the
current catalogue (``store.current_catalogue()``), tests can hand it any.

A scenario passes when the programme gets the expected tier for the
profile on the as-of date and, where the scenario says so, the criterion
on ``decided_by`` is among those that decided it (``deciding``) and the
availability on the date is the expected one.
"""

from __future__ import annotations

import datetime
import tomllib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from programs.engine import contract, matching, text
from programs.engine.rules import State
from programs.engine.text import jsonable

E = TypeVar("E", matching.Tier, matching.Availability)

SCENARIOS_FILE = Path(__file__).resolve().parent / "scenarios.toml"

#: ``decided_by`` for a programme left open only by the provider's own
#: selection (a discretionary programme where every rule holds).
DISCRETION = "discretion"

REQUIRED_KEYS = (
    "programme",
    "name",
    "description",
    "as_of",
    "profile",
    "expected",
    "fact",
    "source",
)
OPTIONAL_KEYS = ("decided_by", "availability", "description_zh_hans", "fact_zh_hans")


class ScenarioError(ValueError):
    """Every problem found in the scenario file, each naming its scenario."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Scenario:
    programme: str  # the programme's slug
    name: str  # unique within the programme
    description: str
    as_of: datetime.date
    profile: contract.Profile
    expected: matching.Tier
    fact: str  # the fact the expected tier follows from
    source: str  # where that fact is documented
    #: A criterion's field (or ``DISCRETION``) that must be among those that
    #: decided the outcome; "" when the scenario does not say.
    decided_by: str = ""
    availability: matching.Availability | None = None
    #: The description and the fact in Simplified Chinese, for admins reading
    #: Chinese (the source is a citation and stays as written).
    description_zh_hans: str = ""
    fact_zh_hans: str = ""

    @property
    def shown_description(self) -> str:
        """Return the description in the active language (English when no Chinese is given)."""
        if self.description_zh_hans and text.is_chinese():
            return self.description_zh_hans
        return self.description

    @property
    def shown_fact(self) -> str:
        """Return the fact in the active language (English when no Chinese is given)."""
        if self.fact_zh_hans and text.is_chinese():
            return self.fact_zh_hans
        return self.fact

    @property
    def label(self) -> str:
        """Return how messages name the scenario: "programme-slug/name"."""
        return f"{self.programme}/{self.name}"


def _deciding_groups(
    match: matching.ProgrammeMatch,
) -> tuple[frozenset[int], State]:
    """Return the required groups that decided the outcome, and their state."""
    if match.failing_groups:
        return frozenset(match.failing_groups), State.NOT_MET
    if match.unknown_groups:
        return frozenset(match.unknown_groups), State.UNKNOWN
    return frozenset(g for g, _members in match.programme.rules.groups), State.MET


def deciding_groups(
    match: matching.ProgrammeMatch,
) -> tuple[matching.CriterionResult, ...]:
    """Return every criterion of the groups that decided the outcome, as evaluated.

    Not eligible: the failing groups; possibly eligible: the groups still
    open (none when only the provider's discretion is left); eligible: every
    required group.
    """
    groups, _state = _deciding_groups(match)
    results = match.results
    return tuple(
        results[i]
        for group, members in match.programme.rules.groups
        if group in groups
        for i in members
    )


def deciding(match: matching.ProgrammeMatch) -> tuple[matching.CriterionResult, ...]:
    """Return the criteria that decided the outcome: of ``deciding_groups``, those
    not met (not eligible), unknown (possibly eligible) or met (eligible)."""
    _groups, state = _deciding_groups(match)
    return tuple(r for r in deciding_groups(match) if r.state is state)


def decided_by(match: matching.ProgrammeMatch) -> tuple[str, ...]:
    """Return the fields of the deciding criteria, and ``DISCRETION`` when it decided."""
    fields = [r.criterion.field for r in deciding(match)]
    if match.provider_decides:
        fields.append(DISCRETION)
    return tuple(dict.fromkeys(fields))


def describe_criterion(result: matching.CriterionResult) -> str:
    """Return a deciding criterion for a developer: field, operator, value, state."""
    c = result.criterion
    answer = "not answered" if result.actual is None else jsonable(result.actual)
    return (
        f"{c.field} {c.operator} {jsonable(c.value)} (group {c.group}): "
        f"{result.state} (answer: {answer})"
    )


@dataclass(frozen=True)
class ScenarioResult:
    scenario: Scenario
    #: The programme's answer; None when the catalogue has no such programme.
    match: matching.ProgrammeMatch | None

    @property
    def tier(self) -> matching.Tier | None:
        return None if self.match is None else self.match.tier

    @property
    def deciding(self) -> tuple[matching.CriterionResult, ...]:
        """Return every criterion of the groups that decided the outcome."""
        return () if self.match is None else deciding_groups(self.match)

    @property
    def decided_by(self) -> tuple[str, ...]:
        """Return the fields that decided the outcome (``DISCRETION`` included)."""
        return () if self.match is None else decided_by(self.match)

    @property
    def tier_holds(self) -> bool:
        return self.tier is self.scenario.expected

    @property
    def decided_by_holds(self) -> bool:
        wanted = self.scenario.decided_by
        return self.match is not None and (not wanted or wanted in self.decided_by)

    @property
    def availability_holds(self) -> bool:
        wanted = self.scenario.availability
        return self.match is not None and (
            wanted is None or self.match.availability is wanted
        )

    @property
    def passed(self) -> bool:
        return self.tier_holds and self.decided_by_holds and self.availability_holds

    @property
    def problems(self) -> tuple[str, ...]:
        """Return how the outcome differs from the scenario's, for a developer."""
        s, m = self.scenario, self.match
        if m is None:
            return (f"programme {s.programme!r} is not in the catalogue",)
        problems = []
        if not self.tier_holds:
            problems.append(f"expected {s.expected}, got {m.tier}")
        if not self.decided_by_holds:
            problems.append(
                f"expected to be decided by {s.decided_by}, "
                f"decided by {', '.join(self.decided_by) or 'nothing'}"
            )
        if not self.availability_holds:
            problems.append(
                f"expected {s.availability} on {s.as_of.isoformat()}, "
                f"got {m.availability}"
            )
        return tuple(problems)


def run_scenario(
    scenario: Scenario, programmes: Mapping[str, matching.Programme]
) -> ScenarioResult:
    """Return one scenario's outcome against programmes by slug."""
    programme = programmes.get(scenario.programme)
    if programme is None:
        return ScenarioResult(scenario, None)
    return ScenarioResult(
        scenario,
        matching.assess(scenario.profile, programme, as_of=scenario.as_of),
    )


def run_scenarios(
    scenarios: Iterable[Scenario], programmes: Iterable[matching.Programme]
) -> list[ScenarioResult]:
    """Return every scenario's outcome against the programmes, in file order."""
    by_slug = {p.slug: p for p in programmes}
    return [run_scenario(s, by_slug) for s in scenarios]


# --------------------------------------------------------------------------
# Reading the file
# --------------------------------------------------------------------------


def load_scenarios(
    path: Path = SCENARIOS_FILE, *, programmes: Collection[str] | None = None
) -> tuple[Scenario, ...]:
    """Return the scenarios of a file, or raise ScenarioError with every problem.

    `programmes`: the slugs scenarios may name (None: any).
    """
    try:
        with path.open("rb") as fp:
            data = tomllib.load(fp)
    except OSError as error:
        raise ScenarioError([f"Cannot read {path}: {error.strerror}"]) from error
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError([f"{path} is not valid TOML: {error}"]) from error
    return parse_scenarios(data, programmes=programmes)


def parse_scenarios(
    data: Mapping[str, Any], *, programmes: Collection[str] | None = None
) -> tuple[Scenario, ...]:
    """Return the scenarios of the file's data, or raise ScenarioError."""
    problems: list[str] = []
    if unknown := sorted(set(data) - {"scenarios"}):
        problems.append(f"Unknown top-level keys: {', '.join(unknown)}.")
    entries = data.get("scenarios", [])
    if not isinstance(entries, list):
        raise ScenarioError([*problems, "scenarios must be an array of tables."])
    scenarios: list[Scenario] = []
    seen: set[tuple[str, str]] = set()
    for number, entry in enumerate(entries, start=1):
        label = _label(number, entry)
        try:
            scenario = _parse_entry(entry, programmes)
        except ScenarioError as error:
            problems.extend(f"{label}: {problem}" for problem in error.problems)
            continue
        if (scenario.programme, scenario.name) in seen:
            problems.append(f"{label}: another scenario has this name.")
        seen.add((scenario.programme, scenario.name))
        scenarios.append(scenario)
    if problems:
        raise ScenarioError(problems)
    return tuple(scenarios)


def _label(number: int, entry: Any) -> str:
    """Return how a problem names a scenario: its number, programme and name."""
    if isinstance(entry, Mapping):
        return f"Scenario {number} ({entry.get('programme', '?')}/{entry.get('name', '?')})"
    return f"Scenario {number}"


def _parse_entry(entry: Any, programmes: Collection[str] | None) -> Scenario:
    if not isinstance(entry, Mapping):
        raise ScenarioError(["a scenario must be a table."])
    problems: list[str] = []
    if missing := [key for key in REQUIRED_KEYS if key not in entry]:
        problems.append(f"missing {', '.join(missing)}.")
    if unknown := sorted(set(entry) - {*REQUIRED_KEYS, *OPTIONAL_KEYS}):
        problems.append(f"unknown keys: {', '.join(unknown)}.")
    for key in ("programme", "name", "description", "fact", "source"):
        if key in entry and not (isinstance(entry[key], str) and entry[key].strip()):
            problems.append(f"{key} must be a text that is not empty.")
    slug = entry.get("programme")
    if programmes is not None and isinstance(slug, str) and slug not in programmes:
        problems.append(f"unknown programme {slug!r}.")

    day: datetime.date | None = None
    if "as_of" in entry:
        as_of = entry["as_of"]
        if not isinstance(as_of, datetime.date) or isinstance(as_of, datetime.datetime):
            problems.append("as_of must be a date, as YYYY-MM-DD without quotes.")
        elif (refused := matching.as_of_problem(as_of)) is not None:
            problems.append(f"as_of {as_of.isoformat()}: {refused}")
        else:
            day = as_of

    profile = None
    if "profile" in entry:
        try:
            profile = contract.parse_profile(entry["profile"])
        except contract.ProfileError as error:
            problems.extend(
                f"profile: {field}: {' '.join(messages)}"
                for field, messages in error.errors.items()
            )

    expected = None
    if "expected" in entry:
        expected = _member(matching.Tier, entry["expected"], "expected", problems)
    availability = None
    if "availability" in entry:
        availability = _member(
            matching.Availability, entry["availability"], "availability", problems
        )
    by = entry.get("decided_by", "")
    if not isinstance(by, str) or by not in {
        "",
        DISCRETION,
        *contract.CRITERION_FIELDS,
    }:
        problems.append(
            f"decided_by {by!r} is not a field a criterion may test, nor {DISCRETION!r}."
        )

    if problems:
        raise ScenarioError(problems)
    # No problems: every part was parsed.
    assert day is not None
    assert profile is not None
    assert expected is not None
    return Scenario(
        programme=entry["programme"],
        name=entry["name"],
        description=entry["description"].strip(),
        description_zh_hans=str(entry.get("description_zh_hans", "")).strip(),
        fact_zh_hans=str(entry.get("fact_zh_hans", "")).strip(),
        as_of=day,
        profile=profile,
        expected=expected,
        fact=entry["fact"].strip(),
        source=entry["source"].strip(),
        decided_by=by,
        availability=availability,
    )


def _member(enum: type[E], value: Any, key: str, problems: list[str]) -> E | None:
    """Return the enum member of a value, or None after noting the problem."""
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        problems.append(f"{key} {value!r} is not one of {allowed}.")
        return None
