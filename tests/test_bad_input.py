"""Bad input changes nothing and never breaks a page.

Every kind of bad value, field by field, goes to the profile form, the pages
behind a private link, the JSON API and the CSV upload (API and staff page):
missing, empty, wrong type, negative, out of range, NaN and infinity, 10^30,
unknown choices, duplicated or huge multi-values, control characters, 100 KB
strings, markup and script, SQL fragments, mixed Chinese and English. Each
gets a clear message by field in the request's language (asked for in
Chinese here, and compared with the catalogue's Chinese) and a 200 with
errors or a 4xx; nothing is stored; never a 500.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from programs.api import keys
from programs.engine import contract
from programs.engine.text import format_number
from programs.models import BusinessProfile, SentAlert, StoredResult
from tests.builders import STALL

pytestmark = pytest.mark.django_db

CHINESE = {"accept-language": "zh-hans"}
FORM = reverse("programs:profile_form")
MATCH = "/api/v1/match"
MISSING = object()  # the field is left out of the request

#: A valid answer to every question, with consent to keep it: if a bad value
#: slipped through, the form would store a profile and redirect.
VALID = {**STALL, "consent_store": "on"}
VALID_JSON = {"business_type": "farm", "province": "CN-HB", "needs": ["financing"]}

HUGE = "x" * 100_000  # 100 KB
HUGE_DIGITS = "9" * 100_000
MARKUP = '<script>alert("x")</script>'
SQL = "1'; DROP TABLE programs_businessprofile; --"
MIXED = "农场 farm"


# -- expected messages -------------------------------------------------------------


@dataclass(frozen=True)
class Msg:
    """A message of a catalogue (ours or Django's), formatted like the code does.

    ``new`` marks a message added with these tests: the translator has not
    filled it in yet, so its Chinese may still be the English.
    """

    msgid: str
    params: dict[str, Any] = field(default_factory=dict)
    plural: str = ""
    new: bool = False

    def text(self, language: str) -> str:
        with translation.override(language):
            if self.plural:
                count = next(iter(self.params.values()))
                text = translation.ngettext(self.msgid, self.plural, count)
            else:
                text = translation.gettext(self.msgid)
        return text % self.params if self.params else text

    @property
    def zh(self) -> str:
        chinese = self.text("zh-hans")
        if not self.new:
            assert chinese != self.text("en"), f"no Chinese for {self.msgid!r}"
        return chinese


REQUIRED = Msg("This field is required.")  # a request without a body or file
CHOOSE = Msg("Choose one.")  # a required choice not answered
WHOLE = Msg("Enter a whole number, for example 12.")
NUMBER = Msg("Enter a number, for example 12.")
DATE = Msg("Enter a valid date.")
CONTROL = Msg("Remove control characters.")
AS_OF_RANGE = Msg("Choose a date between 2019 and ten years from now.")
TOO_MANY = Msg("Too many choices.")
NOT_BOTH = Msg("Choose “none” or some of the options, not both.")
EMAIL = Msg("Enter a valid email address.")
PHONE = Msg("Use digits, spaces, +, - and brackets only.")
CHOOSE_ONE = Msg("Choose at least one.")
LISTED = Msg("Choose one of the listed options.")  # the API's programme filters
FROM_LIST = Msg("Choose from the list.")
LIST = Msg("Give a list of choices.")
YES_NO = Msg("Answer yes or no.")
TEXT = Msg("Enter text.")
UNKNOWN_FIELD = Msg("Unknown field.")
OBJECT = Msg("A profile must be an object of fields.")
CITY_TOO_LONG = Msg("Use %(length)s characters or fewer.", {"length": 100})
NOT_JSON = Msg("The request body is not valid JSON.", new=True)
NOT_CSV = Msg("The file could not be read as CSV: a cell may be too long.", new=True)


def not_a_choice(name: str) -> Msg:
    """An answer that is not one of the field's choices (yes/no for yes-or-no)."""
    kind = contract.FIELDS[name].kind
    return YES_NO if kind is contract.FieldKind.BOOLEAN else FROM_LIST


def required(name: str) -> Msg:
    kind = contract.FIELDS[name].kind
    return CHOOSE_ONE if kind is contract.FieldKind.MULTI else CHOOSE


def form_too_long(limit: int, length: int) -> Msg:
    return Msg(
        "Ensure this value has at most %(limit_value)d character (it has %(show_value)d).",
        {"limit_value": limit, "show_value": length},
        plural="Ensure this value has at most %(limit_value)d characters (it has %(show_value)d).",
    )


TWO_PLACES = Msg("Use at most 2 decimal places, for example 12.25.")


def at_least(limit) -> Msg:
    return Msg("Enter %(min)s or more.", {"min": format_number(limit)})


def at_most(limit) -> Msg:
    return Msg("Enter %(max)s or less.", {"max": format_number(limit)})


def api_too_long(limit: int) -> Msg:
    return Msg(
        "Use at most %(max)s character.",
        {"max": limit},
        plural="Use at most %(max)s characters.",
        new=True,
    )


def unknown_choices(*values: str) -> Msg:
    return Msg("Unknown choice: %(values)s.", {"values": ", ".join(values)})


def stored() -> tuple[int, int, int]:
    """What would be kept about anybody: profiles, results and alert records."""
    return (
        BusinessProfile.objects.count(),
        StoredResult.objects.count(),
        SentAlert.objects.count(),
    )


def snapshot() -> list[Any]:
    """Every stored column of every kept profile and result."""
    return [
        list(BusinessProfile.objects.order_by("pk").values()),
        list(StoredResult.objects.order_by("pk").values()),
    ]


# -- the profile form -----------------------------------------------------------------
#
# A case is a set of bad answers sent together, {field: (value, message)}: every
# question of a kind gets the same kind of bad value in one request, and each
# must get its own message. 100 KB values go one field at a time, so that no
# request is larger than about 100 KB.

NUMBER_FIELDS = [
    name
    for name in contract.PROFILE_FIELDS
    if contract.FIELDS[name].kind
    in (contract.FieldKind.INTEGER, contract.FieldKind.DECIMAL)
]
CHOICE_FIELDS = [
    "business_type",
    "registration",
    "province",
    "premises",
    "has_bank_loan",
    "vat_small_scale",
]
MULTI_FIELDS = ["needs", "export_markets", "platforms"]


def whole(name: str) -> bool:
    return contract.FIELDS[name].kind is contract.FieldKind.INTEGER


def low(name: str):
    return contract.FIELDS[name].minimum


def high(name: str):
    return contract.FIELDS[name].maximum


def case(label: str, answers: dict[str, tuple[Any, Msg]], **extra: Any):
    return pytest.param(answers, extra, id=label)


def each(fields, value, message) -> dict[str, tuple[Any, Msg]]:
    """The same kind of bad value for each field; value and message may depend on it."""
    return {
        name: (
            value(name) if callable(value) else value,
            message(name) if callable(message) else message,
        )
        for name in fields
    }


def form_invalid(name: str) -> Msg:
    return WHOLE if whole(name) else NUMBER


FORM_NUMBER_CASES = [
    case(
        "numbers below minimum",
        each(NUMBER_FIELDS, lambda n: str(low(n) - 1), lambda n: at_least(low(n))),
    ),
    case(
        "numbers above maximum",
        each(NUMBER_FIELDS, lambda n: str(high(n) + 1), lambda n: at_most(high(n))),
    ),
    case(
        "numbers 10^30",
        each(NUMBER_FIELDS, str(10**30), lambda n: at_most(high(n))),
    ),
    case(
        "numbers 1e30",
        each(
            NUMBER_FIELDS,
            "1e30",
            lambda n: WHOLE if whole(n) else at_most(high(n)),
        ),
    ),
    *(
        case(f"numbers {label}", each(NUMBER_FIELDS, value, form_invalid))
        for label, value in [
            ("NaN", "NaN"),
            ("infinity", "Infinity"),
            ("minus infinity", "-inf"),
            ("words", "twelve"),
            ("Chinese", "十二"),
            ("mixed", "12个 people"),
            ("markup", "<b>1</b>"),
            ("SQL", SQL),
            ("NUL", "1\x00"),
            ("bool", "True"),
        ]
    ),
    case(
        "numbers with a fraction or 3 places",
        each(
            NUMBER_FIELDS,
            lambda n: "1.5" if whole(n) else "1.234",
            lambda n: WHOLE if whole(n) else TWO_PLACES,
        ),
    ),
    *(
        case(
            f"{name} 100 KB",
            {name: (HUGE_DIGITS, WHOLE if whole(name) else at_most(high(name)))},
        )
        for name in NUMBER_FIELDS
    ),
]

FORM_CHOICE_CASES = [
    *(
        case(f"choices {label}", each(CHOICE_FIELDS, value, not_a_choice))
        for label, value in [
            ("unknown", "castle"),
            ("number", "5"),
            ("markup", MARKUP),
            ("SQL", SQL),
            ("mixed", MIXED),
            ("NUL", "yes\x00"),
        ]
    ),
    *(
        case(f"{name} 100 KB", {name: (HUGE, not_a_choice(name))})
        for name in CHOICE_FIELDS
    ),
    case(
        "required missing",
        each(["business_type", "province", "needs"], MISSING, required),
    ),
    case("required empty", each(["business_type", "province"], "", CHOOSE)),
    case("required empty list", {"needs": ([], CHOOSE_ONE)}),
]


def first_code(name: str) -> str:
    return contract.FIELDS[name].codes[0]


FORM_MULTI_CASES = [
    case(
        "sets unknown",
        each(MULTI_FIELDS, lambda n: [first_code(n), "castle"], FROM_LIST),
    ),
    *(
        case(f"sets {label}", each(MULTI_FIELDS, [value], FROM_LIST))
        for label, value in [("markup", MARKUP), ("SQL", SQL), ("mixed", MIXED)]
    ),
    case(
        "sets NUL",
        each(
            MULTI_FIELDS,
            lambda n: [first_code(n) + "\x00"],
            FROM_LIST,
        ),
    ),
    case(
        "sets flooded with repeats",
        each(MULTI_FIELDS, lambda n: [first_code(n)] * 300, TOO_MANY),
    ),
    case(
        "sets none and some",
        {
            "export_markets": (["none", "europe"], NOT_BOTH),
            "platforms": (["none", "taobao"], NOT_BOTH),
        },
    ),
    *(case(f"{name} 100 KB", {name: ([HUGE], FROM_LIST)}) for name in MULTI_FIELDS),
]

FORM_TEXT_CASES = [
    case("city 100 KB", {"city": (HUGE, CITY_TOO_LONG)}),
    *(
        case(f"city {label}", {"city": (value, CONTROL)})
        for label, value in [
            ("bell", "Wu\x07han"),
            ("NUL", "Wu\x00han"),
            ("escape sequence", "武汉\x1b[31m"),
            ("DEL", "Wu\x7fhan"),
        ]
    ),
    *(
        case(f"as_of {label}", {"as_of": (value, message)})
        for label, value, message in [
            ("no such day", "2020-13-45", DATE),
            ("year 1", "0001-01-01", AS_OF_RANGE),
            ("year 9999", "9999-12-31", AS_OF_RANGE),
            ("year 10000", "10000-01-01", DATE),
            ("markup", MARKUP, DATE),
            ("NUL", "2020-06-15\x00", DATE),
            ("Chinese", "二〇二〇年六月", DATE),
            ("100 KB", HUGE, DATE),
        ]
    ),
]

SHARE = {"consent_share_contact": "on", "email": "li@example.com"}
FORM_CONSENT_CASES = [
    *(
        case(f"email {label}", {"email": (value, EMAIL)})
        for label, value in [
            ("not an email", "not an email"),
            ("markup", MARKUP),
            ("NUL", "li@example.com\x00"),
            ("100 KB", HUGE + "@example.com"),
        ]
    ),
    case(
        "contact phone words",
        {"contact_phone": ("call me", PHONE)},
        consent_share_contact="on",
    ),
    case(
        "contact phone SQL",
        {"contact_phone": ("138 0000 0000; DROP TABLE x", PHONE)},
        consent_share_contact="on",
    ),
    case(
        "contact NUL",
        {
            "contact_phone": ("138\x000000", CONTROL),
            "contact_name": ("Li\x00", CONTROL),
        },
        **SHARE,
    ),
    case(
        "contact name escape sequence",
        {"contact_name": ("Li\x1b[2J", CONTROL)},
        **SHARE,
    ),
    case(
        "contact phone 100 KB",
        {"contact_phone": ("1" * 100_000, form_too_long(30, 100_000))},
        **SHARE,
    ),
    case(
        "contact name 100 KB",
        {"contact_name": (HUGE, form_too_long(100, len(HUGE)))},
        **SHARE,
    ),
    case(
        "alerts without email",
        {
            "alerts": (
                "on",
                Msg(
                    "For alerts we must keep your answers and your email: tick “Keep my answers” and give an email."
                ),
            )
        },
    ),
    case(
        "sharing without a way to reach",
        {
            "consent_share_contact": (
                "on",
                Msg("Give an email or phone number so providers can reach you."),
            )
        },
    ),
]


def with_value(data: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    data = dict(data)
    if value is MISSING:
        data.pop(name, None)
    else:
        data[name] = value
    return data


def with_answers(data, answers, extra=None) -> dict[str, Any]:
    data = {**data, **(extra or {})}
    for name, (value, _message) in answers.items():
        data = with_value(data, name, value)
    return data


def field_errors(response) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name in ("form", "consent_form"):
        form = response.context[name]
        if form is not None:
            for field_name, messages in form.errors.items():
                errors.setdefault(field_name, []).extend(messages)
    return errors


def assert_messages(response, answers, language: str = "zh-hans") -> None:
    """Each bad answer's field shows its message in the language, on the page too."""
    errors = field_errors(response)
    html = response.content.decode()
    for name, (_value, message) in answers.items():
        expected = message.zh if language == "zh-hans" else message.text(language)
        assert expected in errors.get(name, []), (name, errors.get(name))
        assert escape(expected) in html, name


@pytest.mark.parametrize(
    ("answers", "extra"),
    [
        *FORM_NUMBER_CASES,
        *FORM_CHOICE_CASES,
        *FORM_MULTI_CASES,
        *FORM_TEXT_CASES,
        *FORM_CONSENT_CASES,
    ],
)
def test_bad_answers_get_chinese_messages_by_field_and_store_nothing(
    client, answers, extra
):
    before = stored()
    response = client.post(FORM, with_answers(VALID, answers, extra), headers=CHINESE)
    assert response.status_code == HTTPStatus.OK
    assert_messages(response, answers)
    assert stored() == before


ENGLISH_CASE = {
    "employees": ("-1", at_least(0)),
    "city": ("Wu\x00han", CONTROL),
    "needs": (["castle"], FROM_LIST),
    "as_of": ("9999-12-31", AS_OF_RANGE),
}


def test_an_english_browser_gets_the_same_messages_in_english(client):
    response = client.post(
        FORM, with_answers(VALID, ENGLISH_CASE), headers={"accept-language": "en"}
    )
    assert_messages(response, ENGLISH_CASE, language="en")
    assert stored() == (0, 0, 0)


def test_the_language_cookie_chooses_the_language_of_the_messages(client):
    from django.conf import settings

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    response = client.post(FORM, with_answers(VALID, ENGLISH_CASE))
    assert_messages(response, ENGLISH_CASE)


def test_a_repeated_choice_counts_once(client, catalogue):
    response = client.post(
        FORM, {**VALID, "needs": ["financing", "financing", "stock_sourcing"]}
    )
    assert response.status_code == HTTPStatus.FOUND
    profile = contract.from_columns(BusinessProfile.objects.get())
    assert profile.needs == frozenset({"financing", "stock_sourcing"})


def test_markup_sql_and_mixed_text_in_free_text_are_kept_exactly_as_typed(
    client, catalogue
):
    city = f"{MIXED} {MARKUP[:40]} {SQL[:40]}"[:100]
    response = client.post(FORM, {**VALID, "city": city})
    assert response.status_code == HTTPStatus.FOUND
    assert BusinessProfile.objects.get().city == city.strip()


def test_more_fields_than_django_parses_is_a_400_and_stores_nothing(client):
    response = client.post(FORM, {**VALID, "needs": ["financing"] * 1500})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert stored() == (0, 0, 0)


# -- the pages behind a private link, and the report of unkept results -------------------

#: Bad answers of every kind at once, for the pages that change a kept profile.
EDIT_CASES = [
    case(
        "every kind at once",
        {
            "employees": ("-1", at_least(0)),
            "annual_revenue_cny": (str(10**30), at_most(10**13)),
            "cash_runway_months": ("Infinity", NUMBER),
            "years_operating": ("1.234", TWO_PLACES),
            "export_share_pct": ("NaN", NUMBER),
            "business_type": (MARKUP, FROM_LIST),
            "province": (SQL, FROM_LIST),
            "has_bank_loan": (MIXED, YES_NO),
            "needs": (["financing"] * 300, TOO_MANY),
            "platforms": (["none", "taobao"], NOT_BOTH),
            "city": ("a\x00b", CONTROL),
            "as_of": ("0001-01-01", AS_OF_RANGE),
        },
    ),
    case("100 KB", {"city": (HUGE, CITY_TOO_LONG)}),
]


@pytest.mark.parametrize("fmt", ["pdf", "csv"])
@pytest.mark.parametrize(("answers", "extra"), EDIT_CASES)
def test_unsaved_report_with_bad_answers_is_a_400_with_the_form(
    client, fmt, answers, extra
):
    response = client.post(
        reverse("programs:report_unsaved", args=[fmt]),
        with_answers(VALID, answers),
        headers=CHINESE,
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "Content-Disposition" not in response
    assert_messages(response, answers)
    assert stored() == (0, 0, 0)


@pytest.fixture
def token(client, catalogue) -> str:
    response = client.post(FORM, VALID)
    assert response.status_code == HTTPStatus.FOUND
    return response["Location"].split("/")[2]


@pytest.mark.parametrize(("answers", "extra"), EDIT_CASES)
def test_bad_edit_through_the_link_changes_nothing(client, token, answers, extra):
    before = snapshot()
    response = client.post(
        reverse("programs:profile_edit", args=[token]),
        with_answers(VALID, answers),
        headers=CHINESE,
    )
    assert response.status_code == HTTPStatus.OK
    assert_messages(response, answers)
    assert snapshot() == before


@pytest.mark.parametrize(("answers", "extra"), EDIT_CASES)
def test_bad_answers_to_questions_change_nothing(client, token, answers, extra):
    before = snapshot()
    response = client.post(
        reverse("programs:answer_questions", args=[token]),
        with_answers({}, answers),
        headers=CHINESE,
    )
    assert response.status_code == HTTPStatus.OK
    assert_messages(response, answers)
    assert snapshot() == before


def test_bad_emails_for_the_link_change_nothing_and_say_so(client, token):
    before = snapshot()
    for email in ["not an email", MARKUP, "a@b.c\x00", HUGE + "@example.com", ""]:
        response = client.post(
            reverse("programs:email_link", args=[token]),
            {"email": email},
            headers=CHINESE,
            follow=True,
        )
        assert response.status_code == HTTPStatus.OK
        assert EMAIL.zh in response.content.decode(), email[:20]
        assert snapshot() == before, email[:20]


# -- the JSON API -----------------------------------------------------------------------


def api_invalid(name: str) -> Msg:
    return WHOLE if whole(name) else NUMBER


API_NUMBER_CASES = [
    case(
        "numbers below minimum",
        each(NUMBER_FIELDS, lambda n: int(low(n)) - 1, lambda n: at_least(int(low(n)))),
    ),
    case(
        "numbers above maximum",
        each(
            NUMBER_FIELDS, lambda n: int(high(n)) + 1, lambda n: at_most(int(high(n)))
        ),
    ),
    case("numbers 10^30", each(NUMBER_FIELDS, 10**30, lambda n: at_most(int(high(n))))),
    case(
        "numbers 1e30 as text",
        each(NUMBER_FIELDS, "1e30", lambda n: at_most(int(high(n)))),
    ),
    case("numbers NaN", each(NUMBER_FIELDS, float("nan"), api_invalid)),
    case("numbers infinity", each(NUMBER_FIELDS, float("-inf"), api_invalid)),
    case(
        "numbers NaN as text",
        each(NUMBER_FIELDS, "NaN", api_invalid),
    ),
    case(
        "numbers infinity as text",
        each(NUMBER_FIELDS, "Infinity", api_invalid),
    ),
    *(
        case(f"numbers {label}", each(NUMBER_FIELDS, value, api_invalid))
        for label, value in [
            ("true", True),
            ("list", [1]),
            ("object", {"value": 1}),
            ("words", "twelve"),
            ("Chinese", "十二"),
            ("markup", MARKUP),
            ("SQL", SQL),
            ("NUL", "1\x00"),
        ]
    ),
    case("whole number with a fraction", {"employees": (1.5, WHOLE)}),
    *(
        case(
            f"{name} 100 KB",
            {name: (HUGE_DIGITS, at_most(int(high(name))))},
        )
        for name in NUMBER_FIELDS
    ),
]

API_CHOICE_FIELDS = ["business_type", "province", "registration", "premises"]
API_OTHER_CASES = [
    *(
        case(f"choices {label}", each(API_CHOICE_FIELDS, value, FROM_LIST))
        for label, value in [
            ("unknown", "castle"),
            ("number", 5),
            ("list", ["farm"]),
            ("markup", MARKUP),
            ("SQL", SQL),
            ("mixed", MIXED),
            ("NUL", "farm\x00"),
        ]
    ),
    *(
        case(f"{name} 100 KB", {name: (HUGE, FROM_LIST)})
        for name in ("business_type", "province")
    ),
    case(
        "required missing",
        each(["business_type", "province", "needs"], MISSING, required),
    ),
    case("required null", each(["business_type", "province"], None, CHOOSE)),
    *(
        case(
            f"yes or no {label}",
            each(["has_bank_loan", "vat_small_scale"], value, YES_NO),
        )
        for label, value in [("maybe", "maybe"), ("number", 5), ("list", [True])]
    ),
    case("sets as text", each(MULTI_FIELDS, first_code, LIST)),
    case("sets as objects", each(MULTI_FIELDS, lambda n: {first_code(n): True}, LIST)),
    case(
        "sets unknown",
        each(
            MULTI_FIELDS,
            lambda n: [first_code(n), "castle"],
            unknown_choices("castle"),
        ),
    ),
    *(
        case(f"sets {label}", each(MULTI_FIELDS, value, unknown_choices(shown)))
        for label, value, shown in [
            ("numbers", [5], "5"),
            ("markup", [MARKUP], MARKUP[:40]),
            ("nested", [["a"]], "['a']"),
        ]
    ),
    case(
        "sets NUL",
        each(
            MULTI_FIELDS,
            lambda n: [first_code(n) + "\x00"],
            lambda n: unknown_choices(first_code(n) + "\x00"),
        ),
    ),
    case("sets flooded", each(MULTI_FIELDS, lambda n: [first_code(n)] * 100, TOO_MANY)),
    case("needs 100 KB", {"needs": ([HUGE], unknown_choices(HUGE[:40]))}),
    case("needs empty", {"needs": ([], CHOOSE_ONE)}),
    case("city number", {"city": (5, TEXT)}),
    case("city list", {"city": (["Wuhan"], TEXT)}),
    case("city 100 KB", {"city": (HUGE, CITY_TOO_LONG)}),
    # Checked by the matcher once the schema is satisfied:
    case("city NUL", {"city": ("Wu\x00han", CONTROL)}),
    case("city bell", {"city": ("Wu\x07han", CONTROL)}),
    case("city escape sequence", {"city": ("武汉\x1b[31m", CONTROL)}),
    *(
        case(f"as_of {label}", {"as_of": (value, message)})
        for label, value, message in [
            ("no such day", "2020-13-45", DATE),
            ("markup", MARKUP, DATE),
            ("number", 5, DATE),
            ("year 1", "0001-01-01", AS_OF_RANGE),
            ("year 9999", "9999-12-31", AS_OF_RANGE),
        ]
    ),
    case(
        "unknown fields",
        {
            "employes": (3, UNKNOWN_FIELD),
            MARKUP: (1, UNKNOWN_FIELD),
            "size_class": ("micro", UNKNOWN_FIELD),
        },
    ),
]


def post_json(client, body: Any, **headers: str):
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.post(MATCH, raw, content_type="application/json", headers=headers)


@pytest.mark.parametrize(("answers", "extra"), [*API_NUMBER_CASES, *API_OTHER_CASES])
def test_bad_api_values_get_a_422_with_chinese_messages_by_field(
    client, answers, extra
):
    before = stored()
    response = post_json(client, with_answers(VALID_JSON, answers), **CHINESE)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    expected = {name: [message.zh] for name, (_value, message) in answers.items()}
    assert response.json() == {"errors": expected}
    assert stored() == before


def test_a_100_kb_field_name_is_cut_to_64_characters(client):
    response = post_json(client, {**VALID_JSON, HUGE: 1}, **CHINESE)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == {"errors": {HUGE[:64]: [UNKNOWN_FIELD.zh]}}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ("", {"__all__": [REQUIRED]}),
        ("[]", {"__all__": [OBJECT]}),
        ("null", {"__all__": [OBJECT]}),
        ("5", {"__all__": [OBJECT]}),
        (
            {"employees": -1, "business_type": "castle", "needs": []},
            {
                "business_type": [FROM_LIST],
                "province": [CHOOSE],
                "needs": [CHOOSE_ONE],
                "employees": [at_least(0)],
            },
        ),
    ],
    ids=["empty body", "array", "null", "number", "several problems"],
)
def test_api_reports_every_problem_of_a_body_in_chinese(client, body, errors):
    response = post_json(client, body, **CHINESE)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    expected = {name: [m.zh for m in messages] for name, messages in errors.items()}
    assert response.json() == {"errors": expected}


@pytest.mark.parametrize("body", ["{not json", '{"needs": [', "\x00", "{'a': 1}"])
def test_a_body_that_is_not_json_is_a_400_in_the_requests_language(client, body):
    response = post_json(client, body, **CHINESE)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"detail": NOT_JSON.zh}


