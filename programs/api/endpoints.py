"""
The JSON API, version 1 (django-ninja): matching and the catalogue.

The request schema documents the profile contract (field names, allowed
codes, ranges) in the OpenAPI document; the matcher's own ``parse_profile``
then validates the body, so the API, the form and the command line accept
exactly the same profiles (a field outside the contract is an error, not
ignored). Every invalid body answers 422 with every problem by field:
``{"errors": {"field": ["message", ...]}}``, each message in the request's
language (pydantic's own English messages are replaced by ours, by error
type); a body that is not JSON at all answers 400, and every declared status
is in the OpenAPI document.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from ninja import Field, File, NinjaAPI, Query, Schema, Status, UploadedFile
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyHeader
from ninja.throttling import BaseThrottle
from pydantic import AfterValidator, BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError, PydanticKnownError

from programs import ratelimit
from programs.api import keys
from programs.api.screening import MAX_SCREENING_ROWS, read_screening_csv, screen
from programs.catalogue import store
from programs.engine import contract, matching
from programs.journey.forms import as_of_problem
from programs.ratelimit import parse_rate


def _codes(spec_name: str) -> Any:
    return Literal[contract.FIELDS[spec_name].codes]  # type: ignore[valid-type]


BusinessType = _codes("business_type")
Province = _codes("province")
Registration = _codes("registration")
ExportMarket = _codes("export_markets")
Platform = _codes("platforms")
Premises = _codes("premises")
Need = _codes("needs")


def _not_a_bool(value: Any) -> Any:
    """JSON true and false are answers to yes/no questions, never a number of people."""
    if isinstance(value, bool):
        raise PydanticKnownError("int_type")
    return value


def _as_of_in_range(value: datetime.date | None) -> datetime.date | None:
    """Refuse the dates the form refuses, so both check the same as-of dates."""
    if value is not None and (problem := as_of_problem(value)):
        raise PydanticCustomError("as_of_range", str(problem))
    return value


Headcount = Annotated[int, BeforeValidator(_not_a_bool)]
AsOf = Annotated[datetime.date | None, AfterValidator(_as_of_in_range)]


class ProfileIn(Schema):
    """A business profile in the contract's field names; only the first three are required.

    A field that is not in the contract is an error, as it is for the matcher:
    a misspelt field never silently becomes "not answered".
    """

    model_config = ConfigDict(extra="forbid")

    business_type: BusinessType
    province: Province
    needs: list[Need] = Field(..., min_length=1, max_length=56)
    registration: Registration | None = None
    city: str | None = Field(None, max_length=100)
    employees: Headcount | None = Field(None, ge=0, le=10_000_000)
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
    as_of: AsOf = Field(
        None,
        description="Match as of this date (2019 to ten years from now); default today.",
    )


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


KEY_SHAPE = re.compile(r"[A-Za-z0-9_\-]{8,120}")


class ApiKeyAuth(APIKeyHeader):
    """Bulk screening needs a key that staff create and revoke in the admin."""

    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None):
        # Only what api_key_create makes can be a key; anything else (a NUL,
        # which PostgreSQL refuses in a query, or other control characters)
        # never reaches the database.
        if not key or not KEY_SHAPE.fullmatch(key):
            return None
        return keys.api_key_check(key)


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


#: Pydantic's error types -> our own messages, so that every message of a 422
#: follows the request's language (pydantic's own are English only). A type
#: that is not listed gets GENERIC_MESSAGE.
NUMBER = _("Enter a number.")
WHOLE_NUMBER = _("Enter a whole number.")
CHOICE = _("Choose one of the listed options.")
DATE = _("Enter a valid date.")
LIST = _("Give a list of choices.")
YES_NO = _("Answer yes or no.")
ERROR_MESSAGES: dict[str, Promise] = {
    "missing": _("This field is required."),
    "int_type": WHOLE_NUMBER,
    "int_parsing": WHOLE_NUMBER,
    "int_parsing_size": WHOLE_NUMBER,
    "int_from_float": WHOLE_NUMBER,
    "float_type": NUMBER,
    "float_parsing": NUMBER,
    "decimal_type": NUMBER,
    "decimal_parsing": NUMBER,
    "decimal_max_digits": NUMBER,
    "decimal_max_places": NUMBER,
    "decimal_whole_digits": NUMBER,
    "finite_number": NUMBER,
    "literal_error": CHOICE,
    "enum": CHOICE,
    "bool_type": YES_NO,
    "bool_parsing": YES_NO,
    "string_type": _("Enter text."),
    "string_unicode": _("Enter text."),
    "list_type": LIST,
    "set_type": LIST,
    "tuple_type": LIST,
    "too_short": _("Choose at least one."),
    "dict_type": _("A profile must be an object of fields."),
    "model_type": _("A profile must be an object of fields."),
    "model_attributes_type": _("A profile must be an object of fields."),
    "extra_forbidden": _("Unknown field."),
    "json_invalid": _("The request body is not valid JSON."),
    "json_type": _("The request body is not valid JSON."),
    "date_type": DATE,
    "date_parsing": DATE,
    "date_from_datetime_parsing": DATE,
    "date_from_datetime_inexact": DATE,
    "date_past": DATE,
    "date_future": DATE,
}
GENERIC_MESSAGE = _("Enter a valid value.")
#: Bounds: the limit from the error's context goes into the message.
BOUND_MESSAGES: dict[str, tuple[Promise, str]] = {
    "greater_than_equal": (_("Enter a number of at least %(min)s."), "ge"),
    "greater_than": (_("Enter a number greater than %(min)s."), "gt"),
    "less_than_equal": (_("Enter a number of at most %(max)s."), "le"),
    "less_than": (_("Enter a number less than %(max)s."), "lt"),
}


def error_message(error: dict[str, Any]) -> str:
    """Return one pydantic error as a message in the active language."""
    kind = str(error.get("type", ""))
    context = error.get("ctx") or {}
    if kind == "as_of_range":  # our own, already translated
        return str(error.get("msg", ""))
    if kind in BOUND_MESSAGES:
        message, key = BOUND_MESSAGES[kind]
        limit = context.get(key, "")
        placeholder = "min" if key.startswith("g") else "max"
        return str(message) % {placeholder: limit}
    if kind == "string_too_long":
        limit = int(context.get("max_length", 0))
        return ngettext(
            "Use at most %(max)s character.", "Use at most %(max)s characters.", limit
        ) % {"max": limit}
    if kind == "too_long":
        return str(_("Too many choices."))
    return str(ERROR_MESSAGES.get(kind, GENERIC_MESSAGE))


@api.exception_handler(NinjaValidationError)
def validation_errors(request: HttpRequest, exc: NinjaValidationError):
    """Answer 422 with every problem by field, in the request's language."""
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        location = [
            str(part)
            for part in error.get("loc", ())
            if part not in ("body", "payload", "query")
        ]
        field_name = location[0] if location else "__all__"
        messages = errors.setdefault(field_name[:64], [])
        message = error_message(error)
        if message not in messages:  # one per field and kind: not one per list item
            messages.append(message)
    return api.create_response(request, {"errors": errors}, status=422)


