"""Email owners about programmes that newly fit them or close soon (meant for cron)."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from programs import jobs
from programs.journey import alerts
from programs.management.arguments import iso_date


class Command(BaseCommand):
    help = (
        "Send one email per opted-in owner listing programmes that newly fit them (new, "
        "changed or newly opened) and those they are eligible for that close within 14 days. "
        "Safe to run twice or at the same time: nothing is sent twice for the same reason."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--today",
            type=iso_date("--today"),
            help="treat this date as today (YYYY-MM-DD)",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="count what would be sent; send nothing",
        )
        parser.add_argument(
            "--queue",
            action="store_true",
            help="queue the run for a worker (manage.py db_worker) and return at once; "
            "the admin's background jobs list shows it",
        )

    def handle(
        self,
        *args: Any,
        today: datetime.date | None,
        dry_run: bool,
        queue: bool,
        **options: Any,
    ) -> None:
        if queue:
            if dry_run:
                raise CommandError("--queue and --dry-run cannot be used together.")
            job = jobs.enqueue_alerts(today=today)
            self.stdout.write(
                f"Queued alert run as background job #{job.pk}; a worker "
                "(manage.py db_worker) sends the emails."
            )
            return
        run = alerts.send_alerts(today=today, dry_run=dry_run)
        verb = "Would send" if dry_run else "Sent"
        self.stdout.write(
            f"{verb} {run.emails} emails with {run.alerts} alerts "
            f"({run.by_kind['fits']} newly fitting, {run.by_kind['deadline']} closing soon)."
        )