def test_api_messages_follow_an_english_request_too(client):
    response = post_json(
        client,
        {**VALID_JSON, "employees": "abc", "city": 5},
        **{"accept-language": "en"},
    )
    assert response.json() == {
        "errors": {
            "employees": ["Enter a whole number, for example 12."],
            "city": ["Enter text."],
        }
    }


def test_api_refuses_json_true_as_a_number_of_employees_like_the_matcher(client):
    with pytest.raises(contract.ProfileError):
        contract.parse_profile({**VALID_JSON, "employees": True})
    response = post_json(client, {**VALID_JSON, "employees": True})
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY


@pytest.mark.parametrize(
    ("query", "name", "message"),
    [
        ({"need": MARKUP}, "need", LISTED),
        ({"need": "financing\x00"}, "need", LISTED),
        ({"open_on": "2020-13-45"}, "open_on", DATE),
        ({"provider": HUGE[:1000]}, "provider", api_too_long(64)),
    ],
)
def test_bad_programme_filters_get_chinese_messages(client, query, name, message):
    response = client.get("/api/v1/programmes", query, headers=CHINESE)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == {"errors": {name: [message.zh]}}


# -- bulk screening: JSON, CSV through the API, CSV on the staff page ------------------


@pytest.fixture
def key() -> str:
    _row, key = keys.api_key_create(name="tests")
    return key


