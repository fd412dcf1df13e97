"""The staff match report's filters: every invalid value is reported and ignored."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from programs.engine import contract
from programs.engine.matching import Tier
from programs.models import Programme, Provider
from programs.staff import match_report
from programs.staff.match_report import SUBMITTED_RANGE, ReportFilters

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def any_or(choices: Iterable[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Return the choices after an "Any" choice that filters nothing."""
    return [("", _("Any")), *choices]


def contract_filter(name: str) -> forms.ChoiceField:
    """Return a filter on one of the contract's choice fields, labelled as it is."""
    spec = contract.FIELDS[name]
    return forms.ChoiceField(
        label=capfirst(spec.label), required=False, choices=any_or(spec.choices)
    )


def within_submitted_range(value: datetime.date) -> None:
    first, last = SUBMITTED_RANGE
    if not first <= value <= last:
        raise forms.ValidationError(
            _("Enter a date from %(first)s to %(last)s."),
            code="out_of_range",
            params={"first": first.isoformat(), "last": last.isoformat()},
        )


def submitted_date(label: StrOrPromise) -> forms.DateField:
    """Return a submission-date filter that refuses dates outside SUBMITTED_RANGE."""
    first, last = SUBMITTED_RANGE
    return forms.DateField(
        label=label,
        required=False,
        validators=[within_submitted_range],
        widget=forms.DateInput(
            attrs={"type": "date", "min": first.isoformat(), "max": last.isoformat()}
        ),
    )


class ReportFilterForm(forms.Form):
    """Filters of the staff match report; invalid values are reported and ignored."""

    programme = forms.ChoiceField(label=_("Programme"), required=False)
    provider = forms.ChoiceField(label=_("Provider"), required=False)
    tier = forms.ChoiceField(
        label=_("Outcome"),
        required=False,
        choices=any_or(Tier.choices()),
    )
    near_miss = forms.ChoiceField(
        label=_("Near miss"),
        required=False,
        choices=any_or([("yes", _("Yes")), ("no", _("No"))]),
    )
    province = contract_filter("province")
    business_type = contract_filter("business_type")
    size_class = contract_filter("size_class")
    urgency = contract_filter("urgency")
    submitted_from = submitted_date(_("Submitted from"))
    submitted_to = submitted_date(_("Submitted to"))

    def __init__(
        self,
        *args: Any,
        programmes: Iterable[tuple[str, Any]] = (),
        providers: Iterable[tuple[str, Any]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        programme = cast(forms.ChoiceField, self.fields["programme"])
        programme.choices = [("", _("Any")), *programmes]
        provider = cast(forms.ChoiceField, self.fields["provider"])
        provider.choices = [("", _("Any")), *providers]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # forms.Form.clean() returns cleaned_data
        start, end = cleaned.get("submitted_from"), cleaned.get("submitted_to")
        if start and end and start > end:
            self.add_error("submitted_to", _("The end date is before the start date."))
        return cleaned

    def to_filters(self) -> ReportFilters:
        """Return the valid filters; an invalid one is left out (its error is shown)."""
        if not self.is_bound:
            return ReportFilters()
        self.is_valid()
        data = {
            name: value
            for name, value in self.cleaned_data.items()
            if value not in ("", None)
        }
        if "near_miss" in data:
            data["near_miss"] = data["near_miss"] == "yes"
        return ReportFilters(**data)


def report_filter_form(
    user: match_report.StaffUser, data: Any = None
) -> ReportFilterForm:
    """Return the report's filters for this user: a partner chooses among their own."""
    provider_id = match_report.partner_provider_id(user)
    programmes = Programme.objects.select_related("provider").order_by("slug")
    providers = Provider.objects.order_by("name_en")
    if provider_id is not None:
        programmes = programmes.filter(provider_id=provider_id)
        providers = providers.filter(pk=provider_id)
    return ReportFilterForm(
        data or None,
        programmes=[(p.slug, f"{p} ({p.slug})") for p in programmes],
        providers=[(p.slug, str(p)) for p in providers],
    )
