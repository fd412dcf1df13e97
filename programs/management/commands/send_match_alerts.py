"""Email owners about programmes that newly fit them or close soon (meant for cron)."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

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

    def handle(
        self, *args: Any, today: datetime.date | None, dry_run: bool, **options: Any
    ) -> None:
        run = alerts.send_alerts(today=today, dry_run=dry_run)
        verb = "Would send" if dry_run else "Sent"
        self.stdout.write(
            f"{verb} {run.emails} emails with {run.alerts} alerts "
            f"({run.by_kind['fits']} newly fitting, {run.by_kind['deadline']} closing soon)."
        )
