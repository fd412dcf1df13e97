"""Programmes and rules edited in the admin: validation, history, revert, impact."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.urls import reverse

from programs.models import Criterion, Programme
from tests.factories import BusinessProfileFactory, CriterionFactory, ProgrammeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def programme():
    programme = ProgrammeFactory(slug="stall-loans")
    CriterionFactory(programme=programme, field="employees", operator="lte", value="20")
    return programme


def change_form_data(programme: Programme, **criterion_overrides) -> dict[str, str]:
    """Return POST data for the programme change form with its one criterion."""
    criterion = programme.criteria.get()
    data = {
        "slug": programme.slug,
        "provider": str(programme.provider_id),
        "name_en": programme.name_en,
        "name_zh_hans": programme.name_zh_hans,
        "status": programme.status,
        "needs": ["financing"],
        "days_to_money_assumed": "on",
        "criteria-TOTAL_FORMS": "1",
        "criteria-INITIAL_FORMS": "1",
        "criteria-MIN_NUM_FORMS": "0",
        "criteria-MAX_NUM_FORMS": "1000",
        "criteria-0-id": str(criterion.pk),
        "criteria-0-programme": str(programme.pk),
        "criteria-0-group": "1",
        "criteria-0-required": "on",
        "criteria-0-field": "employees",
        "criteria-0-operator": "lte",
        "criteria-0-value": "20",
        "criteria-0-basis": "documented",
        "sources-TOTAL_FORMS": "0",
        "sources-INITIAL_FORMS": "0",
        "sources-MIN_NUM_FORMS": "0",
        "sources-MAX_NUM_FORMS": "1000",
    }
    data.update({f"criteria-0-{k}": v for k, v in criterion_overrides.items()})
    return data


def test_programme_changelist_filters_and_searches(admin_client, programme):
    ProgrammeFactory(
        slug="cloud-help", name_en="Cloud help", status=Programme.Status.WITHDRAWN
    )
    url = reverse("admin:programs_programme_changelist")
    assert admin_client.get(url).status_code == HTTPStatus.OK
    found = admin_client.get(url, {"q": "cloud"}).content.decode()
    assert "cloud-help" in found
    assert "stall-loans" not in found
    withdrawn = admin_client.get(url, {"status__exact": "withdrawn"}).content.decode()
    assert "cloud-help" in withdrawn
    assert "stall-loans" not in withdrawn
    open_now = admin_client.get(url, {"open": "no"}).content.decode()
    assert "cloud-help" in open_now


def test_field_picker_lists_profile_fields(admin_client, programme):
    html = admin_client.get(
        reverse("admin:programs_programme_change", args=[programme.pk])
    ).content.decode()
    assert '<option value="export_share_pct"' in html
    assert '<option value="size_class"' in html
    assert '<option value="city"' not in html


def test_valid_rule_change_is_saved_and_reports_its_impact(admin_client, programme):
    BusinessProfileFactory(employees=10)
    BusinessProfileFactory(employees=30)
    BusinessProfileFactory()
    url = reverse("admin:programs_programme_change", args=[programme.pk])
    response = admin_client.post(
        url, change_form_data(programme, value="50"), follow=True
    )
    assert response.status_code == HTTPStatus.OK
    assert programme.criteria.get().value == "50"
    messages = [str(m) for m in response.context["messages"]]
    assert any(
        "on 3 stored profiles: 1 become eligible, 0 stop being eligible, 1 change tier."
        in m
        for m in messages
    ), messages


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"value": "ten"}, "Enter a number."),
        ({"operator": "contains_any"}, "can only be tested with"),
        (
            {"field": "export_share_pct", "operator": "gte", "value": "150"},
            "ranges from 0 to 100",
        ),
        (
            {"field": "province", "operator": "one_of", "value": "CN-HB, Wuhan"},
            "Not a value of province: Wuhan",
        ),
    ],
)
def test_bad_rule_is_refused_with_a_clear_message_and_nothing_is_saved(
    admin_client, programme, overrides, message
):
    url = reverse("admin:programs_programme_change", args=[programme.pk])
    response = admin_client.post(url, change_form_data(programme, **overrides))
    assert response.status_code == HTTPStatus.OK  # the form again, with errors
    assert message in response.content.decode()
    criterion = programme.criteria.get()
    assert (criterion.field, criterion.operator, criterion.value) == (
        "employees",
        "lte",
        "20",
    )


def test_a_need_marked_as_our_assumption_is_saved_and_shown_to_owners_as_such(
    admin_client, programme
):
    url = reverse("admin:programs_programme_change", args=[programme.pk])
    data = change_form_data(programme)
    data.update(needs=["financing", "training"], needs_assumed=["training"])
    response = admin_client.post(url, data)
    assert response.status_code == HTTPStatus.FOUND
    programme.refresh_from_db()
    assert (programme.needs, programme.needs_assumed) == (
        ["financing", "training"],
        ["training"],
    )


def test_a_need_marked_as_our_assumption_but_not_addressed_is_refused(
    admin_client, programme
):
    url = reverse("admin:programs_programme_change", args=[programme.pk])
    data = change_form_data(programme)
    data.update(needs_assumed=["training"])
    response = admin_client.post(url, data)
    assert response.status_code == HTTPStatus.OK  # the form again, with errors
    assert "only if it is also ticked under needs addressed" in (
        response.content.decode()
    )
    programme.refresh_from_db()
    assert programme.needs_assumed == []


def test_rule_changes_are_kept_with_who_made_them(admin_client, admin_user, programme):
    url = reverse("admin:programs_programme_change", args=[programme.pk])
    admin_client.post(url, change_form_data(programme, value="35"))
    criterion = programme.criteria.get()
    latest = criterion.history.first()
    assert latest.history_type == "~"
    assert latest.history_user == admin_user
    assert latest.value == "35"
    html = admin_client.get(url).content.decode()
    assert "employees lte 35" in html
    assert reverse("admin:programs_criterion_history", args=[criterion.pk]) in html


def test_rule_change_can_be_reverted_from_its_history(admin_client, programme):
    criterion = programme.criteria.get()
    original_version = criterion.history.earliest()
    admin_client.post(
        reverse("admin:programs_programme_change", args=[programme.pk]),
        change_form_data(programme, value="35"),
    )
    revert_url = reverse(
        "admin:programs_criterion_simple_history",
        args=[criterion.pk, original_version.history_id],
    )
    page = admin_client.get(revert_url)
    assert page.status_code == HTTPStatus.OK
    response = admin_client.post(
        revert_url,
        {
            "programme": str(programme.pk),
            "group": "1",
            "required": "on",
            "field": "employees",
            "operator": "lte",
            "value": "20",
            "basis": "documented",
        },
    )
    assert response.status_code == HTTPStatus.FOUND
    criterion.refresh_from_db()
    assert criterion.value == "20"


def test_deleted_rule_can_be_restored_from_its_history(admin_client, programme):
    criterion = programme.criteria.get()
    pk = criterion.pk
    criterion.delete()
    assert not Criterion.objects.filter(pk=pk).exists()
    history = admin_client.get(reverse("admin:programs_criterion_history", args=[pk]))
    assert history.status_code == HTTPStatus.OK
    version = Criterion.history.filter(id=pk, history_type="+").get()
    response = admin_client.post(
        reverse(
            "admin:programs_criterion_simple_history", args=[pk, version.history_id]
        ),
        {
            "programme": str(programme.pk),
            "group": "1",
            "required": "on",
            "field": "employees",
            "operator": "lte",
            "value": "20",
            "basis": "documented",
        },
    )
    assert response.status_code == HTTPStatus.FOUND
    assert Criterion.objects.filter(pk=pk, programme=programme).exists()


def test_impact_view_counts_outcomes_of_every_programme(admin_client, programme):
    BusinessProfileFactory(employees=10)
    BusinessProfileFactory(employees=30)
    response = admin_client.get(reverse("admin:programs_programme_impact"))
    assert response.status_code == HTTPStatus.OK
    [(rules, counts)] = response.context["rows"]
    assert rules.slug == "stall-loans"
    assert counts == {
        "eligible": 1,
        "possibly_eligible": 0,
        "not_eligible": 1,
        # Too many staff is not something a business changes to get relief.
        "near_miss": 0,
    }


def test_impact_view_is_for_staff_only(client, programme):
    response = client.get(reverse("admin:programs_programme_impact"))
    assert response.status_code == HTTPStatus.FOUND
    assert "/admin/login/" in response["Location"]
