"""
The programme change form's "Preview impact" button: the edit's effect, unsaved.

Pressing it posts the edited form and its inlines as Save would. The
admin's own change form machinery (``ModelAdmin._changeform_view``) binds
and validates them, so an invalid edit shows exactly the errors Save shows.
To stop that machinery from saving once everything is valid, the preview
adds one more formset to the list it validates, ``PreviewStep``, whose
``is_valid()`` runs last: when the form and every real formset are valid it
works out the preview (``catalogue.preview``) from the unsaved edited
values and returns False. The admin then renders the change form again with
the posted values (it found no error to show) and this module's context: so
nothing is saved or logged, and the admin can press Save next.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Model
from django.forms import BaseForm, Media, ModelForm
from django.forms.models import BaseModelFormSet
from django.forms.utils import ErrorList
from django.http import HttpRequest

from programs.catalogue import preview, store
from programs.engine import matching
from programs.models import Criterion, Programme, Source

#: The submit button's name.
PREVIEW = "_preview"
#: Request attributes: the main form once valid, and the preview once made.
VALID_FORM = "_preview_form"
RESULT = "_rule_preview"


def wants_preview(request: HttpRequest) -> bool:
    return request.method == "POST" and PREVIEW in request.POST


def kept_instances(formset: BaseModelFormSet[Any, Any]) -> list[Model]:
    """Return the unsaved rows a valid inline formset would save, in form order.

    As ``BaseModelFormSet.save`` decides: existing rows not marked for
    deletion, and new rows that were filled in and not marked for deletion.
    """
    kept = []
    for i, form in enumerate(formset.forms):
        if formset.can_delete and form.cleaned_data.get("DELETE"):
            continue
        if i >= formset.initial_form_count() and not form.has_changed():
            continue
        kept.append(form.instance)
    return kept


def edited_programme(
    form: ModelForm[Any], formsets: Iterable[BaseModelFormSet[Any, Any]]
) -> matching.Programme:
    """Return the programme as edited: the valid, unsaved form and inline rows."""
    rows: dict[type[Model], list[Model]] = {Criterion: [], Source: []}
    for formset in formsets:
        model = getattr(formset, "model", None)
        if model in rows:
            rows[model] = kept_instances(formset)
    programme = form.instance
    assert isinstance(programme, Programme)
    return store.build_programme(
        programme,
        [c for c in rows[Criterion] if isinstance(c, Criterion)],
        [s for s in rows[Source] if isinstance(s, Source)],
    )


def saved_programme(pk: int | None) -> matching.Programme | None:
    """Return the programme as saved, or None for one not saved yet."""
    if pk is None:
        return None
    return store.programme_rules(store.programme_queryset().get(pk=pk))


class PreviewStep:
    """The last "formset" the admin validates during a preview; never valid (see above)."""

    media = Media()
    errors: list[Any] = []

    def __init__(
        self,
        request: HttpRequest,
        pk: int | None,
        formsets: list[BaseModelFormSet[Any, Any]],
    ):
        self.request, self.pk, self.formsets = request, pk, formsets

    def is_valid(self) -> bool:
        form = getattr(self.request, VALID_FORM, None)
        if form is not None and all(f.is_valid() for f in self.formsets):
            setattr(
                self.request,
                RESULT,
                preview.preview_rules(
                    saved_programme(self.pk), edited_programme(form, self.formsets)
                ),
            )
        return False

    def non_form_errors(self) -> ErrorList:
        return ErrorList()


class RulePreviewMixin:
    """For a ModelAdmin of Programme: the preview button and what it shows."""

    def save_form(self, request: HttpRequest, form: BaseForm, change: bool) -> Any:
        # Called only once the main form is valid, before the inlines are validated.
        if wants_preview(request):
            setattr(request, VALID_FORM, form)
        return super().save_form(request, form, change)  # type: ignore[misc]

    def _create_formsets(
        self, request: HttpRequest, obj: Programme, change: bool
    ) -> tuple[list[Any], list[Any]]:
        formsets, inlines = super()._create_formsets(request, obj, change)  # type: ignore[misc]
        if wants_preview(request):
            formsets = [*formsets, PreviewStep(request, obj.pk, list(formsets))]
        return formsets, inlines

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        context["rule_preview"] = getattr(request, RESULT, None)
        context["show_preview"] = True
        return super().render_change_form(request, context, *args, **kwargs)  # type: ignore[misc]
