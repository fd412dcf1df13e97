"""
Request-level protections: a cap on request bodies, the client's address,
and the admin's lockout page.

* ``RequestBodyLimitMiddleware`` answers 413 to a request whose declared
  ``Content-Length`` exceeds ``settings.REQUEST_MAX_BODY_BYTES``, before any
  byte of the body is read, so no form, JSON or upload parser runs on it. A
  body without a declared length is read through ``CappedStream``: reading
  past the limit fails, and the middleware turns whatever Django answered
  (400 for ``RequestDataTooBig``) into the same 413.
* ``ChunkedBodyMiddleware`` answers 411 to a POST, PUT or PATCH whose body
  is chunked (no ``Content-Length``): Django would read it as empty.
* ``client_ip`` is the client's address by ``reliefmatch.proxies``' rule
  (``DJANGO_TRUSTED_PROXIES``): for every rate limit and django-axes' lockouts.
* ``UntrustedForwardedProtoMiddleware`` drops ``X-Forwarded-Proto`` unless a
  trusted proxy sent it, so nobody else can pass plain HTTP off as HTTPS.
* ``lockout_response`` is the page a locked-out admin login gets (429).
* ``DatabaseUnavailableMiddleware`` answers 503 with ``Retry-After`` and a
  "try again in a moment" page (JSON under /api/) when a view fails because
  the database cannot be reached (a PostgreSQL restart), instead of a 500.
* ``NullCharacterMiddleware`` answers 400 to a query string with a NUL.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.utils import translation
from django.utils.translation import gettext, gettext_noop

from reliefmatch import proxies

#: Requests under this path prefix are the JSON API's (see reliefmatch/urls.py);
#: they get their 413 as JSON, like the API's other errors.
API_PREFIX = "/api/"


def declared_length(request: HttpRequest) -> int | None:
    """Return the request's Content-Length, or None when it gives none (or nonsense)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    return length if length >= 0 else None


class CappedStream:
    """A request body stream that refuses to yield more than `limit` bytes.

    Reading past the limit raises ``RequestDataTooBig`` and sets ``exceeded``.
    """

    def __init__(self, stream: Any, limit: int) -> None:
        self.stream = stream
        self.limit = limit
        self.position = 0
        self.exceeded = False

    def _count(self, data: bytes) -> bytes:
        self.position += len(data)
        if self.position > self.limit:
            self.exceeded = True
            raise RequestDataTooBig(
                "The request body is larger than REQUEST_MAX_BODY_BYTES."
            )
        return data

    def _allowance(self, size: int | None) -> int:
        # One byte beyond the limit is enough to know it is exceeded.
        left = self.limit + 1 - self.position
        return left if size is None or size < 0 else min(size, left)

    def read(self, size: int | None = -1) -> bytes:
        return self._count(self.stream.read(self._allowance(size)))

    def readline(self, size: int | None = -1) -> bytes:
        return self._count(self.stream.readline(self._allowance(size)))

    def close(self) -> None:
        if hasattr(self.stream, "close"):
            self.stream.close()


def too_large_response(request: HttpRequest) -> HttpResponse:
    """Return the 413 answer, in the client's language, without touching the body."""
    language = translation.get_language_from_request(request)
    with translation.override(language):
        message = gettext(
            "This request is too large: at most %(size)s can be sent at once. "
            "Send less at a time, for example split a file into smaller files."
        ) % {"size": filesizeformat(settings.REQUEST_MAX_BODY_BYTES)}
    if request.path_info.startswith(API_PREFIX):
        response: HttpResponse = JsonResponse({"detail": message}, status=413)
    else:
        response = HttpResponse(
            message, status=413, content_type="text/plain; charset=utf-8"
        )
    response["Content-Language"] = language
    return response


#: Methods whose requests carry a body the app reads.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def sends_chunked_body(request: HttpRequest) -> bool:
    """Return whether the request's body comes in chunks, with no length declared."""
    encodings = request.META.get("HTTP_TRANSFER_ENCODING", "")
    return request.method in BODY_METHODS and any(
        coding.strip().lower() == "chunked" for coding in encodings.split(",")
    )


