"""Recompute stored results after the catalogue changes and report what changed."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from programs.engine import sql
from programs.models import Programme


class Command(BaseCommand):
    help = (
        "Recompute every stored result (or those of the given programmes) with the "
        "database filter path, and report how outcomes moved."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--programme", action="append", dest="slugs", metavar="SLUG"
        )

    def handle(self, *args, slugs, **options):
        if slugs:
            known = set(
                Programme.objects.filter(slug__in=slugs).values_list("slug", flat=True)
            )
            if unknown := sorted(set(slugs) - known):
                raise CommandError(f"Unknown programme: {', '.join(unknown)}")
        report = sql.rematch(slugs=slugs)
        self.stdout.write(describe_rematch(report))


def describe_rematch(report: sql.RematchReport) -> str:
    lines = [
        f"Catalogue {report.catalogue_version}: {report.total_changed()} stored results changed, "
        f"{report.total_created()} added."
    ]
    for slug, moves in sorted(report.changed.items()):
        for (before, after), n in sorted(moves.items()):
            lines.append(f"  {slug}: {n} {before} -> {after}")
    for slug, n in sorted(report.created.items()):
        if n:
            lines.append(f"  {slug}: {n} added")
    return "\n".join(lines)
