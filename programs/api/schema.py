"""
The API's request bodies, derived from the profile contract.

``profile_schema`` describes a profile in JSON Schema for the OpenAPI
document: every answer field with its question, allowed codes, bounds and
limits, taken from ``contract.FIELDS`` and nothing else. ``read_body`` and
the ``read_*`` helpers read what a request sent and refuse it with the
contract's own messages, in the request's language, so the API, the form and
the screening CSV say the same thing about the same mistake.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from programs.api.screening import MAX_SCREENING_ROWS
from programs.engine import contract
from programs.engine.contract import FIELDS, PROFILE_FIELDS, FieldKind, FieldSpec
from programs.engine.matching import as_of_problem

#: JSON Schema types of the contract's field kinds.
JSON_TYPES: dict[FieldKind, str] = {
    FieldKind.CHOICE: "string",
    FieldKind.MULTI: "array",
    FieldKind.INTEGER: "integer",
    FieldKind.DECIMAL: "number",
    FieldKind.BOOLEAN: "boolean",
    FieldKind.TEXT: "string",
}

AS_OF_SCHEMA = {
    "type": "string",
    "format": "date",
    "description": "Match as of this date (2019 to ten years from now); default today.",
}


def field_schema(spec: FieldSpec) -> dict[str, Any]:
    """Return the JSON Schema of one answer field."""
    schema: dict[str, Any] = {
        "type": JSON_TYPES[spec.kind],
        "title": str(spec.question or spec.label),
    }
    if spec.help_text:
        schema["description"] = str(spec.help_text)
    if spec.kind is FieldKind.CHOICE:
        schema["enum"] = list(spec.codes)
    elif spec.kind is FieldKind.MULTI:
        schema["items"] = {"type": "string", "enum": list(spec.codes)}
        schema["maxItems"] = spec.max_items
        if spec.required:
            schema["minItems"] = 1
    elif spec.kind is FieldKind.TEXT:
        schema["maxLength"] = spec.max_length
    elif spec.kind in (FieldKind.INTEGER, FieldKind.DECIMAL):
        if spec.minimum is not None:
            schema["minimum"] = int(spec.minimum)
        if spec.maximum is not None:
            schema["maximum"] = int(spec.maximum)
    if not spec.required:
        schema = {"anyOf": [schema, {"type": "null"}], "title": schema["title"]}
    return schema


def profile_schema() -> dict[str, Any]:
    """Return a profile's JSON Schema: the contract's answer fields, and the as-of date."""
    return {
        "type": "object",
        "title": "ProfileIn",
        "description": (
            "A business profile in the contract's field names; a field outside the "
            "contract is an error, so a misspelt field never becomes 'not answered'."
        ),
        "properties": {
            **{name: field_schema(FIELDS[name]) for name in PROFILE_FIELDS},
            "as_of": AS_OF_SCHEMA,
        },
        "required": [name for name in PROFILE_FIELDS if FIELDS[name].required],
        "additionalProperties": False,
    }


SCREENING_SCHEMA = {
    "type": "object",
    "title": "ScreeningIn",
    "properties": {
        "profiles": {
            "type": "array",
            "items": {"type": "object"},
            "minItems": 1,
            "maxItems": 1000,
            "description": "Profiles as in ProfileIn, without as_of.",
        },
        "as_of": AS_OF_SCHEMA,
    },
    "required": ["profiles"],
    "additionalProperties": False,
}


class BodyError(Exception):
    """A request refused: a status and what to answer."""

    def __init__(self, status: int, content: dict[str, Any]):
        super().__init__(status, content)
        self.status = status
        self.content = content


def errors(field: str, message: Any) -> BodyError:
    return BodyError(422, {"errors": {field: [str(message)]}})


def read_body(request: HttpRequest) -> Any:
    """Return the request's JSON body, or raise BodyError (400 when it is not JSON)."""
    if not request.body.strip():
        raise errors("__all__", _("This field is required."))
    try:
        return json.loads(request.body)
    except (ValueError, RecursionError):
        raise BodyError(
            400, {"detail": str(_("The request body is not valid JSON."))}
        ) from None


def read_as_of(value: Any) -> datetime.date | None:
    """Return an as-of date from an ISO date string, or raise contract.FieldProblem."""
    if value is None or value == "":
        return None
    try:
        day = datetime.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        day = None
    if day is None or len(value) != 10:
        raise contract.FieldProblem(_("Enter a valid date."))
    if problem := as_of_problem(day):
        raise contract.FieldProblem(problem)
    return day


def read_field(
    problems: dict[str, list[str]],
    name: str,
    read: Callable[[Any], Any],
    value: Any,
) -> Any:
    """Return read(value), or record its problem under name and return None."""
    try:
        return read(value)
    except contract.FieldProblem as problem:
        problems.setdefault(name, []).append(str(problem.message))
        return None


def read_profile(data: Any) -> tuple[contract.Profile, datetime.date | None]:
    """Return the profile and as-of date of a match body, or raise BodyError (422)."""
    if not isinstance(data, dict):
        raise errors("__all__", _("A profile must be an object of fields."))
    answers = dict(data)
    problems: dict[str, list[str]] = {}
    as_of = read_field(problems, "as_of", read_as_of, answers.pop("as_of", None))
    try:
        profile = contract.parse_profile(answers)
    except contract.ProfileError as error:
        raise BodyError(422, {"errors": {**error.errors, **problems}}) from None
    if problems:
        raise BodyError(422, {"errors": problems})
    return profile, as_of


def read_screening(data: Any) -> tuple[list[Any], datetime.date | None]:
    """Return the rows and as-of date of a screening body, or raise BodyError (422)."""
    if not isinstance(data, dict):
        raise errors("__all__", _("A profile must be an object of fields."))
    problems: dict[str, list[str]] = {}
    unknown = set(data) - {"profiles", "as_of"}
    for key in sorted(unknown):
        problems.setdefault(str(key)[:64], []).append(str(_("Unknown field.")))
    as_of = read_field(problems, "as_of", read_as_of, data.get("as_of"))
    rows = read_field(problems, "profiles", read_rows, data.get("profiles"))
    if problems:
        raise BodyError(422, {"errors": problems})
    return rows, as_of


def read_rows(value: Any) -> list[Any]:
    """Return a screening's rows: a list of 1 to 1,000 profile objects."""
    if value is None:
        raise contract.FieldProblem(_("This field is required."))
    if not isinstance(value, list):
        raise contract.FieldProblem(_("Give a list of choices."))
    if not value:
        raise contract.FieldProblem(_("Choose at least one."))
    if len(value) > MAX_SCREENING_ROWS:
        raise contract.FieldProblem(_("Too many choices."))
    if not all(isinstance(row, dict) for row in value):
        raise contract.FieldProblem(_("A profile must be an object of fields."))
    return value


def too_long(limit: int) -> str:
    return ngettext(
        "Use at most %(max)s character.", "Use at most %(max)s characters.", limit
    ) % {"max": limit}
