"""
Matcher, in process: one profile against 10, 100 and 1,000 programmes.

Side by side, in the same run and over the same profiles, the same rules
written for two peers and evaluated to the same answer: each programme's
outcome (eligible, possibly eligible, not eligible) and near-miss flag.

* JSON Logic, evaluated by a general rules library in Python (panzi's
  json-logic), one rule per programme;
* GoRules ZEN (``zen-engine``, a Rust rules engine with Python bindings), one
  decision graph per catalogue whose expression node computes every
  programme's answer in one call per profile.

Both peers get the matcher's facts (answers, derived and implied fields), so
they judge the same data. Ours also builds everything the results page shows
(criterion results, needs addressed, ranking); the peers compute only the
outcome, so the ratios are, if anything, generous to them. Every peer must
agree with the matcher on every outcome, or the run stops.
"""

from __future__ import annotations

import datetime
import json
import statistics
import time
from decimal import Decimal
from typing import Any

import zen
from json_logic import jsonLogic

from bench.catalogues import synthetic_catalogue
from programs import demo
from programs.engine import contract, matching, rules

AS_OF = datetime.date(2020, 6, 15)

# -- the same rules in JSON Logic ---------------------------------------------------


def _json(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, tuple | list | frozenset | set):
        return sorted(_json(v) for v in value)
    return value


def _test(criterion: matching.Criterion) -> dict:
    field, value = {"var": criterion.field}, _json(criterion.value)
    match criterion.operator:
        case rules.EQUALS:
            return {"==": [field, value]}
        case rules.ONE_OF:
            return {"in": [field, value]}
        case rules.NOT_ONE_OF:
            return {"!": {"in": [field, value]}}
        case rules.CONTAINS_ANY:
            return {"some": [field, {"in": [{"var": ""}, value]}]}
        case rules.GTE:
            return {">=": [field, value]}
        case rules.LTE:
            return {"<=": [field, value]}
        case rules.BETWEEN:
            return {"<=": [value[0], field, value[1]]}
        case rules.IS:
            return {"===": [field, value]}
    raise ValueError(criterion.operator)


def required_groups(
    programme: matching.Programme,
) -> dict[int, list[matching.Criterion]]:
    """Return each required group's criteria, keyed by group, in group order."""
    criteria = programme.criteria
    return {
        group: [criteria[i] for i in members]
        for group, members in matching.required_groups(criteria)
    }


def json_logic_rule(programme: matching.Programme) -> dict:
    """Return a JSON Logic rule giving [outcome, near miss] for the programme."""
    groups = required_groups(programme)
    met, failed = [], []
    for criteria in groups.values():

        def known(c: matching.Criterion) -> dict:
            return {"!==": [{"var": c.field}, None]}

        met.append({"or": [{"and": [known(c), _test(c)]} for c in criteria]})
        failed.append({"and": [{"and": [known(c), {"!": _test(c)}]} for c in criteria]})
    # An actionable failing group counts 1, any other 2: a near miss is 1.
    actionable = [group in programme.rules.actionable for group in groups]
    failed_count = (
        {
            "+": [
                {"if": [f, 1 if a else 2, 0]}
                for f, a in zip(failed, actionable, strict=True)
            ]
        }
        if failed
        else 0
    )
    otherwise = "possibly_eligible" if programme.discretionary else "eligible"
    return {
        "cat": [
            {
                "if": [
                    {">": [failed_count, 0]},
                    "not_eligible",
                    {"and": [*met, True]},
                    otherwise,
                    "possibly_eligible",
                ]
            },
            "/",
            {"==": [failed_count, 1]},
        ]
    }


def json_logic_data(profile: contract.Profile) -> dict:
    facts, _implied = matching.facts_of(profile)
    return {k: _json(v) for k, v in facts.items()}


# -- the same rules as one GoRules ZEN decision ---------------------------------------


def _zen_literal(value: Any) -> str:
    value = _json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_zen_literal(v) for v in value) + "]"
    return repr(value)


def _zen_test(criterion: matching.Criterion) -> str:
    """Return a ZEN expression true when the (answered) criterion is met."""
    field, value = criterion.field, criterion.value
    match criterion.operator:
        case rules.EQUALS | rules.IS:
            return f"{field} == {_zen_literal(value)}"
        case rules.ONE_OF:
            return f"{field} in {_zen_literal(value)}"
        case rules.NOT_ONE_OF:
            return f"not ({field} in {_zen_literal(value)})"
        case rules.CONTAINS_ANY:
            return f"some({field}, # in {_zen_literal(value)})"
        case rules.NOT_CONTAINS_ANY:
            return f"none({field}, # in {_zen_literal(value)})"
        case rules.GTE:
            return f"{field} >= {_zen_literal(value)}"
        case rules.LTE:
            return f"{field} <= {_zen_literal(value)}"
        case rules.BETWEEN:
            low, high = value
            return (
                f"({field} >= {_zen_literal(low)} and {field} <= {_zen_literal(high)})"
            )
    raise ValueError(criterion.operator)


