"""
The public form's rate limit: POSTs per client address, counted in the database.

``form_rate_limited`` wraps a view (in programs/urls.py). A POST over
``settings.FORM_RATE_LIMIT`` ("30/min": a count per s, min, hour or day) from one
client address answers 429 with ``Retry-After`` and templates/429.html, before
the view runs, so nothing of it is stored. GET and HEAD are never counted.

The count is ``throttle_hit``, the API's own fixed-window upsert, so
every gunicorn process shares it; the address is ``reliefmatch.middleware.client_ip``
(X-Forwarded-For only from DJANGO_TRUSTED_PROXIES). Every
wrapped view (the form, its unsaved report download, and the edit, answer,
email and delete forms behind a private link, and the wrong-answer reports) shares one allowance per address. The setting is read on each
request; empty or "0" turns the limit off.

The same count also limits wrong API keys per address (``failures_wait``,
``failure_count``) and "Email me my link" per recipient and per address a day
(``link_email_allowed``).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from programs.models import ThrottleCount
from reliefmatch.middleware import client_ip

logger = logging.getLogger(__name__)

#: Units a rate may be given in, in seconds (the form's and the API's rates).
PERIODS = {
    "s": 1,
    "sec": 1,
    "m": 60,
    "min": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}

#: The throttle key's prefix: the form's counts never mix with the API's ("api:").
SCOPE = "form"

View = Callable[..., HttpResponse]


def parse_rate(rate: str) -> tuple[int, int] | None:
    """Return (count, period in seconds) for "30/min", or None when the limit is off."""
    rate = (rate or "").strip()
    if rate in {"", "0"}:
        return None
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period]


def too_many_response(request: HttpRequest, retry_after: int) -> HttpResponse:
    response = render(request, "429.html", status=429)
    response["Retry-After"] = str(max(1, retry_after))
    response["Cache-Control"] = "no-store"
    return response


def form_rate_limited(view: View) -> View:
    """Refuse a POST over FORM_RATE_LIMIT from one client address with a 429 page."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        rate = parse_rate(getattr(settings, "FORM_RATE_LIMIT", ""))
        if request.method == "POST" and rate is not None:
            limit, period = rate
            address = client_ip(request) or "unknown"
            allowed, retry_after = throttle_hit(
                key=f"{SCOPE}:{address}", limit=limit, period=period
            )
            if not allowed:
                logger.warning("Form rate limit reached: answered 429")
                return too_many_response(request, retry_after)
        return view(request, *args, **kwargs)

    return wrapped


def throttle_count(*, key: str, period: int) -> tuple[int, int]:
    """Return (what was counted for `key` in the current window, seconds left); count nothing."""
    now = int(time.time())
    window = now - now % period
    count = (
        ThrottleCount.objects.filter(key=key[:120], window=window)
        .values_list("count", flat=True)
        .first()
    )
    return count or 0, window + period - now


# -- failures per address: wrong API keys -------------------------------------------


def failures_wait(*, scope: str, address: str, rate: str) -> int | None:
    """Return the seconds to wait when `address` already failed `rate` times, else None.

    Counts nothing: a request refused here was never checked, so a client
    over the limit learns nothing more, even with a right key, until the
    window ends. ``failure_count`` counts a failure.
    """
    parsed = parse_rate(rate)
    if parsed is None:
        return None
    limit, period = parsed
    count, retry_after = throttle_count(key=f"{scope}:{address}", period=period)
    return max(1, retry_after) if count >= limit else None


def failure_count(*, scope: str, address: str, rate: str) -> None:
    """Count one failure (a wrong API key) from `address` against `rate`."""
    if (parsed := parse_rate(rate)) is not None:
        limit, period = parsed
        throttle_hit(key=f"{scope}:{address}", limit=limit, period=period)


# -- "Email me my link": per recipient and per client address, a day ------------------

DAY = 86400


def link_email_allowed(*, recipient: str, address: str) -> bool:
    """Count one private-link email to `recipient` asked from `address`; may it go?

    At most LINK_EMAILS_PER_ADDRESS a day from one client address and
    LINK_EMAILS_PER_RECIPIENT a day to one recipient, so nobody can use the
    form to flood a mailbox. The recipient is counted under a digest of the
    address, never the address itself. A request refused for its client
    address is not counted against the recipient.
    """
    allowed, _ = throttle_hit(
        key=f"email-from:{address}",
        limit=settings.LINK_EMAILS_PER_ADDRESS,
        period=DAY,
    )
    if not allowed:
        return False
    digest = hashlib.sha256(recipient.strip().lower().encode()).hexdigest()
    allowed, _ = throttle_hit(
        key=f"email-to:{digest}", limit=settings.LINK_EMAILS_PER_RECIPIENT, period=DAY
    )
    return allowed


def throttle_hit(*, key: str, limit: int, period: int) -> tuple[bool, int]:
    """Count one request for `key` in the current window; return (allowed, seconds left).

    One atomic upsert, the same SQL on PostgreSQL and SQLite (3.35+), so every
    web process shares one count without a separate cache server.
    """
    now = int(time.time())
    window = now - now % period
    q = connection.ops.quote_name  # "window" is a reserved word in PostgreSQL
    table, key_col, window_col, count_col = (
        q(ThrottleCount._meta.db_table),
        q("key"),
        q("window"),
        q("count"),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            # Identifiers only are interpolated; values are parameters.
            f"INSERT INTO {table} ({key_col}, {window_col}, {count_col}) VALUES (%s, %s, 1) "  # noqa: S608
            f"ON CONFLICT ({key_col}, {window_col}) DO UPDATE SET {count_col} = {table}.{count_col} + 1 "
            f"RETURNING {count_col}",
            [key[:120], window],
        )
        count = cursor.fetchone()[0]
        if (
            count == 1 and now % 97 == 0
        ):  # now and then, forget windows older than a day
            cursor.execute(
                f"DELETE FROM {table} WHERE {window_col} < %s", [now - 86400]
            )  # noqa: S608
    return count <= limit, window + period - now
