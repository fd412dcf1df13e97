"""
The JSON API, version 1 (django-ninja): matching, the catalogue and bulk screening.

Request bodies are read by the profile contract's own parser
(``contract.parse_profile``, through ``programs.api.schema``), so the API,
the screening CSV and the command line accept exactly the same profiles and
refuse the same mistakes with the same messages, in the request's language.
The OpenAPI document describes the bodies with schemas derived from the same
contract. Every invalid body answers 422 with every problem by field:
``{"errors": {"field": ["message", ...]}}``; a body that is not JSON at all
answers 400, and every declared status is in the OpenAPI document.
"""

from __future__ import annotations

import datetime
import math
import re
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from ninja import NinjaAPI, Schema, Status
from ninja.errors import HttpError, Throttled
from ninja.security import APIKeyHeader
from ninja.throttling import BaseThrottle

from programs import ratelimit
from programs.api import keys
from programs.api.schema import (
    SCREENING_SCHEMA,
    BodyError,
    profile_schema,
    read_as_of,
    read_body,
    read_field,
    read_profile,
    read_screening,
    too_long,
)
from programs.api.screening import read_screening_csv, screen
from programs.catalogue import store
from programs.engine import contract, matching
from programs.ratelimit import parse_rate
from reliefmatch.middleware import client_ip

if TYPE_CHECKING:
    from programs.models import ApiKey


class ErrorsOut(Schema):
    errors: dict[str, list[str]]


class DetailOut(Schema):
    detail: str


#: Every operation may answer these: a body that is not JSON at all (400) and
#: too many requests from one client (429, with Retry-After).
COMMON = {400: DetailOut, 429: DetailOut}


class DatabaseThrottle(BaseThrottle):
    """A fixed-window limit per client address, counted in the database.

    The rate ("60/min") is read from the named setting on each request and
    parsed as the form's is (``ratelimit.parse_rate``); empty or "0" is off.
    """

    def __init__(self, scope: str, setting: str):
        self.scope = scope
        self.setting = setting
        self.retry_after: int | None = None

    def allow_request(self, request: HttpRequest) -> bool:
        rate = parse_rate(getattr(settings, self.setting))
        if rate is None:
            return True
        limit, period = rate
        ident = self.get_ident(request) or "unknown"
        allowed, self.retry_after = ratelimit.throttle_hit(
            key=f"{self.scope}:{ident}", limit=limit, period=period
        )
        return allowed

    def wait(self) -> float | None:
        return self.retry_after

    def get_ident(self, request: HttpRequest) -> str | None:
        # One rule for the client's address everywhere (DJANGO_TRUSTED_PROXIES),
        # not ninja's own reading of X-Forwarded-For.
        return client_ip(request)


KEY_SHAPE = re.compile(r"[A-Za-z0-9_\-]{8,120}")
#: The throttle key's prefix of wrong API keys per client address.
KEY_FAILURES = "api-key-failures"


class ApiKeyAuth(APIKeyHeader):
    """Bulk screening needs a key that staff create and revoke in the admin."""

    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> ApiKey | None:
        # ninja checks the key before any throttle: wrong keys are limited
        # here, per client address (API_KEY_FAILURE_LIMIT). Over it, 429 with
        # Retry-After, and no key is checked until the window ends.
        address = client_ip(request) or "unknown"
        rate = settings.API_KEY_FAILURE_LIMIT
        if (
            wait := ratelimit.failures_wait(
                scope=KEY_FAILURES, address=address, rate=rate
            )
        ) is not None:
            raise Throttled(wait=wait)
        # Only what api_key_create makes can be a key; anything else (a NUL,
        # which PostgreSQL refuses in a query, or other control characters)
        # never reaches the database.
        row = keys.api_key_check(key) if key and KEY_SHAPE.fullmatch(key) else None
        if row is None:
            ratelimit.failure_count(scope=KEY_FAILURES, address=address, rate=rate)
        return row


class ReliefMatchAPI(NinjaAPI):
    """The API, with the contract's request schemas among the OpenAPI components."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        document = super().get_openapi_schema(*args, **kwargs)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas["ProfileIn"] = profile_schema()
        schemas["ScreeningIn"] = SCREENING_SCHEMA
        return document


def json_body(name: str) -> dict[str, Any]:
    """Return the OpenAPI description of a JSON body with the named schema."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}
            },
        }
    }


api = ReliefMatchAPI(
    title="ReliefMatch API",
    version="1",
    description=(
        "Match a small business's profile to 2020 relief programmes in China, and read the "
        "programme catalogue with its rules, availability and sources."
    ),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
    throttle=[DatabaseThrottle("api", "API_RATE_LIMIT")],
)


@api.exception_handler(BodyError)
def body_errors(request: HttpRequest, exc: BodyError) -> HttpResponse:
    """Answer a refused body with its status and problems."""
    return api.create_response(request, exc.content, status=exc.status)


#: ninja's own English details of its 4xx answers -> messages in the request's language.
HTTP_MESSAGES: dict[str, Promise] = {
    "Cannot parse request body": _("The request body is not valid JSON."),
    "Unauthorized": _("Send a valid API key in the X-API-Key header."),
    "Too many requests.": _("Too many requests."),
}


