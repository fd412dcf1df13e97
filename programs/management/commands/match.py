"""Match one profile (a JSON file or standard input) against the catalogue."""

from __future__ import annotations

import datetime
import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from programs.catalogue import store
from programs.engine import contract, matching
from programs.engine.text import jsonable
from programs.management.arguments import iso_date
from programs.management.database import require_migrated_database

as_of_date = iso_date("--as-of")


class Command(BaseCommand):
    help = "Print the ranked programme matches for a profile given as JSON ('-' reads standard input)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "profile", help="path to a JSON profile, or - for standard input"
        )
        parser.add_argument(
            "--as-of", type=as_of_date, default=None, help="YYYY-MM-DD (default: today)"
        )
        parser.add_argument("--format", choices=["json", "text"], default="text")

    def handle(
        self,
        *args: Any,
        profile: str,
        as_of: datetime.date | None,
        format: str,
        **options: Any,
    ) -> None:
        require_migrated_database()
        try:
            if profile == "-":
                raw = sys.stdin.read()
            else:
                with open(profile, encoding="utf-8") as fp:
                    raw = fp.read()
        except OSError as error:
            raise CommandError(f"Cannot read {profile}: {error.strerror}") from error
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as error:
            raise CommandError(f"{profile} is not valid JSON: {error}") from error
        if isinstance(data, dict) and "as_of" in data:
            as_of = as_of or as_of_date(str(data.pop("as_of")))
        try:
            parsed = contract.parse_profile(data)
        except contract.ProfileError as error:
            lines = [
                f"  {name}: {' '.join(messages)}"
                for name, messages in error.errors.items()
            ]
            raise CommandError(
                "The profile has problems:\n" + "\n".join(lines)
            ) from error

        report = store.run_match(profile=parsed, as_of=as_of or timezone.localdate())
        if format == "json":
            self.stdout.write(
                json.dumps(report.to_dict(), ensure_ascii=False, indent=2)
            )
        else:
            self.stdout.write(render_text(report))


def render_text(report: matching.MatchReport) -> str:
    derived = report.profile.derived()
    lines = [
        f"As of {report.as_of.isoformat()} · catalogue {report.catalogue_version}",
        "Derived: "
        + ", ".join(f"{name}={jsonable(value)}" for name, value in derived.items()),
        "Counts: " + ", ".join(f"{tier}={n}" for tier, n in report.counts().items()),
        "",
    ]
    for rank, m in enumerate(report.matches, start=1):
        p = m.programme
        lines.append(
            f"{rank:>2}. {p.slug} · {p.name} · {m.outcome}{' (near miss)' if m.near_miss else ''}"
            f" · {m.availability} · score {m.score}"
        )
        for r in m.results:
            c = r.criterion
            kind = "" if c.required else " [preference]"
            lines.append(
                f"      [{r.state}] {c.field} {c.operator} {jsonable(c.value)!s}"
                f" (you: {jsonable(r.actual)!s}; group {c.group}; {c.basis}){kind}: {r.reason}"
            )
        if m.questions:
            lines.append(f"      questions: {', '.join(m.questions)}")
    return "\n".join(lines)
