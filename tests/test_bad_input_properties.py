"""Generated input never breaks the form or the API, and stores only with consent.

Hypothesis fills the profile form and the match API with values of every
kind (text with control characters, Chinese and markup, huge integers,
floats with NaN and infinity, lists, nested objects) over the real field
names and a few unknown ones. Whatever it sends:

* the form answers 200 (results or errors), 302 (results kept: a valid
  submission with consent, exactly one profile more) or a 4xx, never a 500;
  without the 302 nothing is stored;
* the API answers 200 (a valid profile), 422 with messages by field in the
  request's language, or 400 (not JSON), never a 500; it stores nothing.

Both databases run this (PostgreSQL refuses NUL in text, SQLite does not).
"""

from __future__ import annotations

import datetime
import json
import re
from http import HTTPStatus

import pytest
from django.http import QueryDict
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from programs.engine import contract
from programs.engine.text import jsonable
from programs.journey.forms import ConsentForm, ProfileForm
from programs.models import BusinessProfile, SentAlert, StoredResult
from tests.strategies import answer_for

pytestmark = pytest.mark.django_db

EXAMPLES = 80
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CHINESE = {"accept-language": "zh-hans"}

FORM_FIELDS = [*ProfileForm.base_fields, *ConsentForm.base_fields]
VALID_FORM = {
    "business_type": "street_stall",
    "province": "CN-HB",
    "employees": "1",
    "needs": ["financing"],
    "as_of": "2020-06-15",
}
VALID_JSON = {"business_type": "farm", "province": "CN-HB", "needs": ["financing"]}

#: Text of every kind: control characters (NUL included), Chinese, markup, SQL.
texts = st.one_of(
    st.text(max_size=40),
    st.text(
        alphabet=st.sampled_from(
            [
                "\x00",
                "\x07",
                "\x1b",
                "\x7f",
                "农",
                "场",
                "<",
                ">",
                '"',
                "'",
                ";",
                "-",
                "1",
            ]
        ),
        max_size=20,
    ),
    st.sampled_from(
        [
            "",
            "NaN",
            "-Infinity",
            "1e30",
            "<script>alert(1)</script>",
            "'; DROP TABLE programs_businessprofile; --",
            "农场 farm",
            "yes",
            "none",
        ]
    ),
)
codes = st.sampled_from(
    sorted({code for spec in contract.FIELDS.values() for code in spec.codes})
)
numbers = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
)
decimals = st.decimals(allow_nan=True, allow_infinity=True).map(str)


def form_values():
    """What a browser (or anything else) can post for one field: text or several."""
    one = st.one_of(texts, codes, numbers.map(str), decimals)
    return st.one_of(one, st.lists(one, max_size=6))


def good_form_value(name: str):
    """A value the field accepts, so that some generated submissions are valid."""
    if name in contract.FIELDS:
        spec = contract.FIELDS[name]
        answer = answer_for(name)
        if spec.kind is contract.FieldKind.MULTI:
            return answer.map(lambda chosen: sorted(chosen) or ["none"])
        if spec.kind is contract.FieldKind.BOOLEAN:
            return answer.map(lambda yes: "yes" if yes else "no")
        return answer.map(str)
    return {
        "as_of": st.dates(datetime.date(2019, 1, 1), datetime.date(2021, 12, 31)).map(
            str
        ),
        "email": st.sampled_from(["", "li@example.com", "王@例子.中国"]),
        "contact_phone": st.sampled_from(["", "138 0000 0000", "+86 (21) 5555-0000"]),
        "contact_name": st.sampled_from(["", "Li", "李 Lee"]),
    }.get(name, st.sampled_from(["on", ""]))


@st.composite
def form_changes(draw):
    """Up to five fields, each given junk or a good value, plus stray names."""
    names = draw(
        st.lists(
            st.sampled_from([*FORM_FIELDS, "id", "token", "pk"]),
            max_size=5,
            unique=True,
        )
    )
    good = {name: good_form_value(name) for name in FORM_FIELDS}
    return {
        name: draw(
            st.one_of(form_values(), good[name]) if name in good else form_values()
        )
        for name in names
    }


