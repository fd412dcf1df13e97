"""
The public form's rate limit: POSTs per client address, counted in the database.

``form_rate_limited`` wraps a view (in programs/urls.py). A POST over
``settings.FORM_RATE_LIMIT`` ("30/min": a count per s, min, hour or day) from one
client address answers 429 with ``Retry-After`` and templates/429.html, before
the view runs, so nothing of it is stored. GET and HEAD are never counted.

The count is ``services.throttle_hit``, the API's own fixed-window upsert, so
every gunicorn process shares it; the address is ``reliefmatch.middleware.client_ip``,
the API's rule (X-Forwarded-For only with DJANGO_NUM_PROXIES above 0). Every
wrapped view (the form, its unsaved report download, and the edit, answer,
email and delete forms behind a private link) shares one allowance per address. The setting is read on each
request; empty or "0" turns the limit off.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from reliefmatch.middleware import client_ip

from . import services

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
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        rate = parse_rate(getattr(settings, "FORM_RATE_LIMIT", ""))
        if request.method == "POST" and rate is not None:
            limit, period = rate
            address = client_ip(request) or "unknown"
            allowed, retry_after = services.throttle_hit(
                key=f"{SCOPE}:{address}", limit=limit, period=period
            )
            if not allowed:
                logger.warning("Form rate limit reached: answered 429")
                return too_many_response(request, retry_after)
        return view(request, *args, **kwargs)

    return wrapped