def zen_expression(programme: matching.Programme) -> str:
    """Return a ZEN expression giving "outcome/near miss" for the programme."""
    groups = required_groups(programme)
    met, failed = [], []
    for criteria in groups.values():
        met.append(
            "("
            + " or ".join(f"({c.field} != null and {_zen_test(c)})" for c in criteria)
            + ")"
        )
        failed.append(
            "("
            + " and ".join(
                f"({c.field} != null and not ({_zen_test(c)}))" for c in criteria
            )
            + ")"
        )
    actionable = [group in programme.rules.actionable for group in groups]
    count = (
        " + ".join(
            f"({f} ? {1 if a else 2} : 0)"
            for f, a in zip(failed, actionable, strict=True)
        )
        or "0"
    )
    all_met = " and ".join(met) or "true"
    otherwise = "possibly_eligible" if programme.discretionary else "eligible"
    outcome = (
        f"(({count}) > 0 ? 'not_eligible' : ({all_met} ? '{otherwise}'"
        " : 'possibly_eligible'))"
    )
    return f"{outcome} + '/' + ((({count}) == 1) ? 'true' : 'false')"


def zen_decision(catalogue: list[matching.Programme]) -> Any:
    """Return one ZEN decision that answers every programme of the catalogue."""
    graph = {
        "nodes": [
            {
                "id": "in",
                "type": "inputNode",
                "name": "profile",
                "position": {"x": 0, "y": 0},
            },
            {
                "id": "rules",
                "type": "expressionNode",
                "name": "programmes",
                "position": {"x": 1, "y": 0},
                "content": {
                    "expressions": [
                        {"id": str(i), "key": f"p{i}", "value": zen_expression(p)}
                        for i, p in enumerate(catalogue)
                    ]
                },
            },
            {
                "id": "out",
                "type": "outputNode",
                "name": "answers",
                "position": {"x": 2, "y": 0},
            },
        ],
        "edges": [
            {"id": "a", "sourceId": "in", "targetId": "rules", "type": "edge"},
            {"id": "b", "sourceId": "rules", "targetId": "out", "type": "edge"},
        ],
    }
    return zen.ZenEngine().create_decision(json.dumps(graph))


# -- the measurement -----------------------------------------------------------------


def per_profile_seconds(fn, profiles, repeat: int) -> float:
    """Return the median over `repeat` passes of the mean time per profile."""
    passes = []
    for _ in range(repeat):
        start = time.perf_counter()
        for profile in profiles:
            fn(profile)
        passes.append((time.perf_counter() - start) / len(profiles))
    return statistics.median(passes)


def run(*, quick: bool) -> dict:
    sizes = (10, 16, 100, 1000)  # 16: the shipped catalogue's size
    profiles = list(demo.synthetic_profiles(60 if quick else 300, seed=11))
    repeat = 3 if quick else 7
    results: dict[str, Any] = {"profiles": len(profiles), "passes": repeat, "sizes": {}}
    for size in sizes:
        catalogue = synthetic_catalogue(size)
        logic_rules = [(p.slug, json_logic_rule(p)) for p in catalogue]
        decision = zen_decision(catalogue)
        slugs = [p.slug for p in catalogue]

        def ours(profile, catalogue=catalogue):
            return matching.match(profile, catalogue, as_of=AS_OF)

        def library(profile, logic_rules=logic_rules):
            data = json_logic_data(profile)
            return {slug: jsonLogic(rule, data) for slug, rule in logic_rules}

        def zen_peer(profile, decision=decision, slugs=slugs):
            answers = decision.evaluate(json_logic_data(profile))["result"]
            return {slug: answers[f"p{i}"] for i, slug in enumerate(slugs)}

        # Same answers first, or the comparison means nothing.
        for profile in profiles[:50]:
            mine = {
                m.programme.slug: f"{m.outcome}/{str(m.near_miss).lower()}"
                for m in ours(profile).matches
            }
            theirs = {
                slug: value.replace("True", "true").replace("False", "false")
                for slug, value in library(profile).items()
            }
            if mine != theirs:
                diff = {s for s in mine if mine[s] != theirs[s]}
                raise SystemExit(
                    f"JSON Logic disagrees with the matcher on {sorted(diff)[:5]}"
                )
            if mine != (zens := zen_peer(profile)):
                diff = {s for s in mine if mine[s] != zens[s]}
                raise SystemExit(
                    f"ZEN disagrees with the matcher on {sorted(diff)[:5]}"
                )
        library_profiles = profiles if size < 1000 or not quick else profiles[:20]
        ours_s = per_profile_seconds(ours, profiles, repeat)
        theirs_s = per_profile_seconds(library, library_profiles, max(1, repeat // 2))
        zen_s = per_profile_seconds(zen_peer, profiles, max(1, repeat // 2))
        results["sizes"][str(size)] = {
            "programmes": size,
            "criteria": sum(len(p.criteria) for p in catalogue),
            "ours_ms_per_profile": round(ours_s * 1000, 4),
            "json_logic_ms_per_profile": round(theirs_s * 1000, 4),
            "speedup": round(theirs_s / ours_s, 1),
            "zen_ms_per_profile": round(zen_s * 1000, 4),
            "zen_ratio": round(zen_s / ours_s, 2),
        }
    small, large = results["sizes"]["10"], results["sizes"]["1000"]
    results["growth_10_to_1000"] = round(
        large["ours_ms_per_profile"] / small["ours_ms_per_profile"], 1
    )
    return results