def good_json_value(name: str):
    if name == "as_of":
        return st.dates(datetime.date(2019, 1, 1), datetime.date(2021, 12, 31)).map(str)
    return answer_for(name).map(jsonable)


@st.composite
def json_changes(draw):
    """Up to five fields, each given junk or a good value, plus unknown names."""
    names = draw(
        st.lists(
            st.one_of(st.sampled_from([*contract.PROFILE_FIELDS, "as_of"]), texts),
            max_size=5,
            unique=True,
        )
    )
    known = {*contract.PROFILE_FIELDS, "as_of"}
    return {
        name: draw(
            st.one_of(json_values(), good_json_value(name))
            if name in known
            else json_values()
        )
        for name in names
    }


def json_values():
    scalars = st.one_of(st.none(), st.booleans(), texts, codes, numbers)
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=5),
            st.dictionaries(
                st.sampled_from(["a", "value", "needs"]), inner, max_size=3
            ),
        ),
        max_leaves=8,
    )


def posted(data: dict) -> QueryDict:
    """The data as the view receives it: several values under one name, none left out."""
    query = QueryDict(mutable=True)
    for name, value in data.items():
        values = value if isinstance(value, list) else [value]
        if values:
            query.setlist(name, values)
    return query


def stored() -> tuple[int, int, int]:
    return (
        BusinessProfile.objects.count(),
        StoredResult.objects.count(),
        SentAlert.objects.count(),
    )


@pytest.fixture(autouse=True)
def no_form_rate_limit(settings):
    """Dozens of posts from one address: the rate limit (tested on its own) is off."""
    settings.FORM_RATE_LIMIT = ""


@SETTINGS
@given(changes=form_changes(), consent=st.booleans())
def test_generated_form_input_never_breaks_the_page_and_stores_only_with_consent(
    client, catalogue, changes, consent
):
    data = {**VALID_FORM, **changes}
    if consent:
        data["consent_store"] = "on"
    before = stored()
    response = client.post("/check/", data, headers=CHINESE)
    profile_form, consent_form = ProfileForm(posted(data)), ConsentForm(posted(data))
    valid = profile_form.is_valid() & consent_form.is_valid()
    event(f"status {response.status_code}, valid {valid}")
    if response.status_code == HTTPStatus.FOUND:
        assert valid
        assert consent_form.cleaned_data["consent_store"]
        assert stored()[0] == before[0] + 1
        # What was kept is a profile the matcher itself accepts (no control
        # characters, every value in range): the form and the engine agree.
        kept = contract.from_columns(BusinessProfile.objects.latest("pk"))
        contract.parse_profile(kept.to_dict())
        return
    assert stored() == before
    assert response.status_code == HTTPStatus.OK
    assert '<html lang="zh-hans">' in response.content.decode()
    if valid:  # results shown, nothing kept: no consent
        assert response.context["report"].matches
        contract.parse_profile(response.context["report"].profile.to_dict())
        assert not consent_form.cleaned_data["consent_store"]
    else:
        assert response.context["error_summary"]


#: pydantic's own English phrasing: none of it may reach a 422.
PYDANTIC_ENGLISH = re.compile(
    r"Input should|Field required|should have|Value error|Extra inputs|valid (integer|number|decimal|list|string|boolean)",
)


@SETTINGS
@given(changes=json_changes())
def test_generated_api_input_gets_200_or_a_422_by_field_in_chinese_never_a_500(
    client, changes
):
    before = stored()
    body = json.dumps({**VALID_JSON, **changes}, allow_nan=True)
    response = client.post(
        "/api/v1/match", body, content_type="application/json", headers=CHINESE
    )
    assert response.status_code in {
        HTTPStatus.OK,
        HTTPStatus.BAD_REQUEST,
        HTTPStatus.UNPROCESSABLE_ENTITY,
    }
    payload = response.json()
    event(f"status {response.status_code}")
    if response.status_code == HTTPStatus.OK:
        contract.parse_profile(payload["profile"])  # what it matched is a valid profile
    elif response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY:
        assert payload["errors"]
        for field, messages in payload["errors"].items():
            assert len(field) <= 64
            assert messages
            for message in messages:
                assert isinstance(message, str)
                assert message
                assert not PYDANTIC_ENGLISH.search(message), message
    assert stored() == before
