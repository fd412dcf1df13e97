"""Fetch every programme's source and application links and record what they gave (for cron).

One line per link: its state, HTTP status or error, the programme, the kind
and the address (with the final address when redirected), then a summary.
``--fail-on-broken`` exits with status 1 when a link broke since it was
last verified, for cron and CI. See ``programs.catalogue.link_checks``.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from programs.catalogue import link_checks
from programs.catalogue.link_checks import Link
from programs.models import LinkCheck, Programme

MAX_TIMEOUT = 120.0
MAX_WORKERS = 32


def seconds(text: str) -> float:
    """Read --timeout: seconds from 0.1 to MAX_TIMEOUT."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.1 <= value <= MAX_TIMEOUT:
        raise CommandError(
            f"--timeout must be a number of seconds from 0.1 to {MAX_TIMEOUT:g}, not {text!r}"
        )
    return value


def workers(text: str) -> int:
    """Read --workers: a whole number from 1 to MAX_WORKERS."""
    if not text.isdigit() or not 1 <= int(text) <= MAX_WORKERS:
        raise CommandError(
            f"--workers must be a whole number from 1 to {MAX_WORKERS}, not {text!r}"
        )
    return int(text)


def describe(link: Link, row: LinkCheck) -> str:
    """Return the command's line for one checked link."""
    if row.broke_since_verified:
        state = "BROKEN"
    elif row.broken:
        state = "gone"  # broken, and already so when verified
    elif row.changed_since_verified:
        state = "CHANGED"
    else:
        state = "ok"
    result = row.error or str(row.status_code)
    line = f"{state:<8}{result:<9}{link.programme_slug}  {link.kind}  {link.url}"
    if row.final_url and row.final_url != link_checks.web_address(link.url):
        line += f" -> {row.final_url}"
    if row.error_detail:
        line += f" ({row.error_detail})"
    return line


class Command(BaseCommand):
    help = (
        "Fetch every programme's source and application links, record the HTTP "
        "status or error, final address and content hash of each, and report the "
        "links that broke or changed since the programme was last verified. "
        "Flagged programmes show in the admin under “sources need checking”."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--programme",
            action="append",
            default=[],
            metavar="SLUG",
            help="check only this programme (repeatable)",
        )
        parser.add_argument(
            "--timeout",
            type=seconds,
            default=None,
            metavar="SECONDS",
            help="seconds each link may take (default: settings.LINK_CHECK_TIMEOUT)",
        )
        parser.add_argument(
            "--workers",
            type=workers,
            default=link_checks.DEFAULT_WORKERS,
            metavar="N",
            help=f"links fetched at once (default {link_checks.DEFAULT_WORKERS})",
        )
        parser.add_argument(
            "--fail-on-broken",
            action="store_true",
            help="exit with status 1 when a link broke since it was last verified",
        )

    def handle(
        self,
        *args: Any,
        programme: list[str],
        timeout: float | None,
        workers: int,
        fail_on_broken: bool,
        **options: Any,
    ) -> None:
        programmes = Programme.objects.order_by("slug")
        if programme:
            found = set(
                programmes.filter(slug__in=programme).values_list("slug", flat=True)
            )
            if unknown := sorted(set(programme) - found):
                raise CommandError(f"No programme with slug {', '.join(unknown)}.")
            programmes = programmes.filter(slug__in=programme)
        if timeout is None:
            timeout = seconds(str(settings.LINK_CHECK_TIMEOUT))
        started = time.monotonic()
        checked = link_checks.check_links(programmes, timeout=timeout, workers=workers)
        elapsed = time.monotonic() - started
        for link, row in checked:
            self.stdout.write(describe(link, row))

        rows = [row for _link, row in checked]
        broken = sum(row.broke_since_verified for row in rows)
        gone = sum(row.broken and not row.broke_since_verified for row in rows)
        changed = sum(row.changed_since_verified for row in rows)
        needing = len(link_checks.programmes_needing_review(programmes))
        addresses = len({link.url for link, _row in checked})
        summary = (
            f"Checked {len(rows):,} links ({addresses:,} addresses) of "
            f"{programmes.count():,} programmes in {elapsed:.1f} s: "
            f"{len(rows) - broken - gone - changed:,} ok, {broken:,} broken, "
            f"{changed:,} changed since verified, {gone:,} already broken when "
            f"verified. {needing:,} programmes need their sources checked "
            f"(admin: “sources need checking”)."
        )
        if fail_on_broken and broken:
            raise CommandError(summary, returncode=1)
        self.stdout.write(summary)