def length_required_response(request: HttpRequest) -> HttpResponse:
    """Return the 411 answer, in the client's language, without touching the body."""
    language = translation.get_language_from_request(request)
    with translation.override(language):
        message = gettext(
            "This request was sent in pieces without saying its length, which "
            "this site cannot read. Send it again with a Content-Length header "
            "(browsers and most tools do so by themselves)."
        )
    if request.path_info.startswith(API_PREFIX):
        response: HttpResponse = JsonResponse({"detail": message}, status=411)
    else:
        response = HttpResponse(
            message, status=411, content_type="text/plain; charset=utf-8"
        )
    response["Content-Language"] = language
    return response


class ChunkedBodyMiddleware:
    """Answer 411 Length Required to a POST, PUT or PATCH with a chunked body.

    Django reads a request body only up to its ``Content-Length``; under
    gunicorn a chunked body has none, so the view would see an empty body
    (an empty form, "not JSON", a CSRF failure) and say something false.
    Saying plainly that a length is needed is the honest answer. Goes
    before ``RequestBodyLimitMiddleware`` and anything that reads a body.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if sends_chunked_body(request):
            return length_required_response(request)
        return self.get_response(request)


class RequestBodyLimitMiddleware:
    """Answer 413 to a request body over ``settings.REQUEST_MAX_BODY_BYTES``.

    Goes early in MIDDLEWARE: before anything that could read the body
    (CSRF, sessions, views). Django would otherwise answer an oversized form
    with 400 (``RequestDataTooBig``) after starting to parse it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.REQUEST_MAX_BODY_BYTES
        length = declared_length(request)
        if length is not None and length > limit:
            return too_large_response(request)
        if length is not None:
            # Django reads at most the declared length, which is within the limit.
            return self.get_response(request)
        # No declared length (a chunked body): cap what can be read of it.
        # HttpRequest reads its body from the private ``_stream`` only.
        stream = CappedStream(request._stream, limit)
        request._stream = stream  # type: ignore[assignment]  # reads like the stream it wraps
        response = self.get_response(request)
        if stream.exceeded:
            return too_large_response(request)
        return response


def client_ip(request: HttpRequest) -> str | None:
    """Return the client's address, trusting X-Forwarded-For only from trusted proxies.

    The connection's own address, unless it is one of DJANGO_TRUSTED_PROXIES;
    then the right-most address in X-Forwarded-For that is not a trusted proxy
    (``reliefmatch.proxies.client_address``). The one rule for the form's and
    the API's rate limits and for django-axes (AXES_CLIENT_IP_CALLABLE).
    """
    return proxies.client_address(
        request.META.get("REMOTE_ADDR"),
        request.META.get("HTTP_X_FORWARDED_FOR"),
        settings.TRUSTED_PROXIES,
    )