def screen_json(client, body, key, **headers):
    return client.post(
        "/api/v1/screenings",
        json.dumps(body),
        content_type="application/json",
        headers={"X-API-Key": key, **headers},
    )


@pytest.mark.parametrize(
    ("row", "errors"),
    [
        ({**VALID_JSON, "employees": -1}, {"employees": [at_least(0)]}),
        ({**VALID_JSON, "employees": "NaN"}, {"employees": [WHOLE]}),
        ({**VALID_JSON, "employees": 10**30}, {"employees": [at_most(10_000_000)]}),
        (
            {**VALID_JSON, "cash_on_hand_cny": "Infinity"},
            {"cash_on_hand_cny": [NUMBER]},
        ),
        ({**VALID_JSON, "employees": True}, {"employees": [WHOLE]}),
        ({**VALID_JSON, "city": "Wu\x00han"}, {"city": [CONTROL]}),
        ({**VALID_JSON, "city": HUGE}, {"city": [CITY_TOO_LONG]}),
        ({**VALID_JSON, "city": 5}, {"city": [TEXT]}),
        ({**VALID_JSON, "business_type": MARKUP}, {"business_type": [FROM_LIST]}),
        ({**VALID_JSON, "province": SQL}, {"province": [FROM_LIST]}),
        ({**VALID_JSON, "needs": ["financing"] * 100}, {"needs": [TOO_MANY]}),
        ({**VALID_JSON, "needs": 5}, {"needs": [LIST]}),
        ({**VALID_JSON, "has_bank_loan": MIXED}, {"has_bank_loan": [YES_NO]}),
        (
            {**VALID_JSON, "platforms": ["taobao", "castle"]},
            {"platforms": [unknown_choices("castle")]},
        ),
        ({**VALID_JSON, "size_class": "micro"}, {"size_class": [UNKNOWN_FIELD]}),
        (
            {"needs": []},
            {
                "business_type": [CHOOSE],
                "province": [CHOOSE],
                "needs": [CHOOSE_ONE],
            },
        ),
    ],
)
def test_screening_gives_a_bad_row_its_own_chinese_errors(client, key, row, errors):
    before = stored()
    response = screen_json(client, {"profiles": [VALID_JSON, row]}, key, **CHINESE)
    assert response.status_code == HTTPStatus.OK
    good, bad = response.json()["results"]
    assert "errors" not in good
    assert bad["errors"] == {
        name: [m.zh for m in messages] for name, messages in errors.items()
    }
    assert stored() == before


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"profiles": [REQUIRED]}),
        ({"profiles": []}, {"profiles": [CHOOSE_ONE]}),
        ({"profiles": VALID_JSON}, {"profiles": [LIST]}),
        ({"profiles": [5]}, {"profiles": [OBJECT]}),
        ({"profiles": [VALID_JSON] * 1001}, {"profiles": [TOO_MANY]}),
        ({"profiles": [VALID_JSON], "as_of": "2020-13-45"}, {"as_of": [DATE]}),
        ({"profiles": [VALID_JSON], "as_of": "0001-01-01"}, {"as_of": [AS_OF_RANGE]}),
    ],
    ids=[
        "no profiles",
        "empty",
        "not a list",
        "not objects",
        "1001 rows",
        "bad date",
        "year 1",
    ],
)
def test_a_bad_screening_request_is_a_422_in_chinese(client, key, body, errors):
    response = screen_json(client, body, key, **CHINESE)
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == {
        "errors": {name: [m.zh for m in messages] for name, messages in errors.items()}
    }


