"""Retention: `manage.py purge_stale_profiles` deletes old profiles and keeps only counts."""

from __future__ import annotations

import csv
import datetime
import io
from dataclasses import asdict
from http import HTTPStatus

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone

from programs.catalogue import loader
from programs.models import (
    BusinessProfile,
    PurgedTally,
    SentAlert,
    StoredResult,
)
from tests.builders import make_profile
from tests.factories import kept_profile, report_viewer

pytestmark = pytest.mark.django_db

AS_OF = datetime.date(2020, 6, 15)
REPORT = reverse("admin:programs_match_report")
EXPORT_CSV = reverse("admin:programs_match_report_export", args=["csv"])
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def at(*args: int) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SHANGHAI)


def keep(profile, *, created, changed, **consent) -> BusinessProfile:
    """Keep a profile as its owner would, submitted and last changed at the given times."""
    row = kept_profile(profile, as_of=AS_OF, **consent)
    # QuerySet.update() bypasses auto_now: the only way to age a row.
    BusinessProfile.objects.filter(pk=row.pk).update(
        created_at=created, updated_at=changed
    )
    return row


def stale(profile, created: datetime.datetime, **consent) -> BusinessProfile:
    return keep(profile, created=created, changed=created, **consent)


def fresh(profile, created: datetime.datetime, **consent) -> BusinessProfile:
    return keep(profile, created=created, changed=timezone.now(), **consent)


@pytest.fixture
def profiles():
    """Old and recent profiles spread over months, places, sizes and runways."""
    loader.load_catalogue()
    old = [
        stale(
            make_profile(
                business_type="street_stall",
                employees=1,
                province="CN-HB",
                cash_runway_months=0.5,
                needs={"stock_sourcing", "financing"},
            ),
            at(2024, 1, 10, 9),
            share_contact=True,
            email="old-stall@example.com",
            contact_phone="13800000001",
            alerts=True,
        ),
        stale(
            make_profile(
                business_type="restaurant",
                employees=20,
                annual_revenue_cny=2_000_000,
                province="CN-SH",
                platforms={"meituan"},
                cash_runway_months=4,
                needs={"fee_relief"},
            ),
            # 29 February 20:00 UTC is 1 March in Shanghai: a March submission.
            datetime.datetime(2024, 2, 29, 20, tzinfo=datetime.UTC),
            email="old-restaurant@example.com",
        ),
        stale(
            make_profile(
                business_type="convenience_store",
                employees=2,
                province="CN-GD",
                cash_runway_months=2,
                needs={"stock_sourcing"},
            ),
            at(2024, 2, 5, 12),
        ),
        stale(
            make_profile(
                business_type="online_seller",
                employees=3,
                province="CN-HB",
                platforms={"taobao", "pinduoduo"},
                needs={"financing"},
            ),
            at(2024, 3, 20, 15),
        ),
    ]
    young = [
        fresh(
            make_profile(
                business_type="street_stall",
                employees=1,
                province="CN-HB",
                cash_runway_months=8,
                needs={"financing"},
            ),
            at(2024, 1, 25, 10),
            email="young@example.com",
        ),
        # Submitted long ago, but changed recently: the last change counts.
        keep(
            make_profile(
                business_type="manufacturer",
                employees=150,
                province="CN-GD",
                export_share_pct=60,
                export_markets={"north_america"},
                cash_runway_months=1,
                needs={"export_markets"},
            ),
            created=at(2023, 11, 2, 8),
            changed=timezone.now() - datetime.timedelta(days=3),
        ),
    ]
    for row in old[:2]:
        SentAlert.objects.create(
            profile=row,
            programme=StoredResult.objects.filter(profile=row).first().programme,
            kind=SentAlert.Kind.DEADLINE,
            reason="2020-06-30",
        )
    return {"old": old, "young": young}


def purge(*args: str) -> str:
    out = io.StringIO()
    call_command("purge_stale_profiles", *args, stdout=out)
    return out.getvalue()


def counts(client, query: dict[str, str]) -> dict:
    """Return every figure of the report's summary for these filters."""
    summary = asdict(client.get(REPORT, query).context["summary"])
    summary.pop("purged_profiles")
    summary.pop("purged_months_left_out")
    return summary


def csv_rows(response) -> list[dict[str, str]]:
    content = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(content)))


