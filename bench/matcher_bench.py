"""
Matcher, in process: one profile against 10, 100 and 1,000 programmes.

Side by side, in the same run and over the same profiles, the same rules
written in JSON Logic and evaluated by a general rules library (panzi's
json-logic for Python) to the same answer: each programme's outcome
(eligible, possibly eligible, not eligible) and near-miss flag. Ours also
builds everything the results page shows (criterion results, ranking); the
library's side computes only the outcome, so the ratio is, if anything,
generous to the library. The two must agree on every outcome, or the run
stops.
"""

from __future__ import annotations

import datetime
import statistics
import time
from decimal import Decimal
from typing import Any

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


def json_logic_rule(programme: matching.Programme) -> dict:
    """Return a JSON Logic rule giving [outcome, near miss] for the programme."""
    groups: dict[int, list[matching.Criterion]] = {}
    for c in programme.criteria:
        if c.required:
            groups.setdefault(c.group, []).append(c)
    met, failed = [], []
    for criteria in groups.values():

        def known(c: matching.Criterion) -> dict:
            return {"!==": [{"var": c.field}, None]}

        met.append({"or": [{"and": [known(c), _test(c)]} for c in criteria]})
        failed.append({"and": [{"and": [known(c), {"!": _test(c)}]} for c in criteria]})
    failed_count = {"+": [{"if": [f, 1, 0]} for f in failed]} if failed else 0
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
    return {k: _json(v) for k, v in profile.facts().items()}


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
    sizes = (10, 100, 1000)
    profiles = list(demo.synthetic_profiles(60 if quick else 300, seed=11))
    repeat = 3 if quick else 7
    results: dict[str, Any] = {"profiles": len(profiles), "passes": repeat, "sizes": {}}
    for size in sizes:
        catalogue = synthetic_catalogue(size)
        rules = [(p.slug, json_logic_rule(p)) for p in catalogue]

        def ours(profile, catalogue=catalogue):
            return matching.match(profile, catalogue, as_of=AS_OF)

        def library(profile, rules=rules):
            data = json_logic_data(profile)
            return {slug: jsonLogic(rule, data) for slug, rule in rules}

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
        library_profiles = profiles if size < 1000 or not quick else profiles[:20]
        ours_s = per_profile_seconds(ours, profiles, repeat)
        theirs_s = per_profile_seconds(library, library_profiles, max(1, repeat // 2))
        results["sizes"][str(size)] = {
            "programmes": size,
            "criteria": sum(len(p.criteria) for p in catalogue),
            "ours_ms_per_profile": round(ours_s * 1000, 4),
            "json_logic_ms_per_profile": round(theirs_s * 1000, 4),
            "speedup": round(theirs_s / ours_s, 1),
        }
    small, large = results["sizes"]["10"], results["sizes"]["1000"]
    results["growth_10_to_1000"] = round(
        large["ours_ms_per_profile"] / small["ours_ms_per_profile"], 1
    )
    return results