HEADER = "business_type,province,needs"
GOOD_LINE = "street_stall,CN-HB,financing"

#: (extra column or "", its cell, the field of the error, the message)
CSV_ROW_CASES = [
    pytest.param(
        "", "castle,CN-HB,financing", "business_type", FROM_LIST, id="unknown choice"
    ),
    pytest.param(
        "", "农场,CN-HB,financing", "business_type", FROM_LIST, id="Chinese choice"
    ),
    pytest.param(
        "", "farm,CN-HB' OR '1'='1,financing", "province", FROM_LIST, id="SQL"
    ),
    pytest.param("", "farm\x00,CN-HB,financing", "business_type", FROM_LIST, id="NUL"),
    pytest.param(
        "",
        "farm,CN-HB,castle;financing",
        "needs",
        unknown_choices("castle"),
        id="unknown need",
    ),
    pytest.param(
        "",
        "farm,CN-HB," + "financing;" * 10_000,
        "needs",
        TOO_MANY,
        id="100 KB of needs",
    ),
    pytest.param(
        "employees", "farm,CN-HB,financing,-1", "employees", at_least(0), id="negative"
    ),
    pytest.param("employees", "farm,CN-HB,financing,NaN", "employees", WHOLE, id="NaN"),
    pytest.param(
        "employees", "farm,CN-HB,financing,inf", "employees", WHOLE, id="infinity"
    ),
    pytest.param(
        "employees",
        "farm,CN-HB,financing,1e30",
        "employees",
        at_most(10_000_000),
        id="1e30",
    ),
    pytest.param(
        "employees", "farm,CN-HB,financing,1.5", "employees", WHOLE, id="fraction"
    ),
    pytest.param("city", "farm,CN-HB,financing,Wu\x07han", "city", CONTROL, id="bell"),
    pytest.param(
        "city", "farm,CN-HB,financing," + HUGE, "city", CITY_TOO_LONG, id="100 KB city"
    ),
    pytest.param(
        "has_bank_loan",
        "farm,CN-HB,financing,也许 maybe",
        "has_bank_loan",
        YES_NO,
        id="mixed",
    ),
    pytest.param(
        "<script>x</script>",
        "farm,CN-HB,financing,1",
        "<script>x</script>",
        UNKNOWN_FIELD,
        id="markup column",
    ),
]


