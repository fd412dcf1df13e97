"""
The admin site: Django's own, with change lists that never fail on a bad filter.

Django's change list turns most bad filter values into "incorrect lookup
parameters" (the list is shown unfiltered, at ``?e=1``), but not all: a
date-hierarchy year such as ``?created_at__year=99999999999999999999``
overflows, ``?created_at__year=9999`` runs past the calendar's end, and
``?created_at__gte=0001-01-01`` does so on SQLite when it is turned into UTC,
all as uncaught errors (a 500). Here every registered model admin, ours and
third-party ones alike (django-axes' logs have a date hierarchy too), gets a
change list that treats those the same way, and the user is told in words
why the whole list is shown.

``AdminConfig`` installs ``AdminSite`` as the default ``admin.site`` (it
replaces ``django.contrib.admin`` in INSTALLED_APPS); nothing else changes.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, ChangeList
from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext, gettext_lazy


class AdminConfig(DjangoAdminConfig):
    default_site = "reliefmatch.admin_site.AdminSite"


@functools.cache
def robust_changelist(changelist: type[ChangeList]) -> type[ChangeList]:
    """Return the change list class with out-of-range filters refused as incorrect."""

    class RobustChangeList(changelist):  # type: ignore[valid-type,misc]  # a class made at run time
        def get_filters(self, request: HttpRequest) -> Any:
            try:
                return super().get_filters(request)
            except (OverflowError, ValueError) as error:
                # A date-hierarchy year, month or day past the calendar's ends
                # or too big for the platform's integers.
                raise IncorrectLookupParameters(error) from error

        def get_queryset(
            self, request: HttpRequest, exclude_parameters: Any = None
        ) -> QuerySet[Any]:
            queryset = super().get_queryset(request, exclude_parameters)
            # Values are converted for the database only when the SQL is
            # written: ?created_at__gte=0001-01-01 is a valid date, but in UTC
            # (as SQLite stores it) it falls before the calendar's first day.
            # An integer past 64 bits (?id__in=99999999999999999999) is
            # written, but SQLite refuses it when the query runs.
            compiler = queryset.query.get_compiler(queryset.db)
            try:
                _sql, params = compiler.as_sql()
            except (EmptyResultSet, FullResultSet):
                return queryset  # the query is fine: it matches nothing, or everything
            except (OverflowError, ValueError) as error:
                raise IncorrectLookupParameters(error) from error
            low, high = compiler.connection.ops.integer_field_range("BigIntegerField")
            for value in params:
                if type(value) is int and not low <= value <= high:
                    raise IncorrectLookupParameters(
                        f"{value} is too large for the database."
                    )
            return queryset

    RobustChangeList.__qualname__ = RobustChangeList.__name__ = changelist.__name__
    return RobustChangeList


class RobustChangeListMixin:
    """Refuse out-of-range filters as incorrect, and say so when the list is reset."""

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return robust_changelist(super().get_changelist(request, **kwargs))  # type: ignore[misc]  # ModelAdmin's, after this mixin

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        try:
            return super().get_changelist_instance(request)  # type: ignore[misc]  # ModelAdmin's
        except IncorrectLookupParameters:
            # Django redirects to the unfiltered list at ?e=1; a second failure
            # there is its "database error" page, which needs no message.
            if ERROR_FLAG not in request.GET:
                messages.warning(
                    request,
                    gettext(
                        "A filter in the address could not be used (for example a "
                        "date out of range or a field that does not exist), so the "
                        "whole list is shown."
                    ),
                )
            raise


class AdminSite(admin.AdminSite):
    """Django's admin site, whose model admins all get ``RobustChangeListMixin``."""

    # The product's name, not "Django administration", at the top of every page.
    site_header = gettext_lazy("ReliefMatch administration")
    site_title = gettext_lazy("ReliefMatch administration")
    index_title = gettext_lazy("Programmes, rules and reports")

    def register(
        self,
        model_or_iterable: Any,
        admin_class: type[admin.ModelAdmin[Any]] | None = None,
        **options: Any,
    ) -> None:
        base = admin_class or admin.ModelAdmin
        if not issubclass(base, RobustChangeListMixin):
            base = type(
                base.__name__,
                (RobustChangeListMixin, base),
                {"__module__": base.__module__, "__doc__": base.__doc__},
            )
        super().register(model_or_iterable, base, **options)
