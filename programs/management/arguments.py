"""Argument parsing shared by the management commands."""

from __future__ import annotations

import datetime
from collections.abc import Callable

from django.core.management.base import CommandError


def iso_date(option: str) -> Callable[[str], datetime.date]:
    """Return an argparse type that reads YYYY-MM-DD and names `option` when it cannot."""

    def parse(text: str) -> datetime.date:
        try:
            return datetime.date.fromisoformat(text)
        except ValueError:
            raise CommandError(
                f"{option} must be a date as YYYY-MM-DD, not {text!r}"
            ) from None

    return parse
