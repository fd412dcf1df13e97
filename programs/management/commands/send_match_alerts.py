"""Email owners about programmes that newly fit them or close soon (meant for cron)."""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError

from programs import alerts


def date_argument(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"--today must be a date as YYYY-MM-DD, not {text!r}"
        ) from None


class Command(BaseCommand):
    help = (
        "Send one email per opted-in owner listing programmes that newly fit them (new, "
        "changed or newly opened) and those they are eligible for that close within 14 days. "
        "Safe to run twice or at the same time: nothing is sent twice for the same reason."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--today", type=date_argument, help="treat this date as today (YYYY-MM-DD)"
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="count what would be sent; send nothing",
        )

    def handle(self, *args, today, dry_run, **options):
        run = alerts.send_alerts(today=today, dry_run=dry_run)
        verb = "Would send" if dry_run else "Sent"
        self.stdout.write(
            f"{verb} {run.emails} emails with {run.alerts} alerts "
            f"({run.by_kind['fits']} newly fitting, {run.by_kind['deadline']} closing soon)."
        )
