"""
The JSON API, version 1 (django-ninja): matching and the catalogue.

The request schema documents the profile contract (field names, allowed
codes, ranges) in the OpenAPI document; the matcher's own ``parse_profile``
then validates the body, so the API, the form and the command line accept
exactly the same profiles. Every invalid body answers 422 with every problem
by field: ``{"errors": {"field": ["message", ...]}}``; a body that is not
JSON at all answers 400, and every declared status is in the OpenAPI document.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any, Literal

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, File, NinjaAPI, Query, Schema, Status, UploadedFile
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyHeader
from ninja.throttling import BaseThrottle

from . import matching, services
from .screening import MAX_SCREENING_ROWS, read_screening_csv, screen


def _codes(spec_name: str) -> Any:
    return Literal[matching.FIELDS[spec_name].codes]  # type: ignore[valid-type]


BusinessType = _codes("business_type")
Province = _codes("province")
Registration = _codes("registration")
ExportMarket = _codes("export_markets")
Platform = _codes("platforms")
Premises = _codes("premises")
Need = _codes("needs")


class ProfileIn(Schema):
    """A business profile in the contract's field names; only the first three are required."""

    business_type: BusinessType
    province: Province
    needs: list[Need] = Field(..., min_length=1, max_length=56)
    registration: Registration | None = None
    city: str | None = Field(None, max_length=100)
    employees: int | None = Field(None, ge=0, le=10_000_000)
    annual_revenue_cny: Decimal | None = Field(None, ge=0, le=10**13)
    years_operating: Decimal | None = Field(None, ge=0, le=200)
    export_share_pct: Decimal | None = Field(None, ge=0, le=100)
    export_markets: list[ExportMarket] | None = Field(None, max_length=40)
    platforms: list[Platform] | None = Field(None, max_length=56)
    cash_runway_months: Decimal | None = Field(None, ge=0, le=120)
    cash_on_hand_cny: Decimal | None = Field(None, ge=0, le=10**13)
    monthly_fixed_costs_cny: Decimal | None = Field(None, ge=0, le=10**13)
    revenue_change_pct: Decimal | None = Field(None, ge=-100, le=1000)
    has_bank_loan: bool | None = None
    premises: Premises | None = None
    vat_small_scale: bool | None = None
    as_of: datetime.date | None = Field(
        None, description="Match as of this date; default today."
    )


class ErrorsOut(Schema):
    errors: dict[str, list[str]]


class DetailOut(Schema):
    detail: str


#: Every operation may answer these: a body that is not JSON at all (400) and
#: too many requests from one client (429, with Retry-After).
COMMON = {400: DetailOut, 429: DetailOut}


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


class DatabaseThrottle(BaseThrottle):
    """A fixed-window limit per client address, counted in the database.

    The rate ("60/min") is read from the named setting on each request.
    """

    def __init__(self, scope: str, setting: str):
        self.scope = scope
        self.setting = setting
        self.retry_after: int | None = None

    def allow_request(self, request: HttpRequest) -> bool:
        count, _, period = getattr(settings, self.setting).partition("/")
        ident = self.get_ident(request) or "unknown"
        allowed, self.retry_after = services.throttle_hit(
            key=f"{self.scope}:{ident}", limit=int(count), period=PERIODS[period]
        )
        return allowed

    def wait(self) -> float | None:
        return self.retry_after


class ApiKeyAuth(APIKeyHeader):
    """Bulk screening needs a key that staff create and revoke in the admin."""

    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None):
        return services.api_key_check(key) if key else None


api = NinjaAPI(
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


@api.exception_handler(NinjaValidationError)
def validation_errors(request: HttpRequest, exc: NinjaValidationError):
    """Answer 422 with every problem by field, whatever failed to validate."""
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        location = [
            str(part)
            for part in error.get("loc", ())
            if part not in ("body", "payload", "query")
        ]
        field_name = location[0] if location else "__all__"
        errors.setdefault(field_name[:64], []).append(
            str(error.get("msg", "Invalid value."))
        )
    return api.create_response(request, {"errors": errors}, status=422)


@api.post(
    "/match",
    response={200: dict[str, Any], 422: ErrorsOut, **COMMON},
    summary="Match a profile",
)
def match(request: HttpRequest, payload: ProfileIn):
    """Return the ranked results for a profile: the same as `manage.py match --format json`."""
    data = payload.dict(exclude_unset=True)
    as_of = data.pop("as_of", None)
    try:
        profile = matching.parse_profile(data)
    except matching.ProfileError as error:
        return Status(422, {"errors": error.errors})
    report = services.run_match(profile=profile, as_of=as_of or timezone.localdate())
    return Status(200, report.to_dict())


@api.get(
    "/programmes",
    response={200: dict[str, Any], 422: ErrorsOut, **COMMON},
    summary="List programmes",
)
def programmes(
    request: HttpRequest,
    provider: str | None = Query(None, max_length=64),
    need: Need | None = None,  # type: ignore[valid-type]
    open_on: datetime.date | None = None,
):
    """Return the catalogue with rules, availability on `open_on` (default today) and sources."""
    catalogue = services.current_catalogue()
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


@api.get(
    "/programmes/{slug}",
    response={200: dict[str, Any], 404: DetailOut, **COMMON},
    summary="One programme",
)
def programme(request: HttpRequest, slug: str):
    """Return one programme with its rules, availability today and sources."""
    catalogue = services.current_catalogue()
    found = catalogue.get(slug)
    if found is None:
        raise HttpError(404, "No programme with this slug.")
    day = timezone.localdate()
    return Status(
        200, {"catalogue_version": catalogue.version, **programme_out(found, day)}
    )


def programme_out(programme: matching.Programme, day: datetime.date) -> dict[str, Any]:
    return {**programme.to_dict(), "availability": programme.availability(day).value}


# -- bulk screening -------------------------------------------------------------------


class ScreeningIn(Schema):
    profiles: list[dict[str, Any]] = Field(
        ..., min_length=1, max_length=MAX_SCREENING_ROWS
    )
    as_of: datetime.date | None = None


@api.post(
    "/screenings",
    auth=ApiKeyAuth(),
    throttle=[DatabaseThrottle("screenings", "API_SCREENING_RATE_LIMIT")],
    response={200: dict[str, Any], 401: DetailOut, 422: ErrorsOut, **COMMON},
    summary="Screen many profiles",
)
def screenings(request: HttpRequest, payload: ScreeningIn):
    """Screen up to 1,000 profiles (JSON) at once; each row gets its results or its own errors."""
    return Status(200, screen(payload.profiles, payload.as_of or timezone.localdate()))


@api.post(
    "/screenings/csv",
    auth=ApiKeyAuth(),
    throttle=[DatabaseThrottle("screenings", "API_SCREENING_RATE_LIMIT")],
    response={200: dict[str, Any], 401: DetailOut, 422: ErrorsOut, **COMMON},
    summary="Screen a CSV of profiles",
)
def screenings_csv(
    request: HttpRequest, file: File[UploadedFile], as_of: datetime.date | None = None
):
    """Screen an uploaded CSV whose columns are the contract's field names (sets as `a;b`)."""
    rows, problem = read_screening_csv(file)
    if problem:
        return Status(422, {"errors": {"file": [problem]}})
    return Status(200, screen(rows, as_of or timezone.localdate()))