#: ninja's own English details of its 4xx answers -> messages in the request's language.
HTTP_MESSAGES: dict[str, Promise] = {
    "Cannot parse request body": _("The request body is not valid JSON."),
    "Unauthorized": _("Send a valid API key in the X-API-Key header."),
    "Too many requests.": _("Too many requests."),
}


@api.exception_handler(HttpError)
def http_errors(request: HttpRequest, exc: HttpError):
    """Answer ninja's 4xx with a detail in the request's language."""
    detail = str(exc)
    for english, message in HTTP_MESSAGES.items():
        if detail.startswith(english):
            detail = str(message)
            break
    return api.create_response(request, {"detail": detail}, status=exc.status_code)


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
        profile = contract.parse_profile(data)
    except contract.ProfileError as error:
        return Status(422, {"errors": error.errors})
    report = store.run_match(profile=profile, as_of=as_of or timezone.localdate())
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


@api.get(
    "/programmes/{slug}",
    response={200: dict[str, Any], 404: DetailOut, **COMMON},
    summary="One programme",
)
def programme(request: HttpRequest, slug: str):
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


class ScreeningIn(Schema):
    profiles: list[dict[str, Any]] = Field(
        ..., min_length=1, max_length=MAX_SCREENING_ROWS
    )
    as_of: AsOf = None


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
def screenings_csv(request: HttpRequest, file: File[UploadedFile], as_of: AsOf = None):
    """Screen an uploaded CSV whose columns are the contract's field names (sets as `a;b`)."""
    rows, problem = read_screening_csv(file)
    if problem:
        return Status(422, {"errors": {"file": [problem]}})
    return Status(200, screen(rows, as_of or timezone.localdate()))
