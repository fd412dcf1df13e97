"""
Checking the catalogue's links, and which programmes need their sources checked.

A programme's links are its sources' addresses and its application link
(blank ones are skipped; an address without a scheme is fetched over
HTTPS). ``check_links`` fetches every distinct address once, a few at a
time in threads, with the standard library's HTTP client (no dependency
added), and records on a ``LinkCheck`` row per programme, kind and address:
the final HTTP status after redirects or the error (timeout, domain name
not found, TLS, refused), the final address, a SHA-256 of the first
``MAX_BODY_BYTES`` of the body, and when. Threads only fetch; every database
write happens afterwards in the caller's thread.

A programme needs checking (``review_reasons``) when a link broke since it
was last verified, when a link's content changed since then (see
``LinkCheck`` for what verified means), or when its ``last_verified_on`` is
more than ``settings.SOURCES_STALE_DAYS`` days ago or empty.
``mark_verified`` is what an admin does after reading the sources again.

Changed content is a byte-level fact: a page that prints the time or a
fresh token on every load shows as changed on every check. Such a link is
told apart by the final address and the page itself, not here.
"""

from __future__ import annotations

import datetime
import hashlib
import http.client
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from urllib.parse import quote, urlsplit, urlunsplit

from django.conf import settings
from django.db import models, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from programs.engine import text
from programs.models import LinkCheck, Programme

#: Only the start of a body is read and hashed: enough to tell a page changed.
MAX_BODY_BYTES = 2 * 1024 * 1024
#: Addresses fetched at once; 60 links with a few dead ones take seconds, not minutes.
DEFAULT_WORKERS = 8
USER_AGENT = "Mozilla/5.0 (compatible; ReliefMatch-link-check/1.0)"
#: Characters left as they are when an address is made ASCII (RFC 3986's
#: reserved and unreserved ones, and % so that encoded addresses stay so).
_URL_SAFE = "/?#[]@!$&'()*+,;=:%~-._"

Error = LinkCheck.Error


class Reason(models.TextChoices):
    """Why a programme needs its sources checked."""

    BROKEN = "broken", _("link broken")
    CHANGED = "changed", _("content changed")
    STALE = "stale", _("not verified for a long time")


def stale_text(stale_days: int) -> str:
    """Return the stale reason with its number of days, in the active language."""
    return ngettext(
        "not verified for over %(days)s day",
        "not verified for over %(days)s days",
        stale_days,
    ) % {"days": stale_days}


def reason_text(reason: Reason, programme: Programme, *, stale_days: int) -> str:
    """Return a reason as the admin shows it for this programme."""
    if reason is Reason.STALE:
        if programme.last_verified_on is None:
            return str(_("never verified"))
        return stale_text(stale_days)
    return str(reason.label)


# -- the links -------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """One of a programme's links, as stored (``url`` is the key, not normalised)."""

    programme_id: int
    programme_slug: str
    kind: str
    url: str


def programme_links(programme: Programme) -> list[Link]:
    """Return the programme's links: the application link, then sources, each once.

    Reads ``programme.sources.all()``, so prefetch it for many programmes.
    """
    wanted = [(LinkCheck.Kind.APPLY, programme.apply_url)] + [
        (LinkCheck.Kind.SOURCE, source.url) for source in programme.sources.all()
    ]
    links: list[Link] = []
    for kind, url in wanted:
        link = Link(programme.pk, programme.slug, kind, url.strip())
        if link.url and link not in links:
            links.append(link)
    return links


def web_address(url: str) -> str | None:
    """Return the address to fetch for a stored link, or None if it is not one.

    "alizila.com/x" becomes "https://alizila.com/x"; non-ASCII characters are
    percent-encoded (the host in IDNA); only http and https are fetched.
    """
    url = url.strip()
    if "://" not in url:
        url = "https://" + url
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").encode("idna").decode("ascii")
        port = parts.port
    except (ValueError, UnicodeError):
        return None
    if parts.scheme.lower() not in {"http", "https"} or not host:
        return None
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit(
        (
            parts.scheme.lower(),
            netloc,
            quote(parts.path, safe=_URL_SAFE),
            quote(parts.query, safe=_URL_SAFE),
            "",
        )
    )


