"""Export stored match results, every provider's, as CSV or XLSX.

The file is complete or absent: rows go to a temporary file beside the
target, which replaces the target only once it is written and synced.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet
from django.utils import translation

from programs.engine import contract
from programs.management.database import require_migrated_database
from programs.models import Programme, Provider, StoredResult
from programs.staff import exports, match_report

FORMATS = ("csv", "xlsx")
VOCABULARIES = {
    "province": ("--province", contract.PROVINCES),
    "business_type": ("--business-type", contract.BUSINESS_TYPES),
    "size_class": ("--size-class", contract.SIZE_CLASSES),
    "urgency": ("--urgency", contract.URGENCIES),
}


class _CommandUser:
    """Stands in for a superuser: all providers, every permission."""

    pk = None
    is_active = True
    is_staff = True

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return True


def _codes(choices: Iterable[tuple[str, Any]]) -> list[str]:
    return [code for code, _label in choices]


class Command(BaseCommand):
    help = (
        "Export stored match results of all providers, filtered, as CSV or XLSX. "
        "The output file is written completely or not at all."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--format",
            dest="fmt",
            metavar="csv|xlsx",
            help="Default: from the --out file's suffix.",
        )
        parser.add_argument("--out", required=True, metavar="FILE")
        parser.add_argument("--programme", metavar="SLUG")
        parser.add_argument("--provider", metavar="SLUG")
        parser.add_argument("--tier", metavar="|".join(match_report.TIERS))
        parser.add_argument("--province", metavar="CN-XX")
        parser.add_argument("--business-type", metavar="CODE")
        parser.add_argument("--size-class", metavar="CODE")
        parser.add_argument("--urgency", metavar="CODE")
        parser.add_argument("--submitted-from", metavar="YYYY-MM-DD")
        parser.add_argument("--submitted-to", metavar="YYYY-MM-DD")
        parser.add_argument(
            "--language",
            default=settings.LANGUAGE_CODE,
            metavar="|".join(code for code, _name in settings.LANGUAGES),
        )

    def handle(
        self, *args: Any, fmt: str | None, out: str, language: str, **options: Any
    ) -> None:
        require_migrated_database()
        if fmt is None:
            fmt = Path(out).suffix.lower().removeprefix(".")
            if fmt not in FORMATS:
                raise CommandError(
                    f"Give --format csv or --format xlsx: the suffix of {out!r} "
                    "does not say which."
                )
        if fmt not in FORMATS:
            raise CommandError(
                f"Unknown format {fmt!r}: choose one of {', '.join(FORMATS)}."
            )
        languages = [code for code, _name in settings.LANGUAGES]
        if language not in languages:
            raise CommandError(
                f"Unknown language {language!r}: choose one of {', '.join(languages)}."
            )
        filters = self.filters(options)
        target = self.target(out)
        with translation.override(language):
            queryset = match_report.report_queryset(
                user=_CommandUser(), filters=filters
            )
            count = self.write(queryset, fmt, target)
        self.stdout.write(f"Wrote {count:,} rows to {target}")

    # -- arguments -------------------------------------------------------------

    def filters(self, options: dict[str, Any]) -> match_report.ReportFilters:
        values: dict[str, Any] = {}
        tier = options.get("tier")
        if tier is not None:
            if tier not in match_report.TIERS:
                raise CommandError(
                    f"Unknown tier {tier!r}: choose one of {', '.join(match_report.TIERS)}."
                )
            values["tier"] = tier
        for name, (flag, choices) in VOCABULARIES.items():
            value = options.get(name)
            if value is None:
                continue
            if value not in _codes(choices):
                raise CommandError(
                    f"Unknown {flag.removeprefix('--').replace('-', ' ')} {value!r}: choose one of "
                    f"{', '.join(_codes(choices))}."
                )
            values[name] = value
        for name, model in (("programme", Programme), ("provider", Provider)):
            slug = options.get(name)
            if slug is None:
                continue
            if not model.objects.filter(slug=slug).exists():
                raise CommandError(f"Unknown {name} {slug!r}: no {name} has that slug.")
            values[name] = slug
        for name in ("submitted_from", "submitted_to"):
            text = options.get(name)
            if text is None:
                continue
            try:
                values[name] = datetime.date.fromisoformat(text)
            except ValueError:
                flag = "--" + name.replace("_", "-")
                raise CommandError(
                    f"{flag} {text!r} is not a date: write it as YYYY-MM-DD."
                ) from None
        start, end = values.get("submitted_from"), values.get("submitted_to")
        if start and end and start > end:
            raise CommandError(
                f"--submitted-from {start} is after --submitted-to {end}."
            )
        return match_report.ReportFilters(**values)

    def target(self, out: str) -> Path:
        path = Path(out).expanduser().absolute()
        if path.is_dir():
            raise CommandError(f"--out {out!r} is a directory: give a file name.")
        directory = path.parent
        if not directory.is_dir():
            raise CommandError(f"Cannot write {out!r}: {directory} is not a directory.")
        if not os.access(directory, os.W_OK | os.X_OK):
            raise CommandError(f"Cannot write {out!r}: {directory} is not writable.")
        return path

    # -- writing ---------------------------------------------------------------

    def write(self, queryset: QuerySet[StoredResult], fmt: str, target: Path) -> int:
        """Write to a temporary file beside target, then move it into place."""
        progress = self.progress_bar(queryset) if self.stdout.isatty() else None
        text_mode: dict[str, Any] = {
            "mode": "w",
            "encoding": "utf-8-sig",
            "newline": "",
        }
        binary_mode: dict[str, Any] = {"mode": "wb"}
        try:
            tmp = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below
                dir=target.parent,
                prefix=".export-",
                suffix=f".{fmt}",
                delete=False,
                **(text_mode if fmt == "csv" else binary_mode),
            )
        except OSError as error:
            raise CommandError(f"Cannot write {target}: {error}") from error
        tmp_path = Path(tmp.name)
        writer = exports.write_csv if fmt == "csv" else exports.write_xlsx
        try:
            with tmp:
                count = writer(queryset, tmp, progress=progress)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_path, target)
        except BaseException as error:
            tmp_path.unlink(missing_ok=True)
            if progress is not None:
                self.stderr.write("", style_func=str)
            if isinstance(error, OSError):
                raise CommandError(f"Cannot write {target}: {error}") from error
            raise
        _sync_directory(target.parent)
        if progress is not None:
            self.stderr.write("", style_func=str)  # end the progress line
        return count

    def progress_bar(self, queryset: QuerySet[StoredResult]) -> Callable[[int], None]:
        total = queryset.count()

        def show(done: int) -> None:
            self.stderr.write(f"\r{done:,}/{total:,} rows", ending="", style_func=str)
            self.stderr.flush()

        show(0)
        return show


def _sync_directory(directory: Path) -> None:
    """Make the rename durable, where the platform and file system allow it."""
    if sys.platform == "win32":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