def csv_file(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("rows.csv", text.encode(), content_type="text/csv")


def screening_staff(client) -> None:
    user = User.objects.create_user("adviser", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_match_report"))
    client.force_login(user)


def csv_text(column: str, line: str) -> str:
    header = f"{HEADER},{column}" if column else HEADER
    good = f"{GOOD_LINE}," if column else GOOD_LINE
    return f"{header}\n{good}\n{line}\n"


@pytest.mark.parametrize(("column", "line", "name", "message"), CSV_ROW_CASES)
def test_csv_upload_through_the_api_gives_a_bad_row_chinese_errors(
    client, key, column, line, name, message
):
    before = stored()
    response = client.post(
        "/api/v1/screenings/csv",
        {"file": csv_file(csv_text(column, line))},
        headers={"X-API-Key": key, **CHINESE},
    )
    assert response.status_code == HTTPStatus.OK
    good, bad = response.json()["results"]
    assert "errors" not in good
    assert bad["errors"] == {name: [message.zh]}
    assert stored() == before


@pytest.mark.parametrize(("column", "line", "name", "message"), CSV_ROW_CASES)
def test_csv_upload_on_the_staff_page_lists_a_bad_rows_chinese_errors(
    client, column, line, name, message
):
    screening_staff(client)
    before = stored()
    response = client.post(
        reverse("screening"),
        {"file": csv_file(csv_text(column, line)), "action": "summary"},
        headers=CHINESE,
    )
    assert response.status_code == HTTPStatus.OK
    assert response.context["error_rows"] == [(2, f"{name}: {message.zh}")]
    assert escape(f"{name}: {message.zh}") in response.content.decode()
    assert stored() == before


#: A cell longer than the csv module reads (128 KiB), in a file well under 2 MB.
OVERLONG_CELL = f"{HEADER},city\nfarm,CN-HB,financing,{'x' * 150_000}\n"


def test_csv_with_an_overlong_cell_is_refused_through_the_api(client, key):
    response = client.post(
        "/api/v1/screenings/csv",
        {"file": csv_file(OVERLONG_CELL)},
        headers={"X-API-Key": key, **CHINESE},
    )
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == {"errors": {"file": [NOT_CSV.zh]}}


@pytest.mark.parametrize("action", ["summary", "download"])
def test_csv_with_an_overlong_cell_is_refused_on_the_staff_page(client, action):
    screening_staff(client)
    response = client.post(
        reverse("screening"),
        {"file": csv_file(OVERLONG_CELL), "action": action},
        headers=CHINESE,
    )
    assert response.status_code == HTTPStatus.OK
    assert "Content-Disposition" not in response
    assert response.context["form"].errors["file"] == [NOT_CSV.zh]


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("", {"file": [REQUIRED]}),
        ("?as_of=2020-13-45", {"file": [REQUIRED], "as_of": [DATE]}),
        ("?as_of=0001-01-01", {"file": [REQUIRED], "as_of": [AS_OF_RANGE]}),
    ],
)
def test_csv_upload_without_a_file_or_with_a_bad_date_is_a_422(
    client, key, query, errors
):
    response = client.post(
        "/api/v1/screenings/csv" + query, {}, headers={"X-API-Key": key, **CHINESE}
    )
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json() == {
        "errors": {name: [m.zh for m in messages] for name, messages in errors.items()}
    }


@pytest.mark.parametrize(
    ("as_of", "message"),
    [("0001-01-01", AS_OF_RANGE), ("2020-13-45", DATE), (MARKUP, DATE)],
)
def test_staff_page_refuses_a_bad_date_in_chinese(client, as_of, message):
    screening_staff(client)
    response = client.post(
        reverse("screening"),
        {
            "file": csv_file(csv_text("", GOOD_LINE)),
            "as_of": as_of,
            "action": "download",
        },
        headers=CHINESE,
    )
    assert response.status_code == HTTPStatus.OK
    assert "Content-Disposition" not in response
    assert response.context["form"].errors["as_of"] == [message.zh]


@pytest.mark.parametrize(
    "presented",
    [
        "rm_\x00abc_defghijk",
        "rm_abcd1234_" + "\x00" * 20,
        "rm_中文_xxxxxxxxxxxx",
        "rm_abcd1234_' OR '1'='1",
        "rm_" + "x" * 100_000,
    ],
    ids=["NUL in prefix", "NULs", "Chinese", "SQL", "100 KB"],
)
def test_a_malformed_api_key_is_a_401_never_a_500(client, key, presented):
    response = screen_json(client, {"profiles": [VALID_JSON]}, presented, **CHINESE)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["detail"]
