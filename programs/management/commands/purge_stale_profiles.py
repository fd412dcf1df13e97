"""Delete kept profiles past the retention period, keeping only their counts (meant for cron).

A profile is past the retention period when its last change (``updated_at``:
keeping it, editing the answers, giving an email, unsubscribing) is older
than ``settings.PROFILE_RETENTION_DAYS`` days, or ``--older-than`` days.

Profiles go in batches of ``--batch-size``, each in one transaction: lock
the batch's rows (on PostgreSQL a row changed meanwhile is re-checked and
skipped if no longer stale), add their counts to ``PurgedTally`` with
INSERT ... SELECT (``match_report.tally_profiles``), then delete them, their
stored results and their alerts with DELETE ... WHERE. Only the ids of one
batch are ever read into Python. A run interrupted between batches leaves
every batch either wholly purged and counted or untouched, so running again
finishes the job and never counts a profile twice; with nothing to do it
prints so and exits 0.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from programs import jobs
from programs.models import BusinessProfile, SentAlert, StoredResult
from programs.staff import match_report

MAX_DAYS = 36_500  # a century: beyond this a date before year 1 is near
MAX_BATCH = 10_000  # ids per batch are SQL parameters; SQLite allows 32,766


def whole_number(option: str, low: int, high: int) -> Callable[[str], int]:
    """Return an argparse type reading a whole number from low to high, naming `option`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise CommandError(
                f"{option} must be a whole number from {low:,} to {high:,}, not {text!r}"
            )
        return value

    return parse


@dataclass
class PurgeRun:
    profiles: int = 0
    results: int = 0
    alerts: int = 0
    tallies: int = 0


def stale_profiles(cutoff: datetime.datetime) -> QuerySet[BusinessProfile]:
    """Return the profiles last changed before the cutoff."""
    return BusinessProfile.objects.filter(updated_at__lt=cutoff)


def purge(*, cutoff: datetime.datetime, batch_size: int) -> PurgeRun:
    """Tally and delete, batch by batch, every profile last changed before the cutoff."""
    run = PurgeRun()
    after = 0
    while True:
        with transaction.atomic():
            ids = list(
                stale_profiles(cutoff)
                .filter(pk__gt=after)
                .order_by("pk")
                .select_for_update()
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                return run
            after = ids[-1]
            run.tallies += match_report.tally_profiles(ids)
            # The ORM's cascade: one DELETE ... WHERE profile_id IN (...) per
            # table that refers to profiles (results, alerts, any added later).
            _total, by_model = (
                BusinessProfile.objects.filter(pk__in=ids).only("pk").delete()
            )
            run.profiles += by_model.get(BusinessProfile._meta.label, 0)
            run.results += by_model.get(StoredResult._meta.label, 0)
            run.alerts += by_model.get(SentAlert._meta.label, 0)


class Command(BaseCommand):
    help = (
        "Delete kept profiles last changed more than PROFILE_RETENTION_DAYS days ago "
        "(or --older-than DAYS), with their results and alerts. Their counts stay in "
        "the staff match report's summary, never in its row exports. Safe to run "
        "again or from cron: with nothing to do it says so and exits 0."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=whole_number("--older-than", 1, MAX_DAYS),
            metavar="DAYS",
            help="days since the last change (default: settings.PROFILE_RETENTION_DAYS)",
        )
        parser.add_argument(
            "--batch-size",
            type=whole_number("--batch-size", 1, MAX_BATCH),
            default=1000,
            metavar="N",
            help="profiles per transaction (default 1000)",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="count what would be deleted; delete nothing",
        )

    def handle(
        self,
        *args: Any,
        older_than: int | None,
        batch_size: int,
        dry_run: bool,
        **options: Any,
    ) -> None:
        days = older_than
        if days is None:
            days = whole_number("settings.PROFILE_RETENTION_DAYS", 1, MAX_DAYS)(
                str(settings.PROFILE_RETENTION_DAYS)
            )
        cutoff = timezone.now() - datetime.timedelta(days=days)
        since = (
            f"last changed more than {days:,} days ago "
            f"(before {timezone.localtime(cutoff):%Y-%m-%d %H:%M})"
        )
        if dry_run:
            stale = stale_profiles(cutoff)
            profiles = stale.count()
            results = StoredResult.objects.filter(profile__in=stale).count()
            self.stdout.write(
                f"Would delete {profiles:,} profiles with {results:,} results, {since}."
            )
            return
        run = purge(cutoff=cutoff, batch_size=batch_size)
        if files := jobs.purge_job_files():
            self.stdout.write(
                f"Deleted {files:,} export and screening files older than "
                f"{settings.JOB_FILES_KEEP_DAYS:,} days."
            )
        if not run.profiles:
            self.stdout.write(f"Nothing to delete: no profile {since}.")
            return
        self.stdout.write(
            f"Deleted {run.profiles:,} profiles with {run.results:,} results and "
            f"{run.alerts:,} alerts, {since}; their counts stay in the match report."
        )