@api.exception_handler(HttpError)
def http_errors(request: HttpRequest, exc: HttpError) -> HttpResponse:
    """Answer ninja's 4xx with a detail in the request's language."""
    detail = str(exc)
    for english, message in HTTP_MESSAGES.items():
        if detail.startswith(english):
            detail = str(message)
            break
    response = api.create_response(request, {"detail": detail}, status=exc.status_code)
    if isinstance(exc, Throttled) and exc.wait is not None:
        # ninja adds Retry-After to its throttles' 429 only; ours from
        # authentication (too many wrong keys) gets it here.
        response["Retry-After"] = str(math.ceil(exc.wait))
    return response


@api.post(
    "/match",
    response={200: dict[str, Any], 422: ErrorsOut, **COMMON},
    summary="Match a profile",
    openapi_extra=json_body("ProfileIn"),
)
def match(request: HttpRequest) -> Status[dict[str, Any]]:
    """Return the ranked results for a profile: the same as `manage.py match --format json`."""
    profile, as_of = read_profile(read_body(request))
    report = store.run_match(profile=profile, as_of=as_of or timezone.localdate())
    return Status(200, report.to_dict())


NEED_CODES = contract.FIELDS["needs"].codes
DATE = {"type": "string", "format": "date"}


def query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Return the OpenAPI description of an optional query parameter."""
    return {"in": "query", "name": name, "required": False, "schema": schema}


def read_need(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if value not in NEED_CODES:
        raise contract.FieldProblem(_("Choose one of the listed options."))
    return str(value)


def read_provider(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if len(value) > 64:
        raise contract.FieldProblem(too_long(64))
    return str(value)


@api.get(
    "/programmes",
    response={200: dict[str, Any], 422: ErrorsOut, **COMMON},
    summary="List programmes",
    openapi_extra={
        "parameters": [
            query("provider", {"type": "string", "maxLength": 64}),
            query("need", {"type": "string", "enum": list(NEED_CODES)}),
            query("open_on", DATE),
        ]
    },
)
def programmes(request: HttpRequest) -> Status[dict[str, Any]] | dict[str, Any]:
    """Return the catalogue with rules, availability on `open_on` (default today) and sources."""
    problems: dict[str, list[str]] = {}
    provider = read_field(
        problems, "provider", read_provider, request.GET.get("provider")
    )
    need = read_field(problems, "need", read_need, request.GET.get("need"))
    open_on = read_field(problems, "open_on", read_open_on, request.GET.get("open_on"))
    if problems:
        return Status(422, {"errors": problems})
    catalogue = store.current_catalogue()
    day = open_on or timezone.localdate()
    selected = [
        p
        for p in catalogue.programmes
        if (provider is None or p.provider == provider)
        and (need is None or need in p.needs)
        and (open_on is None or p.availability(day) is matching.Availability.OPEN)
    ]
    return {
        "catalogue_version": catalogue.version,
        "as_of": day.isoformat(),
        "programmes": [programme_out(p, day) for p in selected],
    }


def read_open_on(value: Any) -> datetime.date | None:
    """Return a listing's date: any valid ISO date, not only the as-of range."""
    if value in (None, ""):
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise contract.FieldProblem(_("Enter a valid date.")) from None


@api.get(
    "/programmes/{slug}",
    response={200: dict[str, Any], 404: DetailOut, **COMMON},
    summary="One programme",
)
def programme(request: HttpRequest, slug: str) -> Status[dict[str, Any]]:
    """Return one programme with its rules, availability today and sources."""
    catalogue = store.current_catalogue()
    found = catalogue.get(slug)
    if found is None:
        raise HttpError(404, str(_("No programme with this slug.")))
    day = timezone.localdate()
    return Status(
        200, {"catalogue_version": catalogue.version, **programme_out(found, day)}
    )


def programme_out(programme: matching.Programme, day: datetime.date) -> dict[str, Any]:
    return {**programme.to_dict(), "availability": programme.availability(day).value}


# -- bulk screening -------------------------------------------------------------------


@api.post(
    "/screenings",
    auth=ApiKeyAuth(),
    throttle=[DatabaseThrottle("screenings", "API_SCREENING_RATE_LIMIT")],
    response={200: dict[str, Any], 401: DetailOut, 422: ErrorsOut, **COMMON},
    summary="Screen many profiles",
    openapi_extra=json_body("ScreeningIn"),
)
def screenings(request: HttpRequest) -> Status[dict[str, Any]]:
    """Screen up to 1,000 profiles (JSON) at once; each row gets its results or its own errors."""
    rows, as_of = read_screening(read_body(request))
    return Status(200, screen(rows, as_of or timezone.localdate()))


@api.post(
    "/screenings/csv",
    auth=ApiKeyAuth(),
    throttle=[DatabaseThrottle("screenings", "API_SCREENING_RATE_LIMIT")],
    response={200: dict[str, Any], 401: DetailOut, 422: ErrorsOut, **COMMON},
    summary="Screen a CSV of profiles",
    openapi_extra={
        "parameters": [query("as_of", DATE)],
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                }
            },
        },
    },
)
def screenings_csv(request: HttpRequest) -> Status[dict[str, Any]]:
    """Screen an uploaded CSV whose columns are the contract's field names (sets as `a;b`)."""
    problems: dict[str, list[str]] = {}
    file = request.FILES.get("file")
    if file is None:
        problems["file"] = [str(_("This field is required."))]
    as_of = read_field(problems, "as_of", read_as_of, request.GET.get("as_of"))
    if problems:
        return Status(422, {"errors": problems})
    assert file is not None  # a missing file is one of the problems above
    rows, problem = read_screening_csv(file)
    if problem:
        return Status(422, {"errors": {"file": [problem]}})
    return Status(200, screen(rows, as_of or timezone.localdate()))
