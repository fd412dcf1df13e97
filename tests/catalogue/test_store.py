"""The compiled catalogue is reused while unchanged and rebuilt after any change."""

from __future__ import annotations

import pytest
from django.db import connection

from programs.catalogue import store
from programs.journey import kept
from programs.models import Criterion, Programme, Provider, Source
from tests.factories import CriterionFactory, ProgrammeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def programme():
    criterion = CriterionFactory(field="employees", operator="lte", value="20")
    return criterion.programme


def token():
    return store.catalogue_revision()


def test_unchanged_catalogue_is_served_from_the_process_without_reading_rules(
    programme, django_assert_num_queries
):
    first = store.current_catalogue()
    with django_assert_num_queries(1):
        assert store.current_catalogue() is first


def change_with_save(programme):
    programme.name_en = "Renamed"
    programme.save()


def change_with_queryset_update(programme):
    Programme.objects.filter(pk=programme.pk).update(days_to_money=1)


def change_a_criterion(programme):
    Criterion.objects.filter(programme=programme).update(value="5")


def delete_a_criterion(programme):
    Criterion.objects.filter(programme=programme).delete()


def add_a_criterion_in_bulk(programme):
    Criterion.objects.bulk_create(
        [
            Criterion(
                programme=programme, field="has_bank_loan", operator="is", value=True
            )
        ]
    )


def add_a_source(programme):
    Source.objects.create(programme=programme, title="New source")


def rename_the_provider(programme):
    Provider.objects.filter(pk=programme.provider_id).update(name_en="New name")


def change_with_raw_sql(programme):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE programs_programme SET closes_on = '2020-12-31' WHERE id = %s",
            [programme.pk],
        )


def add_a_programme(programme):
    ProgrammeFactory()


@pytest.mark.parametrize(
    "change",
    [
        change_with_save,
        change_with_queryset_update,
        change_a_criterion,
        delete_a_criterion,
        add_a_criterion_in_bulk,
        add_a_source,
        rename_the_provider,
        change_with_raw_sql,
        add_a_programme,
    ],
)
def test_every_kind_of_catalogue_write_makes_the_next_read_fresh(programme, change):
    before = store.current_catalogue()
    token_before = token()
    change(programme)
    assert token() != token_before
    after = store.current_catalogue()
    assert after is not before
    assert after == store.read_catalogue()
    assert after.version != before.version


def test_writes_outside_the_catalogue_keep_the_cached_catalogue(programme):
    from tests.builders import make_profile

    first = store.current_catalogue()
    kept.profile_create(profile=make_profile(employees=3))
    assert store.current_catalogue() is first


def test_without_the_revision_row_nothing_is_cached(
    programme, django_assert_num_queries
):
    from programs.models import CatalogueRevision

    CatalogueRevision.objects.all().delete()
    store.current_catalogue()
    with django_assert_num_queries(4):
        store.current_catalogue()