class UntrustedForwardedProtoMiddleware:
    """Drop X-Forwarded-Proto from any connection that is not a trusted proxy.

    Django's SECURE_PROXY_SSL_HEADER believes the header from whoever sent it;
    gunicorn believes it only from ``forwarded_allow_ips``, which
    gunicorn.conf.py sets to the same DJANGO_TRUSTED_PROXIES. First in
    MIDDLEWARE, before SecurityMiddleware reads it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "HTTP_X_FORWARDED_PROTO" in request.META and not proxies.is_trusted(
            request.META.get("REMOTE_ADDR"), settings.TRUSTED_PROXIES
        ):
            del request.META["HTTP_X_FORWARDED_PROTO"]
        return self.get_response(request)


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """Return the admin's page for a login refused by django-axes, status 429.

    Says how long to wait (``Retry-After`` too), never whether the username
    exists or the password was right.
    """
    # Imported here: this module is loaded by settings-driven hooks that may
    # run before the app registry is ready.
    from axes.helpers import get_cool_off
    from django.contrib import admin

    cool_off = get_cool_off(request) or datetime.timedelta(0)
    minutes = max(1, round(cool_off.total_seconds() / 60))
    context = {
        **admin.site.each_context(request),
        "title": gettext("Too many failed sign-in attempts"),
        "cool_off_minutes": minutes,
    }
    response = render(
        request,
        "admin/lockout.html",
        context,
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response


# -- the database is unreachable: a clear "try again" answer, never a 500 ---------------

#: What a visitor is told when the database cannot be reached. The same words
#: (one message to translate) on the page (templates/503.html) and in the API's JSON.
DATABASE_UNAVAILABLE_MESSAGE = gettext_noop(
    "We could not save or show your answers just now. Nothing was lost on your "
    "side: please try again in a moment."
)
#: Seconds a client is asked to wait (Retry-After) before trying again.
DATABASE_RETRY_AFTER = 5

logger = logging.getLogger(__name__)


def _unavailable_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "the database cannot be reached just now".

    Django wraps the driver's errors (``django.db.OperationalError``,
    ``InterfaceError``); with the connection pool, a connection that cannot be
    had within ``DB_POOL_TIMEOUT`` is psycopg_pool's ``PoolTimeout``, a
    ``psycopg.OperationalError`` that Django re-raises as its own
    ``OperationalError``. The driver's own classes are listed too, for code
    that reaches the raw connection outside Django's wrapper.
    """
    from django.db import InterfaceError, OperationalError

    errors: list[type[BaseException]] = [OperationalError, InterfaceError]
    try:
        import psycopg
        import psycopg_pool
    except ImportError:  # SQLite-only installs
        pass
    else:
        errors += [
            psycopg.OperationalError,
            psycopg.InterfaceError,
            psycopg_pool.PoolTimeout,
        ]
    return tuple(errors)


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    """Return the 503 "try again in a moment" answer, without touching the database.

    The page extends base.html, which reads no session, user or database
    state; ``messages`` is replaced by an empty list so that even a message
    that overflowed into the session is not looked up. Should rendering fail
    all the same, a plain-text answer with the same words is sent.
    """
    message = gettext(DATABASE_UNAVAILABLE_MESSAGE)
    if request.path_info.startswith(API_PREFIX):
        response: HttpResponse = JsonResponse(
            {"errors": {"__all__": [message]}}, status=503
        )
    else:
        try:
            response = render(request, "503.html", {"messages": ()}, status=503)
        except Exception:  # noqa: BLE001 - the fallback must never fail
            logger.warning("Could not render the 503 page", exc_info=False)
            response = HttpResponse(
                message, status=503, content_type="text/plain; charset=utf-8"
            )
    response["Retry-After"] = str(DATABASE_RETRY_AFTER)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    """Answer 503 with Retry-After when a view fails because the database is down.

    While PostgreSQL restarts (or the pool cannot lend a connection in time),
    a request that needs the database fails with ``OperationalError`` or
    ``InterfaceError``. Without this, that is a 500 "server error" page; with
    it, the visitor is told plainly that nothing was lost and to try again in
    a few seconds, and API clients get the same words as JSON. The warning
    logged names the error's class only: no path, body or address.
    ``/healthz`` answers its own 503 and never gets here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.errors = _unavailable_errors()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if not isinstance(exception, self.errors):
            return None
        logger.warning(
            "The database could not be reached (%s): answered 503, try again",
            type(exception).__name__,
        )
        return database_unavailable_response(request)


def has_null_character(request: HttpRequest) -> bool:
    return any(
        "\x00" in key or any("\x00" in value for value in values)
        for key, values in request.GET.lists()
    )


class NullCharacterMiddleware:
    """Answer 400 to a query string holding a NUL character.

    No real address carries one, and PostgreSQL refuses NUL in text, so a
    filter such as the admin's ``?province__exact=%00`` would otherwise end
    in a database error (500). Form fields refuse NUL with their own message,
    and the API (which checks its parameters by field) is left to do so.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The API validates its own query parameters, with a message by field.
        if not request.path_info.startswith(API_PREFIX) and has_null_character(request):
            message = gettext(
                "This address contains a character that is not allowed (NUL). "
                "Check the link and try again."
            )
            return HttpResponse(
                message, status=400, content_type="text/plain; charset=utf-8"
            )
        return self.get_response(request)