# -- fetching (no database) -----------------------------------------------------------


@dataclass(frozen=True)
class Fetched:
    """What fetching one address gave."""

    status_code: int | None = None
    error: str = ""
    error_detail: str = ""
    final_url: str = ""
    content_hash: str = ""


def classify(error: BaseException) -> str:
    """Return the ``LinkCheck.Error`` for an exception raised while fetching."""
    if isinstance(error, urllib.error.URLError) and isinstance(
        error.reason, BaseException
    ):
        return classify(error.reason)
    if isinstance(error, TimeoutError):
        return Error.TIMEOUT
    if isinstance(error, socket.gaierror):
        return Error.DNS
    if isinstance(error, ssl.SSLError | ssl.CertificateError):
        return Error.TLS
    if isinstance(error, ConnectionRefusedError):
        return Error.REFUSED
    if isinstance(error, http.client.InvalidURL):
        return Error.INVALID
    return Error.OTHER


@cache
def _tls_context() -> ssl.SSLContext:
    """Return the TLS settings for every fetch (loading the CA certificates is slow)."""
    return ssl.create_default_context()


def _opener() -> urllib.request.OpenerDirector:
    """Return an opener for http and https only (no file:, ftp: or data:)."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.UnknownHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(context=_tls_context()),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPRedirectHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def fetch(url: str, *, timeout: float, max_bytes: int = MAX_BODY_BYTES) -> Fetched:
    """Fetch one address, following redirects; never raise for a network failure.

    ``timeout`` bounds each network step (connecting, each read) and the
    reading of the body as a whole.
    """
    address = web_address(url)
    if address is None:
        return Fetched(error=Error.INVALID, error_detail="not an http(s) address")
    request = urllib.request.Request(
        address,
        headers={
            "User-Agent": USER_AGENT,
            "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
            "Accept-Encoding": "identity",
        },
    )
    try:
        with _opener().open(request, timeout=timeout) as response:
            deadline = time.monotonic() + timeout
            digest = hashlib.sha256()
            left = max_bytes
            while left > 0:
                if time.monotonic() > deadline:
                    raise TimeoutError("the body took longer than the timeout")
                chunk = response.read(min(64 * 1024, left))
                if not chunk:
                    break
                digest.update(chunk)
                left -= len(chunk)
            return Fetched(
                status_code=response.status,
                final_url=response.geturl(),
                content_hash=digest.hexdigest(),
            )
    except urllib.error.HTTPError as error:
        error.close()
        if error.code < 400:  # a redirect loop, or one without a Location
            return Fetched(
                status_code=error.code,
                error=Error.OTHER,
                error_detail=str(error)[:300],
                final_url=error.url or address,
            )
        return Fetched(status_code=error.code, final_url=error.url or address)
    except (OSError, http.client.HTTPException, ValueError) as error:
        # URLError, timeouts, TLS and socket errors are all OSErrors.
        reason = getattr(error, "reason", error)
        return Fetched(error=classify(error), error_detail=str(reason)[:300])


def fetch_all(
    urls: Iterable[str], *, timeout: float, workers: int = DEFAULT_WORKERS
) -> dict[str, Fetched]:
    """Fetch each distinct address once, ``workers`` at a time."""
    distinct = list(dict.fromkeys(urls))
    if not distinct:
        return {}
    with ThreadPoolExecutor(max_workers=min(workers, len(distinct))) as pool:
        fetched = pool.map(lambda u: fetch(u, timeout=timeout), distinct)
        return dict(zip(distinct, fetched, strict=True))


# -- recording and flags -------------------------------------------------------------


def check_links(
    programmes: QuerySet[Programme],
    *,
    timeout: float | None = None,
    workers: int = DEFAULT_WORKERS,
) -> list[tuple[Link, LinkCheck]]:
    """Fetch and record every link of the programmes; return each with its row.

    Rows of addresses the programmes no longer have are deleted.
    """
    if timeout is None:
        timeout = settings.LINK_CHECK_TIMEOUT
    programmes = programmes.prefetch_related("sources")
    links = [link for p in programmes for link in programme_links(p)]
    fetched = fetch_all((link.url for link in links), timeout=timeout, workers=workers)
    now = timezone.now()
    checked: list[tuple[Link, LinkCheck]] = []
    with transaction.atomic():
        rows = {
            (row.programme_id, row.kind, row.url): row
            for row in LinkCheck.objects.select_for_update().filter(
                programme__in=[p.pk for p in programmes]
            )
        }
        for link in links:
            result = fetched[link.url]
            key = (link.programme_id, link.kind, link.url)
            row = rows.pop(key, None) or LinkCheck(
                programme_id=link.programme_id, kind=link.kind, url=link.url
            )
            row.status_code = result.status_code
            row.error = result.error
            row.error_detail = result.error_detail
            row.final_url = result.final_url[:2000]
            row.content_hash = result.content_hash
            row.checked_at = now
            if row.verified_at is None and not row.verified_hash:
                # Never verified: the first content seen is the baseline.
                row.verified_hash = row.content_hash
            row.save()
            checked.append((link, row))
        LinkCheck.objects.filter(pk__in=[row.pk for row in rows.values()]).delete()
    return checked


def mark_verified(programmes: Iterable[Programme]) -> int:
    """Record that an admin read the programmes' sources again today.

    Sets ``last_verified_on`` to today (saved, so the change history shows
    who) and takes each checked link's latest content as the verified one.
    Return how many links were marked.
    """
    today, now = timezone.localdate(), timezone.now()
    marked = 0
    with transaction.atomic():
        for programme in programmes:
            programme.last_verified_on = today
            programme.save(update_fields=["last_verified_on", "updated_at"])
            current = {(link.kind, link.url) for link in programme_links(programme)}
            for row in LinkCheck.objects.filter(programme=programme):
                if (row.kind, row.url) in current:
                    row.verified_hash, row.verified_at = row.content_hash, now
                    row.save(update_fields=["verified_hash", "verified_at"])
                    marked += 1
    return marked


def current_checks(programme: Programme) -> list[tuple[Link, LinkCheck | None]]:
    """Return the programme's links, each with its latest check (None: not checked).

    Reads ``programme.sources.all()`` and ``programme.link_checks.all()``,
    so prefetch both for many programmes.
    """
    rows = {(row.kind, row.url): row for row in programme.link_checks.all()}
    return [
        (link, rows.get((link.kind, link.url))) for link in programme_links(programme)
    ]


def review_reasons(
    programme: Programme,
    *,
    today: datetime.date | None = None,
    stale_days: int | None = None,
) -> list[Reason]:
    """Return why the programme's sources need checking; empty when they do not."""
    today = today or timezone.localdate()
    if stale_days is None:
        stale_days = settings.SOURCES_STALE_DAYS
    rows = [row for _link, row in current_checks(programme) if row is not None]
    reasons = []
    if any(row.broke_since_verified for row in rows):
        reasons.append(Reason.BROKEN)
    if any(row.changed_since_verified for row in rows):
        reasons.append(Reason.CHANGED)
    verified = programme.last_verified_on
    if verified is None or (today - verified).days > stale_days:
        reasons.append(Reason.STALE)
    return reasons


def with_checks(programmes: QuerySet[Programme]) -> QuerySet[Programme]:
    """Return the queryset with what ``review_reasons`` reads prefetched."""
    return programmes.prefetch_related("sources", "link_checks")


def programmes_needing_review(
    programmes: QuerySet[Programme], *, reason: Reason | None = None
) -> list[int]:
    """Return the ids of the programmes that need checking (for ``reason``, if given)."""
    return [
        p.pk
        for p in with_checks(programmes)
        if (reasons := review_reasons(p)) and (reason is None or reason in reasons)
    ]


def reasons_sentence(programme: Programme) -> str:
    """Return the programme's reasons as one line in the active language."""
    stale_days = settings.SOURCES_STALE_DAYS
    return text.list_separator().join(
        reason_text(r, programme, stale_days=stale_days)
        for r in review_reasons(programme, stale_days=stale_days)
    )
