"""Recompute stored results after the catalogue changes and report what changed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from programs import jobs
from programs.engine import sql
from programs.management.database import require_migrated_database
from programs.models import Programme


class Command(BaseCommand):
    help = (
        "Recompute every stored result (or those of the given programmes) with the "
        "database filter path, and report how outcomes moved."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--programme", action="append", dest="slugs", metavar="SLUG"
        )

    def handle(self, *args: Any, slugs: list[str] | None, **options: Any) -> None:
        require_migrated_database()
        if slugs:
            known = set(
                Programme.objects.filter(slug__in=slugs).values_list("slug", flat=True)
            )
            if unknown := sorted(set(slugs) - known):
                raise CommandError(f"Unknown programme: {', '.join(unknown)}")
        report = sql.rematch(slugs=slugs)
        self.stdout.write(
            f"Catalogue version {report.catalogue_version}: "
            f"{report.total_changed():,} stored results changed, "
            f"{report.total_created():,} added."
        )
        names = dict(Programme.objects.values_list("slug", "name_en"))
        for slug in sorted(report.changed):
            moves = [
                (before, after, n)
                for (before, after), n in sorted(report.changed[slug].items())
            ]
            if moves or report.created.get(slug):
                self.stdout.write(
                    f"  {names.get(slug, slug)} ({slug}): "
                    + jobs.describe_moves(moves, report.created.get(slug, 0))
                )
