"""Every field of the profile contract reaches every representation by itself.

Nothing here names a field: a field added to the contract (and its column)
is asked by the form, described by the API, read from the screening CSV,
shown in the admin and offered to criteria without another line of code.
"""

from __future__ import annotations

import csv
import io
from http import HTTPStatus

import pytest

from programs.api import screening
from programs.api.schema import profile_schema
from programs.engine import contract, rules
from programs.engine.contract import FIELDS, PROFILE_FIELDS
from programs.journey.forms import ProfileForm
from programs.journey.kept import profile_create
from tests.builders import make_profile

ANSWERS = pytest.mark.parametrize("name", PROFILE_FIELDS)


@ANSWERS
def test_the_form_asks_every_answer_field_in_its_section(name):
    spec = FIELDS[name]
    form = ProfileForm()
    assert form.fields[name].label == spec.question
    assert form.fields[name].required is spec.required
    [section] = [names for _legend, names in ProfileForm.SECTIONS if name in names]
    assert section


@ANSWERS
def test_the_api_schema_describes_every_answer_field(name):
    schema = profile_schema()
    assert name in schema["properties"]
    assert (name in schema["required"]) is FIELDS[name].required


def test_the_api_schema_is_the_contract_and_nothing_else():
    assert set(profile_schema()["properties"]) == {*PROFILE_FIELDS, "as_of"}


def test_the_screening_template_has_a_column_per_answer_field():
    header = next(csv.reader(io.StringIO(screening.template_csv())))
    assert header == list(PROFILE_FIELDS)


def test_criteria_may_test_every_testable_field_and_only_those():
    offered = [name for name, _label in rules.criterion_field_choices()]
    assert offered == [name for name, spec in FIELDS.items() if spec.testable]


@ANSWERS
def test_every_answer_field_is_stored_and_read_back(name):
    profile = make_profile()
    columns = contract.to_columns(profile)
    assert FIELDS[name].column in columns
    assert contract.from_columns(type("Row", (), columns)) == profile


@pytest.mark.django_db
def test_the_admin_shows_every_stored_answer(admin_client):
    row = profile_create(profile=make_profile())
    response = admin_client.get(f"/admin/programs/businessprofile/{row.pk}/change/")
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    for name in PROFILE_FIELDS:
        assert f'name="{FIELDS[name].column}"' in html, name
