"""Two admins editing one programme: the later save is refused, never silently overwriting."""

from __future__ import annotations

import re
from http import HTTPStatus

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from programs.admin import last_saved_at
from programs.models import Criterion, Programme, Source
from tests.factories import CriterionFactory, ProgrammeFactory

pytestmark = pytest.mark.django_db

REFUSED = (
    "Someone else saved this programme at {time} while you were editing. "
    "Your changes were not saved: reload the page to see theirs, then make "
    "your changes again."
)


@pytest.fixture
def programme() -> Programme:
    programme = ProgrammeFactory(slug="stall-loans", name_en="Stall loans")
    CriterionFactory(programme=programme, field="employees", operator="lte", value="20")
    return programme


def admin(username: str) -> Client:
    User.objects.create_superuser(username, f"{username}@example.com", "pw")
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def url(programme: Programme) -> str:
    return reverse("admin:programs_programme_change", args=[programme.pk])


def load(client: Client, programme: Programme) -> dict[str, str | list[str]]:
    """Open the change page; return what its form would post unchanged."""
    response = client.get(url(programme))
    assert response.status_code == HTTPStatus.OK
    version = re.search(
        r'<input type="hidden" name="loaded_version" value="([0-9a-f]+)"',
        response.content.decode(),
    )
    assert version, "the change form carries the version it was loaded at"
    criterion = programme.criteria.get()
    return {
        "loaded_version": version.group(1),
        "slug": programme.slug,
        "provider": str(programme.provider_id),
        "name_en": Programme.objects.get(pk=programme.pk).name_en,
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
        "criteria-0-value": Criterion.objects.get(pk=criterion.pk).value,
        "criteria-0-basis": "documented",
        "sources-TOTAL_FORMS": "0",
        "sources-INITIAL_FORMS": "0",
        "sources-MIN_NUM_FORMS": "0",
        "sources-MAX_NUM_FORMS": "1000",
    }


def with_new_source(data: dict, title: str) -> dict:
    return {
        **data,
        "sources-TOTAL_FORMS": "1",
        "sources-0-title": title,
        "sources-0-programme": data["criteria-0-programme"],
    }


def history_rows(programme: Programme) -> tuple[int, int, int]:
    return (
        Programme.history.filter(id=programme.pk).count(),
        Criterion.history.filter(programme_id=programme.pk).count(),
        Source.history.filter(programme_id=programme.pk).count(),
    )


def refusal(programme: Programme) -> str:
    return REFUSED.format(
        time=timezone.localtime(last_saved_at(programme.pk)).strftime("%H:%M")
    )


def test_second_of_two_admins_editing_at_once_is_refused_and_nothing_of_theirs_is_saved(
    programme,
):
    alice, bob = admin("alice"), admin("bob")
    alices_page, bobs_page = load(alice, programme), load(bob, programme)

    saved = alice.post(
        url(programme),
        {**alices_page, "name_en": "Stall loans 2020", "criteria-0-value": "30"},
    )
    assert saved.status_code == HTTPStatus.FOUND
    history = history_rows(programme)

    refused = bob.post(
        url(programme),
        with_new_source(
            {**bobs_page, "name_en": "Market stall loans", "criteria-0-value": "50"},
            "Bob's source",
        ),
    )

    assert refused.status_code == HTTPStatus.OK  # the form again, with the message
    assert refusal(programme) in refused.content.decode()
    programme.refresh_from_db()
    assert programme.name_en == "Stall loans 2020"
    assert programme.criteria.get().value == "30"
    assert not programme.sources.exists()
    assert history_rows(programme) == history


def test_one_admin_saving_twice_with_a_reload_in_between_is_not_refused(programme):
    alice = admin("alice")
    first = alice.post(
        url(programme), {**load(alice, programme), "criteria-0-value": "30"}
    )
    assert first.status_code == HTTPStatus.FOUND
    second = alice.post(
        url(programme),
        {**load(alice, programme), "name_en": "Stall loans 2020"},
    )
    assert second.status_code == HTTPStatus.FOUND
    programme.refresh_from_db()
    assert programme.name_en == "Stall loans 2020"
    assert programme.criteria.get().value == "30"


def test_saving_again_from_a_page_loaded_before_ones_own_save_is_refused(programme):
    alice = admin("alice")
    page = load(alice, programme)
    assert alice.post(
        url(programme), {**page, "criteria-0-value": "30"}
    ).status_code == (HTTPStatus.FOUND)
    again = alice.post(url(programme), {**page, "name_en": "Stall loans 2020"})
    assert again.status_code == HTTPStatus.OK
    assert refusal(programme) in again.content.decode()
    programme.refresh_from_db()
    assert programme.name_en == "Stall loans"
    assert programme.criteria.get().value == "30"


def test_a_refused_form_keeps_refusing_until_the_page_is_reloaded(programme):
    alice, bob = admin("alice"), admin("bob")
    bobs_page = load(bob, programme)
    alice.post(url(programme), {**load(alice, programme), "criteria-0-value": "30"})
    stale = {**bobs_page, "name_en": "Market stall loans"}
    assert bob.post(url(programme), stale).status_code == HTTPStatus.OK
    assert bob.post(url(programme), stale).status_code == HTTPStatus.OK
    reloaded = bob.post(
        url(programme), {**load(bob, programme), "name_en": "Market stall loans"}
    )
    assert reloaded.status_code == HTTPStatus.FOUND
    programme.refresh_from_db()
    assert programme.name_en == "Market stall loans"
    assert programme.criteria.get().value == "30"  # Alice's change is kept


@pytest.mark.parametrize(
    "change_meanwhile",
    [
        # QuerySet.update() bypasses auto_now: the version still sees it.
        lambda p: Programme.objects.filter(pk=p.pk).update(name_en="Renamed by SQL"),
        lambda p: Criterion.objects.filter(programme=p).update(value="99"),
        lambda p: Source.objects.create(programme=p, title="Added elsewhere"),
    ],
    ids=["programme-update", "criterion-update", "source-added"],
)
def test_changes_made_outside_the_change_form_are_noticed_too(
    programme, change_meanwhile
):
    alice = admin("alice")
    page = load(alice, programme)
    change_meanwhile(programme)
    response = alice.post(url(programme), {**page, "criteria-0-value": "30"})
    assert response.status_code == HTTPStatus.OK
    assert "Someone else saved this programme at" in response.content.decode()
    assert programme.criteria.get().value != "30"


def test_a_save_that_changed_nothing_does_not_refuse_the_other_admin(programme):
    alice, bob = admin("alice"), admin("bob")
    alices_page, bobs_page = load(alice, programme), load(bob, programme)
    assert alice.post(url(programme), alices_page).status_code == HTTPStatus.FOUND
    response = bob.post(url(programme), {**bobs_page, "criteria-0-value": "30"})
    assert response.status_code == HTTPStatus.FOUND
    assert programme.criteria.get().value == "30"


def test_the_check_locks_the_programme_row_on_databases_that_can(programme):
    if not connection.features.has_select_for_update:
        pytest.skip("SQLite has no row locks; it locks the whole database on write")
    alice = admin("alice")
    page = load(alice, programme)
    with CaptureQueriesContext(connection) as queries:
        response = alice.post(url(programme), {**page, "criteria-0-value": "30"})
    assert response.status_code == HTTPStatus.FOUND
    locks = [q["sql"] for q in queries if "FOR UPDATE" in q["sql"]]
    assert locks
    assert "programs_programme" in locks[0]
