"""Recomputing stored results after a rule change, through the database filter path."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.management import CommandError, call_command

from programs.catalogue import loader, store
from programs.engine import contract, matching, sql
from programs.journey import kept as kept_profiles
from programs.models import BusinessProfile, Criterion, StoredResult
from tests.builders import make_profile
from tests.factories import CriterionFactory, ProgrammeFactory

pytestmark = pytest.mark.django_db

AS_OF = datetime.date(2020, 6, 15)


@pytest.fixture
def kept():
    loader.load_catalogue()
    profiles = [
        make_profile(business_type="street_stall", employees=1, province="CN-HB"),
        make_profile(
            business_type="restaurant",
            employees=30,
            annual_revenue_cny=3_000_000,
            premises="rented_state_owned",
        ),
        make_profile(
            business_type="manufacturer", export_share_pct=60, needs={"export_markets"}
        ),
        make_profile(),
    ]
    rows = []
    for profile in profiles:
        report = store.run_match(profile=profile, as_of=AS_OF)
        row, _token = kept_profiles.profile_keep(
            profile=profile,
            consent=kept_profiles.Consent(store=True),
            report=report,
            as_of=AS_OF,
            language="en",
        )
        rows.append(row)
    return rows


def assert_stored_results_equal_the_matcher():
    catalogue = store.current_catalogue()
    for row in BusinessProfile.objects.all():
        profile = contract.from_columns(row)
        stored = {
            r.programme.slug: r
            for r in StoredResult.objects.filter(profile=row).select_related(
                "programme"
            )
        }
        assert set(stored) == {p.slug for p in catalogue.programmes}
        for programme in catalogue.programmes:
            expected = matching.assess(profile, programme, as_of=row.as_of)
            result = stored[programme.slug]
            assert (result.outcome, result.near_miss, result.availability) == (
                expected.outcome.value,
                expected.near_miss,
                expected.availability.value,
            ), (row.pk, programme.slug)
            assert result.catalogue_version == catalogue.version


def test_rematch_after_a_rule_change_updates_outcomes_and_reports_moves(kept):
    # JD Spark now also welcomes restaurants.
    criterion = Criterion.objects.get(programme__slug="jd-spark", field="business_type")
    criterion.value = [*criterion.value, "restaurant"]
    criterion.save()
    report = sql.rematch()
    assert report.total_created() == 0
    assert report.total_changed() >= 1
    assert_stored_results_equal_the_matcher()


def test_rematch_adds_results_for_a_new_programme(kept):
    programme = ProgrammeFactory(slug="new-stall-fund")
    CriterionFactory(
        programme=programme,
        field="business_type",
        operator="one_of",
        value=["street_stall"],
    )
    report = sql.rematch()
    assert report.created["new-stall-fund"] == len(kept)
    assert (
        StoredResult.objects.get(profile=kept[0], programme=programme).outcome
        == "eligible"
    )
    assert_stored_results_equal_the_matcher()


def test_rematch_twice_changes_nothing_the_second_time(kept):
    sql.rematch()
    again = sql.rematch()
    assert again.total_changed() == 0
    assert again.total_created() == 0


def test_rematch_command_reports_what_changed(kept):
    Criterion.objects.filter(programme__slug="jd-spark", field="business_type").update(
        value=["restaurant"]
    )
    out = io.StringIO()
    call_command("rematch", "--programme", "jd-spark", stdout=out)
    text = out.getvalue()
    assert "stored results changed" in text
    assert (
        "JD Spark Plan (jd-spark): 1 result changed from “eligible” to “not eligible”"
    ) in text


def test_rematch_command_refuses_unknown_programmes(kept):
    with pytest.raises(CommandError, match="Unknown programme: nope"):
        call_command("rematch", "--programme", "nope")
