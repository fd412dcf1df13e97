"""Previewing a rule edit in the admin: what it shows, and that it saves nothing."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django import forms
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from programs.catalogue import preview, store
from programs.engine import matching, sql
from programs.models import (
    BackgroundJob,
    BusinessProfile,
    Criterion,
    Programme,
    StoredResult,
)
from tests.factories import BusinessProfileFactory, CriterionFactory, ProgrammeFactory

pytestmark = pytest.mark.django_db

DOMESTIC = "alibaba-spring-thunder-domestic"
DEFERRAL = "gov-loan-deferral"
CHINESE = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def change_url(programme: Programme) -> str:
    return reverse("admin:programs_programme_change", args=[programme.pk])


def posted_data(client, programme: Programme) -> dict:
    """Return the change form's data as the page was loaded (values as text)."""
    context = client.get(change_url(programme)).context
    forms_on_page = [context["adminform"].form]
    for inline in context["inline_admin_formsets"]:
        forms_on_page += [inline.formset.management_form, *inline.formset.forms]
    data: dict = {}
    for form in forms_on_page:
        for bound in form:
            value = bound.value()
            if isinstance(bound.field, forms.BooleanField):
                if value:
                    data[bound.html_name] = "on"
            elif isinstance(value, list):
                data[bound.html_name] = [str(v) for v in value]
            elif value is not None:
                data[bound.html_name] = str(value)
    return data


def criterion_prefix(programme: Programme, field: str) -> str:
    """Return the inline prefix of the programme's criterion on a field."""
    ids = list(programme.criteria.values_list("pk", "field"))  # the inline's order
    [index] = [i for i, (_pk, name) in enumerate(ids) if name == field]
    return f"criteria-{index}-"


def edited(client, slug: str, field: str, value: str) -> tuple[Programme, dict]:
    programme = Programme.objects.get(slug=slug)
    data = posted_data(client, programme)
    data[criterion_prefix(programme, field) + "value"] = value
    return programme, data


def borrowers():
    """Stored small borrowers on both sides of the deferral's RMB 10m credit limit."""
    for credit in [None, 5_000_000, 9_500_000, 10_000_000, 12_000_000]:
        BusinessProfileFactory(
            business_type="manufacturer",
            employees=30,
            annual_revenue_cny=5_000_000,
            has_bank_loan=True,
            bank_credit_cny=credit,
        )


def add_domestic_share_threshold() -> None:
    """Give Spring Thunder's domestic arm an export share threshold beside "any
    market", as the issue found it: a rule that can never decide anything."""
    CriterionFactory(
        programme=Programme.objects.get(slug=DOMESTIC),
        field="export_share_pct",
        operator="gte",
        value="10",
        group=1,
        required=True,
    )


def snapshot():
    return (
        list(Programme.objects.order_by("pk").values()),
        list(Criterion.objects.order_by("pk").values()),
        Programme.history.count(),
        Criterion.history.count(),
        list(StoredResult.objects.order_by("pk").values()),
        LogEntry.objects.count(),
        BackgroundJob.objects.count(),
    )


def test_preview_saves_nothing_and_keeps_the_edit_on_the_form(admin_client, catalogue):
    borrowers()
    BusinessProfile.objects.first().results.create(
        programme=Programme.objects.get(slug=DEFERRAL),
        outcome="possibly_eligible",
        as_of="2020-06-15",
        availability="open",
        score=0,
        rank=0,
        catalogue_version="x",
    )
    programme, data = edited(admin_client, DEFERRAL, "bank_credit_cny", "9000000")
    before = snapshot()
    response = admin_client.post(change_url(programme), {**data, "_preview": "1"})
    assert response.status_code == HTTPStatus.OK
    assert response.context["rule_preview"] is not None
    assert snapshot() == before
    html = response.content.decode()
    prefix = criterion_prefix(programme, "bank_credit_cny")
    assert f'name="{prefix}value__bank_credit_cny" value="9000000"' in html
    assert 'name="_save"' in html  # Save is still offered


def test_preview_counts_are_those_the_impact_query_gives_after_saving(
    admin_client, catalogue
):
    borrowers()
    programme, data = edited(admin_client, DEFERRAL, "bank_credit_cny", "9000000")
    url = change_url(programme)
    shown = admin_client.post(url, {**data, "_preview": "1"}).context["rule_preview"]
    saved_before = store.programme_rules(
        store.programme_queryset().get(pk=programme.pk)
    )
    before = sql.outcome_counts(BusinessProfile.objects.all(), [saved_before])
    assert admin_client.post(url, data).status_code == HTTPStatus.FOUND
    rows = {
        p.slug: counts
        for p, counts in admin_client.get(
            reverse("admin:programs_programme_impact")
        ).context["rows"]
    }
    assert {row.tier: row.before for row in shown.tiers} == preview.tiers_of(
        before[DEFERRAL]
    )
    assert {row.tier: row.after for row in shown.tiers} == preview.tiers_of(
        rows[DEFERRAL]
    )
    assert shown.total == BusinessProfile.objects.count() == 5
    # RMB 9.5m and 10m of credit: eligible before, not eligible after.
    assert {row.tier: row.change for row in shown.tiers}[matching.Tier.ELIGIBLE] == -2


