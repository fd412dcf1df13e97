"""
The shop owner's profile form. Field names are the profile contract's; the
form returns a ``contract.Profile`` and never matches anything itself.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Fieldset, Layout, Submit
from django import forms
from django.core.validators import ProhibitNullCharactersValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from programs.engine import contract

NONE = "none"  # "none of these", distinct from "not answered"
SKIP = _("Not sure / skip")
YES_NO = [("", SKIP), ("yes", _("Yes")), ("no", _("No"))]
EARLIEST_AS_OF = datetime.date(2019, 1, 1)


def as_of_problem(as_of: datetime.date):
    """Return why an as-of date is refused (a lazy message), or None if it is fine."""
    if not (
        EARLIEST_AS_OF <= as_of <= timezone.localdate() + datetime.timedelta(days=3650)
    ):
        return _("Choose a date between 2019 and ten years from now.")
    return None


def no_control_characters(value: str) -> None:
    """Refuse control characters in free text, as the matcher does (NUL included:
    PostgreSQL cannot store it)."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise forms.ValidationError(
            _("Remove control characters."), code="control_characters"
        )


class TextField(forms.CharField):
    """Free text without control characters: one clear message for all of them.

    Django's own NUL check is replaced, so a NUL gets the same message as any
    other control character rather than two.
    """

    default_validators = [no_control_characters]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.validators = [
            v
            for v in self.validators
            if not isinstance(v, ProhibitNullCharactersValidator)
        ]


class ChoicesField(forms.MultipleChoiceField):
    """Several choices; a repeated choice counts once, but a flood of them is refused
    (the matcher's limit), so no request can make the form check thousands."""

    def validate(self, value: Any) -> None:
        if value and len(value) > 4 * len(list(self.choices)):
            raise forms.ValidationError(_("Too many choices."), code="too_many")
        super().validate(value)


def number_field(name: str, label, **kwargs: Any) -> forms.Field:
    """Return an optional number field bounded as contract.FIELDS says, so the
    form and the engine can never disagree on what a valid answer is."""
    spec = contract.FIELDS[name]
    bounds = {"min_value": spec.minimum, "max_value": spec.maximum, "required": False}
    if spec.kind is contract.FieldKind.INTEGER:
        return forms.IntegerField(label=label, **bounds, **kwargs)
    return forms.DecimalField(label=label, decimal_places=2, **bounds, **kwargs)


def _blank_first(choices, label=SKIP):
    return [("", label), *choices]


def shared(choices) -> Callable[[], tuple]:
    """Return fixed choices as a callable, which Django keeps as it is.

    Django deep-copies a list of choices, twice, for every form instance;
    these never change, and copying them was a third of the time it took to
    set up a profile form for each submission.
    """
    frozen = tuple(choices)
    return lambda: frozen


