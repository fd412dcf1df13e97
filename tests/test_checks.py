"""The system check that keeps the stored profile model in step with the contract."""

from __future__ import annotations

from django.core import checks
from django.db import models
from django.test.utils import isolate_apps

from programs.checks import check_profile_model
from programs.engine.contract import PROVINCES


def messages_for(model: type[models.Model]) -> list[str]:
    return [error.msg for error in check_profile_model(model=model)]


def test_the_shipped_model_stores_the_contract():
    assert check_profile_model() == []


def test_the_check_runs_with_manage_py_check():
    errors = checks.run_checks(tags=[checks.Tags.models])
    assert [e for e in errors if e.id == "programs.E001"] == []


@isolate_apps("programs")
def test_a_contract_field_without_a_column_fails_the_check():
    class Drifted(models.Model):  # noqa: DJ008 - a throwaway model, never shown
        province = models.CharField(max_length=5, choices=PROVINCES)

        class Meta:
            app_label = "programs"

    problems = messages_for(Drifted)

    assert (
        "Drifted has no column 'business_type' for the contract field 'business_type'."
        in problems
    )
    assert (
        "Drifted has no column 'needs_mask' for the contract field 'needs'." in problems
    )
    assert not any("'province'" in p for p in problems)


@isolate_apps("programs")
def test_a_column_of_the_wrong_kind_or_shape_fails_the_check():
    class Drifted(models.Model):  # noqa: DJ008 - a throwaway model, never shown
        province = models.CharField(max_length=5, choices=PROVINCES[:3])
        employees = models.DecimalField(max_digits=9, decimal_places=2, null=True)
        export_share_pct = models.DecimalField(
            max_digits=4, decimal_places=2, null=True
        )
        has_bank_loan = models.BooleanField(default=False)
        city = models.CharField(max_length=20, blank=True)

        class Meta:
            app_label = "programs"

    problems = " | ".join(messages_for(Drifted))

    assert "offers choices ('CN-AH', 'CN-BJ', 'CN-CQ') for 'province'" in problems
    assert "stores 'employees' in 'employees', a DecimalField" in problems
    assert "'export_share_pct' cannot hold 100" in problems
    assert "'has_bank_loan' cannot be NULL, which stores 'not answered'" in problems
    assert "'city' holds fewer than 100 characters" in problems