@pytest.mark.parametrize(
    ("field", "value"),
    [("bank_credit_cny", "-5"), ("size_class", "micro, giant")],
)
def test_an_invalid_edit_shows_the_errors_save_shows_and_no_preview(
    admin_client, catalogue, field, value
):
    programme, data = edited(admin_client, DEFERRAL, field, value)
    before = snapshot()
    previewed = admin_client.post(change_url(programme), {**data, "_preview": "1"})
    saved = admin_client.post(change_url(programme), data)
    assert previewed.status_code == saved.status_code == HTTPStatus.OK
    errors = [str(e) for e in previewed.context["errors"]]
    assert errors
    assert errors == [str(e) for e in saved.context["errors"]]
    assert previewed.context["rule_preview"] is None
    assert snapshot() == before


def test_raising_the_domestic_threshold_is_flagged_as_changing_nothing(
    admin_client, catalogue
):
    add_domestic_share_threshold()
    borrowers()
    programme, data = edited(admin_client, DOMESTIC, "export_share_pct", "30")
    response = admin_client.post(
        change_url(programme), {**data, "_preview": "1"}, **CHINESE
    )
    shown = response.context["rule_preview"]
    assert not shown.moved
    assert [s.criterion.field for s in shown.shadowed] == ["export_share_pct"]
    assert "不会改变任何结果" in response.content.decode()
    english = admin_client.post(change_url(programme), {**data, "_preview": "1"})
    assert "cannot change any outcome" in english.content.decode()


def test_a_threshold_that_matters_gets_no_warning_and_its_scenarios_are_listed(
    admin_client, catalogue
):
    programme, data = edited(admin_client, DEFERRAL, "bank_credit_cny", "9000000")
    response = admin_client.post(change_url(programme), {**data, "_preview": "1"})
    shown = response.context["rule_preview"]
    assert shown.shadowed == ()
    [change] = shown.changed
    assert change.scenario.name == "credit-at-limit"
    assert (change.before, change.after) == (
        matching.Tier.ELIGIBLE,
        matching.Tier.NOT_ELIGIBLE,
    )
    assert change.passes is False
    assert [f.scenario.name for f in shown.failing] == ["credit-at-limit"]
    html = response.content.decode()
    assert change.scenario.description in html
    assert "1 scenario would change tier" in html
    assert "Not eligible" in html
    assert (
        "not_eligible"
        not in html.split('id="rule-preview-title"')[1].split("</section>")[0]
    )


@pytest.fixture
def programme():
    programme = ProgrammeFactory(slug="stall-loans")
    CriterionFactory(programme=programme, field="employees", operator="lte", value="20")
    return programme


def test_value_inputs_are_labelled_from_the_contract(admin_client, programme):
    html = admin_client.get(change_url(programme), **CHINESE).content.decode()
    assert (
        '<input type="checkbox" name="criteria-0-value__export_markets" '
        'value="africa"> 非洲'
    ) in html
    assert (
        '<input type="number" name="criteria-0-value__export_share_pct" value="" '
        'step="any" min="0" max="100">'
    ) in html
    assert (
        '<input type="number" name="criteria-0-value__employees" value="20" step="1" '
        'min="0" max="10000000"> 人'
    ) in html
    assert 'name="criteria-0-value__has_bank_loan" value="yes"' in html
    assert '<script src="/static/programs/admin/criterion-value.js"' in html


@pytest.mark.parametrize(
    ("inputs", "stored", "shown"),
    [
        (
            {
                "field": "export_markets",
                "operator": "contains_any",
                "value__export_markets": ["europe", "africa"],
            },
            ["africa", "europe"],
            ['value="africa" checked', 'value="europe" checked'],
        ),
        (
            {
                "field": "province",
                "operator": "equals",
                "value__province__one": "CN-HB",
            },
            "CN-HB",
            ['<option value="CN-HB" selected>'],
        ),
        (
            {
                "field": "employees",
                "operator": "between",
                "value__employees": "3",
                "value__employees__high": "50",
            },
            ["3", "50"],
            [
                'name="criteria-0-value__employees" value="3"',
                'name="criteria-0-value__employees__high" value="50"',
            ],
        ),
        (
            {"field": "has_bank_loan", "operator": "is", "value__has_bank_loan": "no"},
            False,
            ['name="criteria-0-value__has_bank_loan" value="no" checked'],
        ),
    ],
)
def test_a_value_chosen_with_the_inputs_is_saved_and_shown_again(
    admin_client, programme, inputs, stored, shown
):
    data = posted_data(admin_client, programme)
    del data["criteria-0-value"]
    data.update({f"criteria-0-{k}": v for k, v in inputs.items()})
    response = admin_client.post(change_url(programme), data)
    assert response.status_code == HTTPStatus.FOUND, response.context["errors"]
    assert programme.criteria.get().value == stored
    html = admin_client.get(change_url(programme)).content.decode()
    for fragment in shown:
        assert fragment in html


def test_a_new_programme_is_previewed_against_no_current_rules(admin_client, programme):
    BusinessProfileFactory(employees=10)
    BusinessProfileFactory(employees=30)
    data = posted_data(admin_client, programme)
    data.update(
        {
            "slug": "new-loans",
            "criteria-INITIAL_FORMS": "0",
            "criteria-0-id": "",
            "criteria-0-programme": "",
            "loaded_version": "",
        }
    )
    before = snapshot()
    response = admin_client.post(
        reverse("admin:programs_programme_add"), {**data, "_preview": "1"}
    )
    assert response.status_code == HTTPStatus.OK
    shown = response.context["rule_preview"]
    assert {row.tier: (row.before, row.after) for row in shown.tiers} == {
        matching.Tier.ELIGIBLE: (None, 1),
        matching.Tier.POSSIBLY_ELIGIBLE: (None, 0),
        matching.Tier.NEAR_MISS: (None, 0),
        matching.Tier.NOT_ELIGIBLE: (None, 1),
    }
    assert snapshot() == before