# -- what goes and what stays ---------------------------------------------------------------


def test_profiles_unchanged_past_the_retention_period_go_with_results_and_alerts(
    profiles,
):
    old = [row.pk for row in profiles["old"]]
    young = [row.pk for row in profiles["young"]]
    young_results = StoredResult.objects.filter(profile__in=young).count()
    young_alerts = SentAlert.objects.filter(profile__in=young).count()
    assert StoredResult.objects.filter(profile__in=old).exists()
    assert SentAlert.objects.filter(profile__in=old).count() >= 2

    output = purge("--older-than", "30")

    assert "Deleted 4 profiles" in output
    assert not BusinessProfile.objects.filter(pk__in=old).exists()
    assert not StoredResult.objects.filter(profile__in=old).exists()
    assert not SentAlert.objects.filter(profile__in=old).exists()
    assert set(BusinessProfile.objects.values_list("pk", flat=True)) == set(young)
    assert StoredResult.objects.count() == young_results
    assert SentAlert.objects.count() == young_alerts


def test_nothing_of_a_purged_profile_remains_in_any_table_that_refers_to_it(profiles):
    old = [row.pk for row in profiles["old"]]
    purge("--older-than", "30")
    referring = [
        rel for rel in BusinessProfile._meta.related_objects if rel.related_model
    ]
    assert {rel.related_model.__name__ for rel in referring} >= {
        "StoredResult",
        "SentAlert",
    }
    for rel in referring:
        left = rel.related_model._base_manager.filter(
            **{f"{rel.field.name}__in": old}
        ).count()
        assert left == 0, rel.related_model.__name__
    assert not hasattr(BusinessProfile, "history")  # no historical copies to purge


