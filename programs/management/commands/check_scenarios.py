"""Run the programmes' scenarios (scenarios.toml, and those saved in the admin)
against the catalogue in the database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from programs.catalogue import saved_scenarios, scenarios, store
from programs.management.database import require_migrated_database

#: Each programme is meant to have at least this many scenarios.
FEWEST = 3


class Command(BaseCommand):
    help = (
        "Run each programme's scenarios against the catalogue in the database and "
        "print every failure with the criteria that decided it. Exits with status 1 "
        "when any scenario fails."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--programme",
            action="append",
            default=[],
            metavar="SLUG",
            help="run only this programme's scenarios (repeat for several)",
        )
        parser.add_argument(
            "--file",
            type=Path,
            default=scenarios.SCENARIOS_FILE,
            help="scenario TOML file (default: the one shipped with the catalogue)",
        )

    def handle(
        self, *args: Any, programme: list[str], file: Path, **options: Any
    ) -> None:
        require_migrated_database()
        catalogue = store.current_catalogue()
        if not catalogue.programmes:
            raise CommandError(
                "No catalogue is loaded: the database has no programmes. "
                "Run `python manage.py load_catalogue` first."
            )
        slugs = [p.slug for p in catalogue.programmes]
        if unknown := [slug for slug in programme if slug not in slugs]:
            raise CommandError(
                f"Unknown programme: {', '.join(unknown)}. "
                f"Programmes in the catalogue: {', '.join(sorted(slugs))}."
            )
        try:
            # The file's, then those saved in the admin that the file has not.
            loaded = saved_scenarios.all_scenarios(file, programmes=slugs)
        except scenarios.ScenarioError as error:
            raise CommandError(
                f"The scenarios of {file} or those saved in the admin have problems; "
                "nothing was run:\n"
                + "\n".join(f"  {problem}" for problem in error.problems)
            ) from error

        chosen = set(programme or slugs)
        results = scenarios.run_scenarios(
            (s for s in loaded if s.programme in chosen), catalogue.programmes
        )
        for slug in sorted(chosen):
            count = sum(r.scenario.programme == slug for r in results)
            if count < FEWEST:
                self.stderr.write(
                    f"Note: {slug} has {count} scenario{'' if count == 1 else 's'}; "
                    f"each programme should have at least {FEWEST}."
                )
        verbose = options["verbosity"] > 1
        for result in results:
            if not result.passed:
                self.stdout.write(self.describe_failure(result))
            elif verbose:
                self.stdout.write(f"ok   {result.scenario.label}")
        failed = sum(not r.passed for r in results)
        summary = (
            f"{len(results)} scenario{'' if len(results) == 1 else 's'}, "
            f"{failed} failed (catalogue {catalogue.version})."
        )
        if failed:
            raise CommandError(summary)
        self.stdout.write(summary)

    def describe_failure(self, result: scenarios.ScenarioResult) -> str:
        s = result.scenario
        lines = [
            f"FAIL {s.label} (as of {s.as_of.isoformat()}): {s.description}",
            *(f"  {problem}" for problem in result.problems),
        ]
        if result.match is not None:
            deciding = result.deciding
            if deciding:
                lines.append("  decided by:")
                lines.extend(f"    {scenarios.describe_criterion(r)}" for r in deciding)
            if result.match.provider_decides:
                lines.append("  decided by: the provider's own selection")
        lines.append(f"  follows from: {s.fact} [{s.source}]")
        return "\n".join(lines)
