"""
Partners in the admin: their own provider's rows, through every admin path.

A partner is a staff user with a ``PartnerAccount``: one provider's person.
Given a model's permissions (say "change programme"), a partner may use them
on their own provider's rows only. ``PartnerScopedAdmin`` is mixed into the
model admins of rows that belong to a provider (programmes, their criteria,
providers themselves) and holds the rule in one place:

* the changelist, search, autocomplete and every bulk action (delete, the
  recompute) work on ``get_queryset``, which holds only the partner's rows;
* a change, delete or history page asked for another provider's row (or for
  none at all: the same answer) is refused with 403, and so is a revert
  (simple_history's ``history_form_view``, which does not use the queryset);
* the foreign keys that name a provider or a programme offer only the
  partner's, so nothing can be added to or moved to another provider, and a
  save is checked once more before it is written.

Superusers and other staff (no ``PartnerAccount``) are not limited.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import ForeignKey, Model, QuerySet
from django.forms import ModelChoiceField
from django.http import Http404, HttpRequest, HttpResponse

from programs.models import Programme, Provider
from programs.staff import match_report

#: The request attribute that keeps the partner's provider for the request.
PARTNER_PROVIDER = "_partner_provider_id"


def partner_provider(request: HttpRequest) -> int | None:
    """Return the provider a partner is limited to (None for other staff), once a request."""
    if not hasattr(request, PARTNER_PROVIDER):
        setattr(
            request, PARTNER_PROVIDER, match_report.partner_provider_id(request.user)
        )
    provider_id: int | None = getattr(request, PARTNER_PROVIDER)
    return provider_id


class PartnerScopedAdmin:
    """Limit partners to their own provider's rows (mixed in before the ModelAdmin)."""

    #: The lookup from this admin's model to its provider's id.
    partner_lookup: str
    model: type[Model]

    def provider_of(self, obj: Any) -> int | None:
        """Return the provider id of a row (or of an old version of one)."""
        raise NotImplementedError

    def partner_may(self, request: HttpRequest, obj: Any) -> bool:
        provider_id = partner_provider(request)
        return (
            provider_id is None or obj is None or self.provider_of(obj) == provider_id
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset: QuerySet[Any] = super().get_queryset(request)  # type: ignore[misc]
        if (provider_id := partner_provider(request)) is not None:
            queryset = queryset.filter(**{self.partner_lookup: provider_id})
        return queryset

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.partner_may(request, obj) and super().has_view_permission(  # type: ignore[misc]
            request, obj
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.partner_may(request, obj) and super().has_change_permission(  # type: ignore[misc]
            request, obj
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.partner_may(request, obj) and super().has_delete_permission(  # type: ignore[misc]
            request, obj
        )

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        obj = super().get_object(request, object_id, from_field)  # type: ignore[misc]
        if obj is None and partner_provider(request) is not None:
            # Another provider's row, or none: one answer, so a partner cannot
            # tell them apart (Django would redirect with "does not exist").
            raise PermissionDenied
        return obj

    def refuse_other_providers_row(self, request: HttpRequest, object_id: str) -> None:
        """Refuse a partner a row that exists now and is not their provider's.

        simple_history's history pages find old versions without the
        queryset; a row deleted since is judged by its old version instead
        (``has_*_permission``).
        """
        if partner_provider(request) is None:
            return
        try:
            rows = self.model._default_manager.filter(pk=unquote(object_id))
            exists = rows.exists()
        except (ValueError, ValidationError):
            raise Http404 from None
        if (
            exists
            and not self.get_queryset(request).filter(pk=unquote(object_id)).exists()
        ):
            raise PermissionDenied

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponse:
        self.refuse_other_providers_row(request, object_id)
        response: HttpResponse = super().history_view(  # type: ignore[misc]
            request, object_id, extra_context
        )
        return response

    def history_form_view(
        self,
        request: HttpRequest,
        object_id: str,
        version_id: str,
        extra_context: Any = None,
    ) -> HttpResponse:
        self.refuse_other_providers_row(request, object_id)
        response: HttpResponse = super().history_form_view(  # type: ignore[misc]
            request, object_id, version_id, extra_context
        )
        return response

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        if (provider_id := partner_provider(request)) is not None:
            if db_field.related_model is Provider:
                kwargs["queryset"] = Provider.objects.filter(pk=provider_id)
            elif db_field.related_model is Programme:
                kwargs["queryset"] = Programme.objects.filter(provider_id=provider_id)
        field: ModelChoiceField[Any] | None = super().formfield_for_foreignkey(  # type: ignore[misc]
            db_field, request, **kwargs
        )
        return field

    def save_model(
        self, request: HttpRequest, obj: Any, form: Any, change: bool
    ) -> None:
        if not self.partner_may(request, obj):
            raise PermissionDenied
        super().save_model(request, obj, form, change)  # type: ignore[misc]