def test_retention_period_comes_from_settings_when_not_given(profiles):
    with override_settings(PROFILE_RETENTION_DAYS=100_000 // 3):
        assert "Nothing to delete" in purge()
    assert BusinessProfile.objects.count() == 6
    with override_settings(PROFILE_RETENTION_DAYS=30):
        assert "Deleted 4 profiles" in purge()
    assert BusinessProfile.objects.count() == 2


def test_a_retention_setting_that_is_not_a_positive_number_is_refused(profiles):
    with (
        override_settings(PROFILE_RETENTION_DAYS=0),
        pytest.raises(CommandError, match="PROFILE_RETENTION_DAYS must be a whole"),
    ):
        purge()
    assert BusinessProfile.objects.count() == 6


def test_dry_run_counts_and_deletes_nothing(profiles):
    results = StoredResult.objects.count()
    output = purge("--older-than", "30", "--dry-run")
    old_results = StoredResult.objects.filter(
        profile__in=[row.pk for row in profiles["old"]]
    ).count()
    assert f"Would delete 4 profiles with {old_results} results" in output
    assert BusinessProfile.objects.count() == 6
    assert StoredResult.objects.count() == results
    assert not PurgedTally.objects.exists()


def test_running_again_has_nothing_to_do_and_counts_nothing_twice(profiles):
    purge("--older-than", "30")
    tallies = list(PurgedTally.objects.values_list("profiles", flat=True))
    output = purge("--older-than", "30")
    assert output.startswith(
        "Nothing to delete: no profile last changed more than 30 days ago"
    )
    assert list(PurgedTally.objects.values_list("profiles", flat=True)) == tallies


def test_an_empty_database_is_nothing_to_do():
    assert "Nothing to delete" in purge()


@pytest.mark.parametrize("value", ["0", "-5", "abc", "1.5", "", "99999999999"])
def test_older_than_must_be_a_positive_whole_number(value):
    with pytest.raises(CommandError, match="--older-than must be a whole number"):
        purge("--older-than", value)


@pytest.mark.parametrize("value", ["0", "x", "100000"])
def test_batch_size_must_be_a_sensible_whole_number(value):
    with pytest.raises(CommandError, match="--batch-size must be a whole number"):
        purge("--batch-size", value)


def test_queries_do_not_grow_with_the_number_of_profiles(profiles):
    """Rows are tallied and deleted in SQL: one batch costs the same for 2 or 4 profiles."""
    with CaptureQueriesContext(connection) as two:
        purge("--older-than", "30", "--batch-size", "1000")
    # Age the two others and purge them the same way.
    BusinessProfile.objects.update(updated_at=at(2024, 1, 1))
    with CaptureQueriesContext(connection) as again:
        purge("--older-than", "30", "--batch-size", "1000")
    assert len(two) == len(again)


# -- the report afterwards ------------------------------------------------------------------


FILTERS = [
    {},
    {"province": "CN-HB"},
    {"business_type": "street_stall"},
    {"size_class": "micro"},
    {"urgency": "critical"},
    {"tier": "eligible"},
    {"tier": "possibly_eligible"},
    {"tier": "near_miss"},
    {"tier": "not_eligible"},
    {"near_miss": "yes"},
    {"near_miss": "no", "tier": "eligible"},
    {"programme": "jd-spark"},
    {"programme": "jd-spark", "tier": "not_eligible"},
    {"provider": "jd"},
    {"provider": "jd", "tier": "eligible", "province": "CN-HB"},
    {"submitted_from": "2024-03-01"},
    {"submitted_from": "2024-02-01", "submitted_to": "2024-02-29"},
    {"submitted_to": "2024-01-31", "tier": "near_miss"},
]


def query_id(query: dict[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in query.items()) or "everything"


@pytest.mark.parametrize("query", FILTERS, ids=query_id)
def test_report_counts_are_the_same_before_and_after_the_purge(client, profiles, query):
    client.force_login(report_viewer("analyst"))
    before = counts(client, query)
    purge("--older-than", "30")
    assert counts(client, query) == before


@pytest.mark.parametrize("query", [{}, {"tier": "eligible"}, {"provider": "mybank"}])
def test_partner_counts_are_the_same_before_and_after_the_purge(
    client, profiles, query
):
    client.force_login(report_viewer("jd-team", partner="jd"))
    before = counts(client, query)
    purge("--older-than", "30")
    assert counts(client, query) == before


def test_smallest_batches_leave_the_same_counts(client, profiles):
    client.force_login(report_viewer("analyst"))
    before = [counts(client, query) for query in FILTERS]
    purge("--older-than", "30", "--batch-size", "1")
    assert [counts(client, query) for query in FILTERS] == before


def test_report_page_says_it_counts_purged_businesses(client, profiles):
    client.force_login(report_viewer("analyst"))
    assert (
        "deleted after the retention period" not in client.get(REPORT).content.decode()
    )
    purge("--older-than", "30")
    response = client.get(REPORT)
    assert response.context["summary"].purged_profiles == 4
    html = response.content.decode()
    assert (
        "These counts include 4 businesses deleted after the retention period" in html
    )
    assert "6 businesses match these filters" in html


def test_dates_cutting_through_a_month_leave_its_purged_businesses_out_and_say_so(
    client, profiles
):
    client.force_login(report_viewer("analyst"))
    purge("--older-than", "30")
    response = client.get(REPORT, {"submitted_from": "2024-01-05"})
    summary = response.context["summary"]
    assert summary.purged_months_left_out
    assert summary.purged_profiles == 3  # February and two in March; not January
    assert "months that the dates filter cuts through" in response.content.decode()
    whole = client.get(REPORT, {"submitted_from": "2024-01-01"}).context["summary"]
    assert not whole.purged_months_left_out
    assert whole.purged_profiles == 4


def test_exports_after_the_purge_hold_live_rows_only(client, profiles):
    client.force_login(report_viewer("analyst"))
    young = [row.pk for row in profiles["young"]]
    purge("--older-than", "30")
    response = client.get(EXPORT_CSV)
    assert response.status_code == HTTPStatus.OK
    rows = csv_rows(response)
    assert len(rows) == StoredResult.objects.filter(profile__in=young).count()
    assert {row["Contact email"] for row in rows} <= {""}
    pdf = client.get(reverse("admin:programs_match_report_export", args=["pdf"]))
    assert pdf.status_code == HTTPStatus.OK


def test_deleting_a_programme_takes_its_purged_counts_as_it_takes_live_rows(
    client, profiles
):
    from programs.models import Programme

    client.force_login(report_viewer("analyst"))
    purge("--older-than", "30")
    Programme.objects.get(slug="jd-spark").delete()
    summary = client.get(REPORT).context["summary"]
    assert "jd-spark" not in {slug for slug, _name, _counts in summary.per_programme}