class ProfileForm(forms.Form):
    # Your business
    business_type = forms.ChoiceField(
        label=_("What kind of business do you run?"),
        choices=shared(contract.BUSINESS_TYPES),
        widget=forms.RadioSelect,
    )
    registration = forms.ChoiceField(
        label=_("How is it registered?"),
        choices=shared(_blank_first(contract.REGISTRATIONS)),
        widget=forms.RadioSelect,
        required=False,
    )
    province = forms.ChoiceField(
        label=_("Province or region"),
        choices=shared(_blank_first(contract.PROVINCES, _("Choose…"))),
    )
    city = TextField(label=_("City"), max_length=100, required=False)
    years_operating = number_field("years_operating", _("Years in business"))

    # Size and money
    employees = number_field(
        "employees",
        _("How many people work for you?"),
        help_text=_("Count yourself and family members who work in the business."),
    )
    annual_revenue_cny = number_field(
        "annual_revenue_cny", _("Revenue last year (CNY)")
    )
    cash_runway_months = number_field(
        "cash_runway_months",
        _("How many months could you keep going on the cash you have?"),
        help_text=_(
            "If you are not sure, fill in cash on hand and monthly fixed costs instead."
        ),
    )
    cash_on_hand_cny = number_field("cash_on_hand_cny", _("Cash on hand (CNY)"))
    monthly_fixed_costs_cny = number_field(
        "monthly_fixed_costs_cny",
        _("Monthly fixed costs: rent, wages, loan payments (CNY)"),
    )
    revenue_change_pct = number_field(
        "revenue_change_pct",
        _("Revenue change against the same time last year (%)"),
        help_text=_("For example -40 if sales fell by 40%."),
    )
    has_bank_loan = forms.ChoiceField(
        label=_("Do you have a bank loan?"),
        choices=shared(YES_NO),
        widget=forms.RadioSelect,
        required=False,
    )
    vat_small_scale = forms.ChoiceField(
        label=_("Are you a small-scale VAT taxpayer?"),
        choices=shared(YES_NO),
        widget=forms.RadioSelect,
        required=False,
    )
    premises = forms.ChoiceField(
        label=_("Your premises"),
        choices=shared(_blank_first(contract.PREMISES)),
        widget=forms.RadioSelect,
        required=False,
    )

    # Exports and online sales
    export_share_pct = number_field(
        "export_share_pct", _("Share of revenue from exports (%)")
    )
    export_markets = ChoicesField(
        label=_("Where do you export to?"),
        choices=shared([*contract.EXPORT_MARKETS, (NONE, _("I don't export"))]),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    platforms = ChoicesField(
        label=_("Which platforms and payment accounts do you use?"),
        choices=shared([*contract.PLATFORMS, (NONE, _("None of these"))]),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    # What you need
    needs = ChoicesField(
        label=_("What help do you need?"),
        help_text=_("Choose at least one."),
        choices=shared(contract.NEEDS),
        widget=forms.CheckboxSelectMultiple,
    )
    as_of = forms.DateField(
        label=_("Check programmes as of"),
        help_text=_(
            "The programmes ran in 2020 and have ended. Pick a date in 2020 to see what was "
            "open then; leave empty for today."
        ),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    SECTIONS = (
        (
            _("Your business"),
            ("business_type", "registration", "province", "city", "years_operating"),
        ),
        (
            _("Size and money"),
            (
                "employees",
                "annual_revenue_cny",
                "cash_runway_months",
                "cash_on_hand_cny",
                "monthly_fixed_costs_cny",
                "revenue_change_pct",
                "has_bank_loan",
                "vat_small_scale",
                "premises",
            ),
        ),
        (
            _("Exports and online sales"),
            ("export_share_pct", "export_markets", "platforms"),
        ),
        (_("What you need"), ("needs", "as_of")),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper(self)
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            *(
                Fieldset(legend, *names, css_class="mb-4")
                for legend, names in self.SECTIONS
            )
        )

    def _set_field(self, name: str) -> frozenset[str] | None:
        chosen = self.cleaned_data.get(name) or []
        if NONE in chosen and len(chosen) > 1:
            raise forms.ValidationError(
                _("Choose “none” or some of the options, not both."),
                code="none_and_some",
            )
        if not chosen:
            return None
        return frozenset() if NONE in chosen else frozenset(chosen)

    def clean_export_markets(self) -> frozenset[str] | None:
        return self._set_field("export_markets")

    def clean_platforms(self) -> frozenset[str] | None:
        return self._set_field("platforms")

    def clean_as_of(self) -> datetime.date | None:
        as_of = self.cleaned_data.get("as_of")
        if as_of and (problem := as_of_problem(as_of)):
            raise forms.ValidationError(problem, code="as_of_range")
        return as_of

    def to_profile(self) -> contract.Profile:
        """Return the valid answers as a Profile (call after is_valid())."""
        data = self.cleaned_data
        values: dict[str, Any] = {}
        for name in contract.PROFILE_FIELDS:
            value = data.get(name)
            if name in ("has_bank_loan", "vat_small_scale"):
                value = {"yes": True, "no": False}.get(value)
            elif name == "needs":
                value = frozenset(value)
            elif name in ("registration", "premises", "province") and value == "":
                value = None
            elif name == "city":
                value = (value or "").strip()
            values[name] = value
        return contract.Profile(**values)

    @staticmethod
    def initial_from_profile(
        profile: contract.Profile, as_of: datetime.date | None = None
    ) -> dict[str, Any]:
        """Return form data (as a browser would post it) for a stored profile."""
        data: dict[str, Any] = {}
        for name in contract.PROFILE_FIELDS:
            value = getattr(profile, name)
            if value is None:
                continue
            if isinstance(value, bool):
                data[name] = "yes" if value else "no"
            elif isinstance(value, frozenset):
                data[name] = sorted(value) or [NONE]
            elif isinstance(value, Decimal):
                data[name] = format(value.normalize() + 0, "f")
            else:
                data[name] = str(value)
        if as_of:
            data["as_of"] = as_of.isoformat()
        return data


class ConsentForm(forms.Form):
    """Keeping the results is optional and needs explicit, separate consents."""

    consent_store = forms.BooleanField(
        label=_("Keep my answers and results so I can come back to them"),
        required=False,
    )
    email = forms.EmailField(
        label=_("Email (optional)"),
        help_text=_(
            "We send your private link here. Only kept if you tick the box above."
        ),
        required=False,
        max_length=254,
    )
    alerts = forms.BooleanField(
        label=_(
            "Email me when a programme newly fits my business or is about to close"
        ),
        required=False,
    )
    consent_share_contact = forms.BooleanField(
        label=_(
            "Share my contact details with the providers of programmes that fit me"
        ),
        required=False,
    )
    contact_name = TextField(
        label=_("Contact name (optional)"), max_length=100, required=False
    )
    contact_phone = TextField(
        label=_("Contact phone (optional)"), max_length=30, required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper(self)
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            Fieldset(
                _("Keep your results (optional)"),
                HTML('{% include "programs/includes/privacy_notice.html" %}'),
                "consent_store",
                "email",
                "alerts",
                Div(
                    "consent_share_contact",
                    "contact_name",
                    "contact_phone",
                    css_class="border-start ps-3",
                ),
            ),
            Submit(
                "submit", _("Show programmes that fit"), css_class="btn-lg w-100 mt-2"
            ),
        )

    def clean_contact_phone(self) -> str:
        phone = self.cleaned_data["contact_phone"].strip()
        if phone and not all(ch.isdigit() or ch in "+-() " for ch in phone):
            raise forms.ValidationError(
                _("Use digits, spaces, +, - and brackets only."), code="phone"
            )
        return phone

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("alerts") and not (
            cleaned.get("consent_store") and cleaned.get("email")
        ):
            self.add_error(
                "alerts",
                forms.ValidationError(
                    _(
                        "For alerts we must keep your answers and your email: tick “Keep my answers” and give an email."
                    ),
                    code="alerts_need_store",
                ),
            )
        if not cleaned.get("consent_store"):
            # Without consent to keep anything, no contact data is kept either.
            if cleaned.get("consent_share_contact"):
                self.add_error(
                    "consent_share_contact",
                    forms.ValidationError(
                        _(
                            "To share your contact details we must keep them: tick “Keep my answers” too."
                        ),
                        code="share_needs_store",
                    ),
                )
        elif cleaned.get("consent_share_contact") and not (
            cleaned.get("email") or cleaned.get("contact_phone")
        ):
            self.add_error(
                "consent_share_contact",
                forms.ValidationError(
                    _("Give an email or phone number so providers can reach you."),
                    code="no_contact",
                ),
            )
        return cleaned


class EmailLinkForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=254)
