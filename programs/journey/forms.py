"""
The shop owner's forms: the profile form, built from the profile contract
(one field per answer field, with its question, help text, bounds, section
and error messages), the consent to keep results, and the email-my-link form.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Fieldset, Layout, Submit
from django import forms
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from programs.engine import contract
from programs.engine.contract import PROFILE_FIELDS, FieldKind, Section
from programs.engine.matching import as_of_problem

NONE = "none"  # "none of these", distinct from "not answered"
SKIP = _("Not sure / skip")
#: A choice field with more options than this is a drop-down, not radio buttons.
RADIO_LIMIT = 12


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


class SetField(forms.MultipleChoiceField):
    """Several choices as a set: None when not answered, empty for "none of these".

    A repeated choice counts once, but a flood of them is refused (the
    contract's limit), so no request can make the form check thousands.
    """

    def __init__(self, *, max_items: int, none_label: Promise | None, **kwargs: Any):
        self.max_items = max_items
        self.has_none = none_label is not None
        super().__init__(**kwargs)

    def validate(self, value: Any) -> None:
        if value and len(value) > self.max_items:
            raise forms.ValidationError(
                self.error_messages["too_many"], code="too_many"
            )
        super().validate(value)

    def clean(self, value: Any) -> frozenset[str] | None:
        chosen = super().clean(value) or []
        if NONE in chosen and len(chosen) > 1:
            raise forms.ValidationError(
                _("Choose “none” or some of the options, not both."),
                code="none_and_some",
            )
        if not chosen:
            return None
        return frozenset() if NONE in chosen else frozenset(chosen)


def shared(choices: Iterable[tuple[str, Any]]) -> Callable[[], tuple[Any, ...]]:
    """Return fixed choices as a callable, which Django keeps as it is.

    Django deep-copies a list of choices, twice, for every form instance;
    these never change, and copying them was a third of the time it took to
    set up a profile form for each submission.
    """
    frozen = tuple(choices)
    return lambda: frozen


def form_helper(form: forms.Form, *layout: Any) -> FormHelper:
    """Return a crispy helper that lays out the form's fields inside the page's own <form>."""
    helper = FormHelper(form)
    helper.form_tag = False
    helper.disable_csrf = True
    helper.layout = Layout(*layout)
    return helper


def yes_no(value: str) -> bool:
    return value == "yes"


def form_field(spec: contract.FieldSpec) -> forms.Field:
    """Return the form field that asks one question of the contract.

    Its error messages are the contract's, for a reader, not Django's.
    """
    label = spec.question
    help_text = spec.help_text
    messages = spec.messages()
    if spec.kind is FieldKind.CHOICE:
        long_list = len(spec.choices) > RADIO_LIMIT
        choices: Iterable[tuple[str, Any]] = spec.choices
        if not spec.required:
            choices = [("", SKIP), *choices]
        elif long_list:
            choices = [("", _("Choose…")), *choices]
        return forms.TypedChoiceField(
            label=label,
            help_text=help_text,
            choices=shared(choices),
            widget=forms.Select if long_list else forms.RadioSelect,
            required=spec.required,
            empty_value=None,
            error_messages=messages,
        )
    if spec.kind is FieldKind.MULTI:
        choices = spec.choices
        if spec.none_label is not None:
            choices = [*choices, (NONE, spec.none_label)]
        return SetField(
            label=label,
            help_text=help_text,
            choices=shared(choices),
            widget=forms.CheckboxSelectMultiple,
            required=spec.required,
            max_items=spec.max_items,
            none_label=spec.none_label,
            error_messages=messages,
        )
    if spec.kind is FieldKind.BOOLEAN:
        return forms.TypedChoiceField(
            label=label,
            help_text=help_text,
            choices=shared([("", SKIP), ("yes", _("Yes")), ("no", _("No"))]),
            widget=forms.RadioSelect,
            required=False,
            coerce=yes_no,
            empty_value=None,
            error_messages=messages,
        )
    if spec.kind is FieldKind.TEXT:
        return TextField(
            label=label,
            help_text=help_text,
            max_length=spec.max_length,
            required=spec.required,
            error_messages=messages,
        )
    # Decimal bounds, as the contract gives them, for IntegerField too.
    bounds: dict[str, Any] = {"min_value": spec.minimum, "max_value": spec.maximum}
    if spec.kind is FieldKind.INTEGER:
        return forms.IntegerField(
            label=label,
            help_text=help_text,
            required=spec.required,
            error_messages=messages,
            **bounds,
        )
    return forms.DecimalField(
        label=label,
        help_text=help_text,
        required=spec.required,
        decimal_places=2,
        error_messages=messages,
        **bounds,
    )


#: The contract's questions as a form class, one field per answer field.
ProfileQuestions = forms.forms.DeclarativeFieldsMetaclass(
    "ProfileQuestions",
    (forms.Form,),
    {
        "__module__": __name__,
        **{name: form_field(contract.FIELDS[name]) for name in PROFILE_FIELDS},
    },
)


class ProfileForm(ProfileQuestions):  # type: ignore[valid-type,misc]
    """The profile form: the contract's questions in its sections, and the as-of date.

    It returns a ``contract.Profile`` and never matches anything itself.
    """

    as_of = forms.DateField(
        label=_("Check programmes as of"),
        help_text=_(
            "The programmes ran in 2020 and have ended. Pick a date in 2020 to see what was "
            "open then; leave empty for today."
        ),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    #: (legend, field names) per section, in the contract's order.
    SECTIONS = tuple(
        (
            section.legend,
            tuple(
                name
                for name in PROFILE_FIELDS
                if contract.FIELDS[name].section is section
            )
            + (("as_of",) if section is Section.NEEDS else ()),
        )
        for section in Section
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = form_helper(
            self,
            *(
                Fieldset(legend, *names, css_class="mb-4")
                for legend, names in self.SECTIONS
            ),
        )

    def clean_as_of(self) -> datetime.date | None:
        as_of: datetime.date | None = self.cleaned_data.get("as_of")
        if as_of and (problem := as_of_problem(as_of)):
            raise forms.ValidationError(problem, code="as_of_range")
        return as_of

    def clean(self) -> dict[str, Any]:
        """Refuse answers that contradict each other, at both questions."""
        cleaned = super().clean() or {}
        answered = {name: cleaned.get(name) for name in PROFILE_FIELDS}
        for names, message in contract.contradictions(answered):
            for name in names:
                if name in cleaned:
                    self.add_error(
                        name, forms.ValidationError(message, code="contradiction")
                    )
        return cleaned

    def to_profile(self) -> contract.Profile:
        """Return the valid answers as a Profile (call after is_valid())."""
        values = {name: self.cleaned_data.get(name) for name in PROFILE_FIELDS}
        values["city"] = (values["city"] or "").strip()
        return contract.Profile(**values)

    @staticmethod
    def initial_from_profile(
        profile: contract.Profile, as_of: datetime.date | None = None
    ) -> dict[str, Any]:
        """Return form data (as a browser would post it) for a stored profile."""
        data: dict[str, Any] = {}
        for name in PROFILE_FIELDS:
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


class FirstStepForm(ProfileForm):
    """The first step: only the questions that most change the answer.

    The contract's ``FIRST_STEP`` says which, in order; an answer that helps
    work one out (cash and monthly costs for the months of runway) sits
    folded beneath it. Everything else is asked on the results page.
    """

    #: Posted with the answers, so a mistake is shown on the same short form.
    STEP = "first"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        asked = [
            name
            for first in contract.FIRST_STEP
            for name in (first, *contract.HELPERS.get(first, ()))
        ]
        for name in list(self.fields):
            if name not in asked:
                del self.fields[name]
        layout: list[Any] = [
            HTML(f'<input type="hidden" name="step" value="{self.STEP}">')
        ]
        for name in contract.FIRST_STEP:
            layout.append(name)
            if helpers := contract.HELPERS.get(name):
                # The folded helpers replace the help text that points to them.
                self.fields[name].help_text = ""
                layout += [
                    HTML(
                        format_lazy(
                            '<details class="mb-3 helper"><summary>{}</summary>'
                            '<div class="mt-2">',
                            _(
                                "Not sure? Give your cash on hand and monthly costs instead"
                            ),
                        )
                    ),
                    *helpers,
                    HTML("</div></details>"),
                ]
        self.helper = form_helper(self, *layout)


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

    def __init__(
        self,
        *args: Any,
        submit_label: Promise | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.helper = form_helper(
            self,
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
                "submit",
                submit_label or _("Show programmes that fit"),
                css_class="btn-lg w-100 mt-2",
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
        assert cleaned is not None  # forms.Form.clean() returns cleaned_data
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


class SentenceField(TextField):
    """A sentence or two of free text: line breaks and tabs become spaces, and
    any other control character is refused, as in every text field."""

    def to_python(self, value: Any) -> str:
        text: str = super().to_python(value) or ""
        return " ".join(re.split(r"[\r\n\t]+", text)).strip()


class WrongAnswerForm(forms.Form):
    """An owner's word that a result looks wrong, and whether to keep their answers.

    Prefixed, so its fields never meet the profile's answers posted beside them.
    """

    prefix = "report"

    sentence = SentenceField(
        label=_("What looks wrong?"),
        help_text=_(
            "A sentence is enough, for example: “I sell abroad, but it says I don’t export.”"
        ),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Say in a sentence what looks wrong.")},
    )
    consent = forms.BooleanField(
        label=_("Also keep my answers and these results with my report"),
        help_text=_(
            "Then our staff can check this programme's rules against your answers, "
            "and may keep them as a test of the rules. Without this tick we keep only "
            "your sentence, the programme, the date and the catalogue version."
        ),
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = form_helper(self, "sentence", "consent")
