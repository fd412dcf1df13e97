"""
Scenarios saved in the database, beside those of ``scenarios.toml``.

An admin makes one in a step from an owner's wrong-answer report (or edits
one made so); it is a ``SavedScenario`` row with the file's fields. The
file is code, which the admin cannot write in production, so these rows are
read as the file's entries (``entry``) and checked and run by
``programs.catalogue.scenarios`` like any other: ``all_scenarios`` is the
file's scenarios and then the saved ones, for ``manage.py check_scenarios``
and the programme's change page.

``toml_text`` writes rows in the file's format, for a developer to paste
into ``scenarios.toml``; from then on the file's copy (same programme and
name) is the one run, and the row is skipped.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from programs.catalogue import scenarios
from programs.engine import contract
from programs.models import SavedScenario

#: The file's keys, in the order the file writes them.
KEYS = (
    "programme",
    "name",
    "description",
    "as_of",
    "profile",
    "expected",
    "decided_by",
    "availability",
    "fact",
    "source",
)


def profile_data(profile: contract.Profile) -> dict[str, Any]:
    """Return a profile's answers as a scenario writes them: the answered ones only."""
    return {k: v for k, v in profile.to_dict().items() if v not in (None, "")}


def entry(row: SavedScenario) -> dict[str, Any]:
    """Return a saved scenario as the file's entry (the optional keys when set)."""
    data: dict[str, Any] = {
        "programme": row.programme.slug,
        "name": row.name,
        "description": row.description,
        "as_of": row.as_of,
        "profile": row.profile,
        "expected": row.expected,
        "decided_by": row.decided_by,
        "availability": row.availability,
        "fact": row.fact,
        "source": row.source,
    }
    return {k: v for k, v in data.items() if v != "" or k in scenarios.REQUIRED_KEYS}


def load_saved_scenarios(
    *,
    programmes: Collection[str] | None = None,
    skip: Collection[str] = (),
    rows: Iterable[SavedScenario] | None = None,
) -> tuple[scenarios.Scenario, ...]:
    """Return the saved scenarios, or raise ScenarioError with every problem.

    `skip`: labels ("programme/name") not to read, those the file has too.
    """
    if rows is None:
        rows = SavedScenario.objects.select_related("programme").order_by(
            "programme__slug", "name"
        )
    entries = [
        e for e in map(entry, rows) if f"{e['programme']}/{e['name']}" not in skip
    ]
    return scenarios.parse_scenarios({"scenarios": entries}, programmes=programmes)


def all_scenarios(
    path: Path = scenarios.SCENARIOS_FILE, *, programmes: Collection[str] | None = None
) -> tuple[scenarios.Scenario, ...]:
    """Return the file's scenarios, then the saved ones the file does not have.

    Raises ScenarioError with every problem of the file, or of the saved ones.
    """
    in_file = scenarios.load_scenarios(path, programmes=programmes)
    saved = load_saved_scenarios(programmes=programmes, skip={s.label for s in in_file})
    return (*in_file, *saved)


# --------------------------------------------------------------------------
# Writing TOML
# --------------------------------------------------------------------------


def toml_value(value: Any) -> str:
    """Return a value in TOML: texts, numbers, yes/no, dates, lists, inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # JSON's escapes are TOML's too; TOML also wants DEL escaped.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007F")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        # Keys are contract field names: bare keys. TOML has no null: left out.
        pairs = (f"{k} = {toml_value(v)}" for k, v in value.items() if v is not None)
        return "{ " + ", ".join(pairs) + " }"
    raise TypeError(f"No TOML for {type(value).__name__}")


def toml_text(rows: Iterable[SavedScenario]) -> str:
    """Return saved scenarios as ``scenarios.toml`` entries, ready to paste."""
    blocks = []
    for row in rows:
        data = entry(row)
        lines = ["[[scenarios]]"]
        lines.extend(f"{k} = {toml_value(data[k])}" for k in KEYS if k in data)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")
