"""The database filter path selects exactly what the matcher decides, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from programs.engine import contract, matching, sql
from programs.models import BusinessProfile
from tests.builders import make_profile, make_programme, rule
from tests.strategies import profiles, programmes

AS_OF = datetime.date(2020, 6, 1)


def store(profile_list):
    return BusinessProfile.objects.bulk_create(
        [BusinessProfile(**contract.to_columns(p)) for p in profile_list]
    )


class FilterAgreementTests(TestCase):
    @settings(
        max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(
        profile_list=st.lists(profiles(), min_size=1, max_size=12),
        programme=programmes(),
    )
    def test_database_filters_agree_with_the_matcher(self, profile_list, programme):
        rows = store(profile_list)
        expected = {
            row.pk: matching.assess(profile, programme, as_of=AS_OF)
            for row, profile in zip(rows, profile_list, strict=True)
        }
        queryset = BusinessProfile.objects.all()
        for outcome in matching.Outcome:
            selected = set(
                sql.matching_profiles(queryset, programme, outcome).values_list(
                    "pk", flat=True
                )
            )
            assert selected == {
                pk for pk, m in expected.items() if m.outcome is outcome
            }, outcome
        counts = sql.outcome_counts(queryset, [programme])[programme.slug]
        assert counts["near_miss"] == sum(m.near_miss for m in expected.values())
        for outcome in matching.Outcome:
            assert counts[outcome.value] == sum(
                m.outcome is outcome for m in expected.values()
            )

    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(
        profile_list=st.lists(profiles(), min_size=1, max_size=10),
        programme_list=st.lists(programmes(), min_size=2, max_size=4),
    )
    def test_counts_for_several_programmes_in_one_query_agree_with_the_matcher(
        self, profile_list, programme_list
    ):
        programme_list = [
            dataclasses.replace(p, slug=f"programme-{i}")
            for i, p in enumerate(programme_list)
        ]
        store(profile_list)
        counts = sql.outcome_counts(BusinessProfile.objects.all(), programme_list)
        for programme in programme_list:
            assessed = [
                matching.assess(profile, programme, as_of=AS_OF)
                for profile in profile_list
            ]
            expected = {
                outcome.value: sum(m.outcome is outcome for m in assessed)
                for outcome in matching.Outcome
            }
            expected["near_miss"] = sum(m.near_miss for m in assessed)
            assert counts[programme.slug] == expected, programme.slug

    @settings(max_examples=100, deadline=None)
    @given(profile=profiles())
    def test_stored_profile_reads_back_as_the_same_profile(self, profile):
        [row] = store([profile])
        row.refresh_from_db()
        assert contract.from_columns(row) == profile
        assert row.size_class == profile.size_class
        assert row.urgency == profile.urgency


class TransitionTests(TestCase):
    def test_transition_counts_report_how_outcomes_move_after_a_rule_change(self):
        store(
            [
                make_profile(employees=5),
                make_profile(employees=30),
                make_profile(employees=80),
                make_profile(),
            ]
        )
        before = make_programme("p", rule("employees", "lte", 20))
        after = make_programme("p", rule("employees", "lte", 50))
        counts = sql.transition_counts(BusinessProfile.objects.all(), before, after)
        assert counts == {
            ("eligible", "eligible"): 1,
            ("not_eligible", "eligible"): 1,
            ("not_eligible", "not_eligible"): 1,
            ("possibly_eligible", "possibly_eligible"): 1,
        }


class ImpliedAnswersTests(TestCase):
    def test_the_database_fills_implied_answers_as_the_matcher_does(self):
        profile_list = [
            make_profile(export_share_pct=0),
            make_profile(export_markets=frozenset()),
            make_profile(annual_revenue_cny=6_000_000),
            make_profile(),
        ]
        store(profile_list)
        programmes = [
            make_programme(
                "markets", rule("export_markets", "contains_any", ["europe"])
            ),
            make_programme("share", rule("export_share_pct", "gte", 10)),
            make_programme("vat", rule("vat_small_scale", "is", True)),
        ]
        counts = sql.outcome_counts(BusinessProfile.objects.all(), programmes)
        for programme in programmes:
            expected = [
                matching.assess(p, programme, as_of=AS_OF).outcome for p in profile_list
            ]
            # Without the implications every one of them would be "possibly".
            assert matching.Outcome.NOT_ELIGIBLE in expected, programme.slug
            for outcome in matching.Outcome:
                assert counts[programme.slug][outcome.value] == expected.count(
                    outcome
                ), (programme.slug, outcome)
