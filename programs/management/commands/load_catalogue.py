"""Load the programme catalogue file into the database (insert or update by slug)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from programs.catalogue import loader
from programs.management.database import require_migrated_database


class Command(BaseCommand):
    help = (
        "Insert or update providers and programmes from the catalogue file by slug. "
        "Idempotent: unchanged programmes are left alone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "path",
            nargs="?",
            type=Path,
            default=loader.CATALOGUE_FILE,
            help="catalogue TOML file (default: the one shipped with the app)",
        )

    def handle(self, *args: Any, path: Path, **options: Any) -> None:
        if not path.is_file():
            raise CommandError(f"No catalogue file at {path}")
        require_migrated_database()
        try:
            report = loader.load_catalogue(path=path)
        except loader.CatalogueError as error:
            raise CommandError(
                "The catalogue has errors; nothing was loaded:\n" + str(error)
            ) from error
        except ValueError as error:  # tomllib.TOMLDecodeError is a ValueError
            raise CommandError(f"Cannot read {path}: {error}") from error
        self.stdout.write(
            f"Catalogue {report.version}: {len(report.created)} created, "
            f"{len(report.updated)} updated, {len(report.unchanged)} unchanged."
        )
        if options["verbosity"] > 1:
            for label, slugs in (
                ("created", report.created),
                ("updated", report.updated),
            ):
                for slug in slugs:
                    self.stdout.write(f"  {label}: {slug}")
