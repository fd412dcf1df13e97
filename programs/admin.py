from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Q, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext, pgettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from programs.api import keys
from programs.catalogue import scenarios, store
from programs.engine import contract, matching, rules, sql
from programs.models import (
    ApiKey,
    BusinessProfile,
    Criterion,
    PartnerAccount,
    Programme,
    Provider,
    Source,
    StoredResult,
)
from programs.staff import charts, exports, match_report
from programs.staff.forms import ReportFilterForm

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django_stubs_ext import StrPromise

# -- forms --------------------------------------------------------------------


def value_as_text(value: Any) -> str:
    """Return a stored criterion value as the admin types it."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


class CriterionForm(forms.ModelForm):
    """A criterion whose value is typed as text and checked against its field."""

    value = forms.CharField(
        label=_("value"),
        help_text=lazy(rules.value_help, str)(),
    )

    class Meta:
        model = Criterion
        fields = [
            "group",
            "required",
            "field",
            "operator",
            "value",
            "basis",
            "explanation_en",
            "explanation_zh_hans",
        ]
        widgets = {
            "explanation_en": forms.Textarea(attrs={"rows": 2, "cols": 30}),
            "explanation_zh_hans": forms.Textarea(attrs={"rows": 2, "cols": 30}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["value"] = value_as_text(self.instance.value)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # ModelForm.clean() returns cleaned_data
        field_name, operator, value = (
            cleaned.get("field"),
            cleaned.get("operator"),
            cleaned.get("value"),
        )
        if field_name and operator and value is not None:
            try:
                canonical = rules.clean_criterion_value(field_name, operator, value)
            except rules.RuleError as error:
                for part, problems in error.errors.items():
                    for problem in problems:
                        self.add_error(part if part in self.fields else None, problem)
            else:
                cleaned["value"] = rules.value_to_json(canonical)
        return cleaned


def programme_version(pk: int) -> str:
    """Return a digest of a programme's saved content: its row, criteria and sources.

    Any change to them changes the digest, however it was made (the admin,
    ``QuerySet.update()``, a history revert, the catalogue loader, SQL);
    ``updated_at`` is left out, so a save that changes nothing does not.
    Three queries.
    """
    programme_fields = [
        f.attname for f in Programme._meta.concrete_fields if f.name != "updated_at"
    ]
    content = [
        list(Programme.objects.filter(pk=pk).values_list(*programme_fields)),
        list(Criterion.objects.filter(programme_id=pk).order_by("pk").values_list()),
        list(Source.objects.filter(programme_id=pk).order_by("pk").values_list()),
    ]
    return hashlib.sha256(repr(content).encode()).hexdigest()


def last_saved_at(pk: int) -> datetime.datetime:
    """Return when a programme, one of its criteria or sources was last saved."""
    times = [
        Programme.objects.filter(pk=pk).values_list("updated_at", flat=True).first(),
        *(
            model.history.filter(**{lookup: pk})
            .order_by("-history_date")
            .values_list("history_date", flat=True)
            .first()
            for model, lookup in (
                (Programme, "id"),
                (Criterion, "programme_id"),
                (Source, "programme_id"),
            )
        ),
    ]
    return max(t for t in times if t is not None)


class ProgrammeForm(forms.ModelForm):
    """The programme change form, refused when the programme changed since it was loaded.

    ``loaded_version`` carries ``programme_version`` as the page was
    loaded. On POST, ``clean`` locks the programme's row (SELECT ... FOR
    UPDATE, held by the admin's transaction until the save is done) and
    compares the version now: if someone else saved the programme, its
    criteria or sources meanwhile, the form gets a non-field error and the
    admin saves nothing, inlines included. A POST without the field (a
    script) is not checked.
    """

    needs = forms.MultipleChoiceField(
        label=_("needs addressed"),
        choices=contract.NEEDS,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    needs_assumed = forms.MultipleChoiceField(
        label=_("needs addressed by our assumption"),
        choices=contract.NEEDS,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_(
            "Of the needs above, those the sources do not state: the owner is told "
            "they are our assumption."
        ),
    )
    loaded_version = forms.CharField(
        widget=forms.HiddenInput, required=False, max_length=64
    )

    class Meta:
        model = Programme
        fields = ["needs", "needs_assumed"]  # the admin's fieldsets add the rest

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["loaded_version"] = programme_version(self.instance.pk)

    def clean_needs(self) -> list[str]:
        return sorted(self.cleaned_data["needs"])

    def clean_needs_assumed(self) -> list[str]:
        assumed = set(self.cleaned_data["needs_assumed"])
        if assumed - set(self.cleaned_data.get("needs", ())):
            raise forms.ValidationError(
                _("Tick a need here only if it is also ticked under needs addressed."),
                code="not_addressed",
            )
        return sorted(assumed)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # ModelForm.clean() returns cleaned_data
        loaded = cleaned.get("loaded_version")
        if self.instance.pk and loaded:
            if transaction.get_connection().in_atomic_block:
                list(
                    Programme.objects.select_for_update()
                    .filter(pk=self.instance.pk)
                    .values_list("pk")
                )
            if programme_version(self.instance.pk) != loaded:
                saved = timezone.localtime(last_saved_at(self.instance.pk))
                when = (
                    saved.strftime("%H:%M")
                    if saved.date() == timezone.localdate()
                    else saved.strftime("%Y-%m-%d %H:%M")
                )
                raise forms.ValidationError(
                    _(
                        "Someone else saved this programme at %(time)s while you were "
                        "editing. Your changes were not saved: reload the page to see "
                        "theirs, then make your changes again."
                    ),
                    code="edited_meanwhile",
                    params={"time": when},
                )
        return cleaned


# -- inlines and filters ----------------------------------------------------------


class CriterionInline(admin.StackedInline):
    model = Criterion
    form = CriterionForm
    extra = 0
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("group", "required", "basis"),
                    ("field", "operator", "value"),
                ]
            },
        ),
        (
            _("Explanation shown to users"),
            {"fields": [("explanation_en", "explanation_zh_hans")]},
        ),
    ]


class SourceInline(admin.TabularInline):
    model = Source
    extra = 0


class OpenNowFilter(admin.SimpleListFilter):
    title = _("open today")
    parameter_name = "open"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, StrPromise]]:
        return [("yes", _("Open today")), ("no", _("Not open today"))]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Programme]
    ) -> QuerySet[Programme]:
        today = timezone.localdate()
        open_now = (
            Q(status=Programme.Status.ACTIVE)
            & (Q(opens_on__isnull=True) | Q(opens_on__lte=today))
            & (Q(closes_on__isnull=True) | Q(closes_on__gte=today))
        )
        if self.value() == "yes":
            return queryset.filter(open_now)
        if self.value() == "no":
            return queryset.exclude(open_now)
        return queryset


# -- impact of a rule change ----------------------------------------------------------


def describe_impact(
    before: matching.Programme | None, after: matching.Programme
) -> tuple[str, dict[str, int]]:
    """Return a sentence and figures on how stored profiles' outcomes moved."""
    profiles = BusinessProfile.objects.all()
    if before is None:
        counts = sql.outcome_counts(profiles, [after])[after.slug]
        figures = {
            "total": sum(counts[o.value] for o in matching.Outcome),
            "became_eligible": counts["eligible"],
            "stopped_eligible": 0,
            "changed_tier": counts["eligible"] + counts["possibly_eligible"],
        }
    else:
        moves = sql.transition_counts(profiles, before, after)
        figures = {
            "total": sum(moves.values()),
            "became_eligible": sum(
                n for (b, a), n in moves.items() if a == "eligible" != b
            ),
            "stopped_eligible": sum(
                n for (b, a), n in moves.items() if b == "eligible" != a
            ),
            "changed_tier": sum(n for (b, a), n in moves.items() if a != b),
        }
    message = gettext(
        "Impact on %(total)s stored profiles: %(became_eligible)s become eligible, "
        "%(stopped_eligible)s stop being eligible, %(changed_tier)s change tier."
    ) % {k: f"{v:,}" for k, v in figures.items()}
    return message, figures


#: The request attribute that carries a programme's rules from before a save.
RULES_BEFORE = "_rules_before"


class ImpactMixin:
    """Capture a programme's rules before a save and report the impact after it."""

    # Provided by the ModelAdmin this is mixed into.
    message_user: Callable[[HttpRequest, str, int], None]

    def remember_rules(self, request: HttpRequest, programme_pk: int | None) -> None:
        setattr(
            request,
            RULES_BEFORE,
            (
                store.programme_rules(store.programme_queryset().get(pk=programme_pk))
                if programme_pk
                else None
            ),
        )

    def report_impact(self, request: HttpRequest, programme_pk: int) -> None:
        after = store.programme_rules(store.programme_queryset().get(pk=programme_pk))
        message, _figures = describe_impact(getattr(request, RULES_BEFORE, None), after)
        self.message_user(request, message, messages.INFO)


# -- model admins -------------------------------------------------------------------------


@admin.register(Provider)
class ProviderAdmin(SimpleHistoryAdmin):
    list_display = ["name_en", "name_zh_hans", "kind", "slug"]
    list_filter = ["kind"]
    search_fields = ["name_en", "name_zh_hans", "slug"]


@admin.action(
    description=_("Recompute stored results for the selected programmes"),
    permissions=["change"],
)
def rematch_selected(
    modeladmin: ProgrammeAdmin, request: HttpRequest, queryset: QuerySet[Programme]
) -> None:

    report = sql.rematch(slugs=list(queryset.values_list("slug", flat=True)))
    modeladmin.message_user(request, report.describe(), messages.INFO)


@admin.register(Programme)
class ProgrammeAdmin(ImpactMixin, SimpleHistoryAdmin):
    form = ProgrammeForm
    actions = [rematch_selected]
    inlines = [CriterionInline, SourceInline]
    list_display = [
        "slug",
        "name_en",
        "provider",
        "opens_on",
        "closes_on",
        "status",
        "criteria_count",
    ]
    list_filter = ["provider", "status", OpenNowFilter]
    search_fields = ["slug", "name_en", "name_zh_hans", "summary_en", "summary_zh_hans"]
    readonly_fields = ["updated_at", "rule_history", "scenario_results"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "slug",
                    "provider",
                    ("name_en", "name_zh_hans"),
                    "status",
                    "loaded_version",
                ]
            },
        ),
        (
            _("What it offers"),
            {
                "fields": [
                    ("summary_en", "summary_zh_hans"),
                    ("benefits_en", "benefits_zh_hans"),
                    ("needs", "needs_assumed"),
                    ("max_amount_cny", "days_to_money", "days_to_money_assumed"),
                ]
            },
        ),
        (
            _("How to apply"),
            {
                "fields": [
                    ("apply_channel_en", "apply_channel_zh_hans"),
                    ("apply_steps_en", "apply_steps_zh_hans"),
                    "apply_url",
                ]
            },
        ),
        (
            _("Availability"),
            {
                "fields": [
                    ("announced_on", "opens_on", "closes_on", "closes_on_assumed"),
                    "last_verified_on",
                    ("discretionary_en", "discretionary_zh_hans"),
                ]
            },
        ),
        (_("Scenarios"), {"fields": ["scenario_results"]}),
        (_("Rule changes"), {"fields": ["rule_history", "updated_at"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Programme]:
        return (
            super()
            .get_queryset(request)
            .select_related("provider")
            .prefetch_related("criteria")
        )

    @admin.display(description=_("criteria"))
    def criteria_count(self, obj: Programme) -> int:
        return len(obj.criteria.all())

    @admin.display(description=_("recent rule changes"))
    def rule_history(self, obj: Programme) -> str:
        if not obj.pk:
            return "-"
        records = Criterion.history.filter(programme_id=obj.pk).select_related(
            "history_user"
        )[:20]
        if not records:
            return gettext("No changes yet.")
        kinds = {
            "+": gettext("added"),
            "~": gettext("changed"),
            "-": gettext("deleted"),
        }
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                '<li>{} · {} · {} <code>{} {} {}</code> · <a href="{}">{}</a></li>',
                (
                    (
                        timezone.localtime(r.history_date).strftime("%Y-%m-%d %H:%M"),
                        r.history_user or gettext("system"),
                        kinds[r.history_type],
                        r.field,
                        r.operator,
                        value_as_text(r.value),
                        reverse("admin:programs_criterion_history", args=[r.id]),
                        gettext("history and revert"),
                    )
                    for r in records
                ),
            ),
        )

    @admin.display(description=_("scenario results"))
    def scenario_results(self, obj: Programme) -> str:
        """Show the programme's scenarios run against its rules as saved."""
        if not obj.pk:
            return "-"
        catalogue = store.current_catalogue()
        try:
            loaded = scenarios.load_scenarios(
                programmes=[p.slug for p in catalogue.programmes]
            )
        except scenarios.ScenarioError as error:
            return format_html(
                '<p class="errornote">{}</p><ul>{}</ul>',
                gettext("The scenario file has problems, so no scenario was run:"),
                format_html_join("", "<li>{}</li>", ((p,) for p in error.problems)),
            )
        results = scenarios.run_scenarios(
            (s for s in loaded if s.programme == obj.slug), catalogue.programmes
        )
        return render_scenarios(results)

    def save_model(
        self, request: HttpRequest, obj: Programme, form: ProgrammeForm, change: bool
    ) -> None:
        self.remember_rules(request, obj.pk if change else None)
        super().save_model(request, obj, form, change)

    def save_related(
        self,
        request: HttpRequest,
        form: ProgrammeForm,
        formsets: Iterable[BaseInlineFormSet[Any, Programme, Any]],
        change: bool,
    ) -> None:
        super().save_related(request, form, formsets, change)
        self.report_impact(request, form.instance.pk)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "impact/",
                self.admin_site.admin_view(self.impact_view),
                name="programs_programme_impact",
            ),
            *super().get_urls(),
        ]

    def impact_view(self, request: HttpRequest) -> TemplateResponse:
        """Show every programme's outcome counts over all stored profiles (one query).

        A partner sees only their own provider's programmes.
        """
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        catalogue = store.current_catalogue()
        programmes = catalogue.programmes
        if (provider_id := match_report.partner_provider_id(request.user)) is not None:
            own = set(
                Programme.objects.filter(provider_id=provider_id).values_list(
                    "slug", flat=True
                )
            )
            programmes = tuple(p for p in programmes if p.slug in own)
        counts = sql.outcome_counts(BusinessProfile.objects.all(), programmes)
        rows = [(p, counts[p.slug]) for p in programmes]
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Impact on stored profiles"),
            "opts": self.model._meta,
            "rows": rows,
            "catalogue_version": catalogue.version,
            "total": BusinessProfile.objects.count(),
        }
        return TemplateResponse(
            request, "admin/programs/programme/impact.html", context
        )


def decided_by_text(fields: Iterable[str]) -> str:
    """Return what decided an outcome as staff read it: field labels, or the provider."""
    names = [
        gettext("the provider's own selection")
        if name == scenarios.DISCRETION
        else contract.FIELDS[name].name_in_sentence
        for name in fields
    ]
    return gettext("decided by %(what)s") % {"what": ", ".join(names)}


def lines_html(lines: list[str]) -> str:
    """Return lines one below the other, the first (a tier) kept on one line."""
    return format_html_join(
        "",
        '<div class="{}">{}</div>',
        (("nowrap" if i == 0 else "", line) for i, line in enumerate(lines)),
    )


def render_scenarios(results: list[scenarios.ScenarioResult]) -> str:
    """Return a programme's scenario results as a table: what each expects, what it
    gets, and whether it passes; a failure says which criteria decided it."""
    if not results:
        return gettext(
            "This programme has no scenarios yet: add them to "
            "programs/catalogue/scenarios.toml."
        )
    passed = sum(r.passed for r in results)
    rows = []
    for r in results:
        s, m = r.scenario, r.match
        expected = [str(s.expected.label)]
        if s.decided_by:
            expected.append(decided_by_text([s.decided_by]))
        if s.availability is not None:
            expected.append(str(matching.AVAILABILITY_LABELS[s.availability]))
        actual: list[str] = []
        if m is not None:
            actual.append(str(m.tier.label))
            if not r.passed:
                actual.extend(result.reason for result in r.deciding)
                if m.provider_decides:
                    actual.append(decided_by_text([scenarios.DISCRETION]))
            if s.availability is not None:
                actual.append(str(matching.AVAILABILITY_LABELS[m.availability]))
        rows.append(
            (
                "passed" if r.passed else "failed",
                s.description,
                gettext("Follows from: %(fact)s (%(source)s)")
                % {"fact": s.fact, "source": s.source},
                s.as_of.isoformat(),
                lines_html(expected),
                lines_html(actual),
                gettext("passes") if r.passed else gettext("fails"),
            )
        )
    return format_html(
        '<p>{}</p><table class="scenarios"><thead><tr>{}</tr></thead>'
        "<tbody>{}</tbody></table>",
        ngettext(
            "%(passed)s of %(total)s scenario passes.",
            "%(passed)s of %(total)s scenarios pass.",
            len(results),
        )
        % {"passed": passed, "total": len(results)},
        format_html_join(
            "",
            '<th scope="col">{}</th>',
            (
                (pgettext("scenario table heading", "Scenario"),),
                (pgettext("scenario table heading", "As of"),),
                (pgettext("scenario table heading", "Expected"),),
                (pgettext("scenario table heading", "Actual"),),
                (pgettext("scenario table heading", "Result"),),
            ),
        ),
        format_html_join(
            "",
            '<tr class="scenario-{}"><td>{}<div class="quiet small">{}</div></td>'
            '<td class="nowrap">{}</td><td>{}</td><td>{}</td>'
            '<td class="nowrap"><strong>{}</strong></td></tr>',
            rows,
        ),
    )


@admin.register(Criterion)
class CriterionAdmin(ImpactMixin, SimpleHistoryAdmin):
    """Criteria on their own, so that each has a history that can be reverted."""

    form = CriterionForm
    list_display = [
        "programme",
        "group",
        "required",
        "field",
        "operator",
        "value",
        "basis",
    ]
    list_filter = ["programme__provider", "basis", "required", "field"]
    search_fields = [
        "programme__slug",
        "field",
        "explanation_en",
        "explanation_zh_hans",
    ]
    list_select_related = ["programme"]

    def save_model(
        self, request: HttpRequest, obj: Criterion, form: CriterionForm, change: bool
    ) -> None:
        self.remember_rules(request, obj.programme_id)
        super().save_model(request, obj, form, change)
        self.report_impact(request, obj.programme_id)


def not_partner(request: HttpRequest) -> bool:
    return match_report.partner_provider_id(request.user) is None


class RowExporter(Protocol):
    """A model admin that exports the result rows behind its selected objects."""

    def export_rows(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> QuerySet[StoredResult]: ...


@admin.action(description=_("Export selected as CSV"), permissions=["view"])
def export_csv(
    modeladmin: RowExporter, request: HttpRequest, queryset: QuerySet[Any]
) -> HttpResponseBase:
    return exports.csv_response(
        modeladmin.export_rows(request, queryset), "reliefmatch-selected.csv"
    )


@admin.action(description=_("Export selected as XLSX"), permissions=["view"])
def export_xlsx(
    modeladmin: RowExporter, request: HttpRequest, queryset: QuerySet[Any]
) -> HttpResponseBase:
    return exports.xlsx_response(
        modeladmin.export_rows(request, queryset), "reliefmatch-selected.xlsx"
    )


@admin.register(BusinessProfile)
class BusinessProfileAdmin(admin.ModelAdmin):
    """Stored profiles: for internal staff only, never for partners."""

    list_display = [
        "pk",
        "business_type",
        "province",
        "size_class",
        "urgency",
        "created_at",
    ]
    list_filter = ["business_type", "size_class", "urgency", "province"]
    date_hierarchy = "created_at"
    exclude = ["token_hash"]
    actions = [export_csv, export_xlsx]

    def has_view_permission(
        self, request: HttpRequest, obj: BusinessProfile | None = None
    ) -> bool:
        return not_partner(request) and super().has_view_permission(request, obj)

    def has_change_permission(
        self, request: HttpRequest, obj: BusinessProfile | None = None
    ) -> bool:
        return not_partner(request) and super().has_change_permission(request, obj)

    def has_delete_permission(
        self, request: HttpRequest, obj: BusinessProfile | None = None
    ) -> bool:
        return not_partner(request) and super().has_delete_permission(request, obj)

    def export_rows(
        self, request: HttpRequest, queryset: QuerySet[BusinessProfile]
    ) -> QuerySet[StoredResult]:
        return match_report.report_queryset(user=request.user).filter(
            profile__in=queryset
        )


@admin.register(StoredResult)
class StoredResultAdmin(admin.ModelAdmin):
    """What each business was told; partners see their provider's rows only."""

    list_display = [
        "profile",
        "programme",
        "outcome",
        "near_miss",
        "availability",
        "as_of",
        "catalogue_version",
    ]
    list_filter = [
        "outcome",
        "near_miss",
        "availability",
        "programme__provider",
        "programme",
    ]
    list_select_related = ["profile", "programme"]
    actions = [export_csv, export_xlsx]

    def get_queryset(self, request: HttpRequest) -> QuerySet[StoredResult]:
        queryset = super().get_queryset(request)
        if (provider_id := match_report.partner_provider_id(request.user)) is not None:
            queryset = queryset.filter(programme__provider_id=provider_id)
        return queryset

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: StoredResult | None = None
    ) -> bool:
        return False

    def export_rows(
        self, request: HttpRequest, queryset: QuerySet[StoredResult]
    ) -> QuerySet[StoredResult]:
        return match_report.report_queryset(user=request.user).filter(
            pk__in=queryset.values("pk")
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "report/",
                self.admin_site.admin_view(self.report_view),
                name="programs_match_report",
            ),
            path(
                "report/export.<str:fmt>",
                self.admin_site.admin_view(self.report_export),
                name="programs_match_report_export",
            ),
            *super().get_urls(),
        ]

    def filter_form(self, request: HttpRequest) -> ReportFilterForm:
        provider_id = match_report.partner_provider_id(request.user)
        programmes = Programme.objects.select_related("provider").order_by("slug")
        providers = Provider.objects.order_by("name_en")
        if provider_id is not None:
            programmes = programmes.filter(provider_id=provider_id)
            providers = providers.filter(pk=provider_id)
        return ReportFilterForm(
            request.GET or None,
            programmes=[(p.slug, f"{p} ({p.slug})") for p in programmes],
            providers=[(p.slug, str(p)) for p in providers],
        )

    def report_view(self, request: HttpRequest) -> TemplateResponse:
        """The match report: filters, summary counts, charts and export links."""

        match_report.check_access(request.user)
        form = self.filter_form(request)
        report_filters = form.to_filters()
        queryset = match_report.report_queryset(
            user=request.user, filters=report_filters
        )
        summary = match_report.summary(
            queryset,
            match_report.purged_counts(user=request.user, filters=report_filters),
        )
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Match report"),
            "opts": self.model._meta,
            "form": form,
            "summary": summary,
            "runway_pct": summary.runway_cumulative_pct(),
            "survey": match_report.SURVEY_CUMULATIVE,
            "chart_eligible": charts.svg(charts.eligible_per_programme(summary)),
            "chart_runway": charts.svg(charts.runway_vs_survey(summary)),
            "query": urlencode(report_filters.as_query()),
            "partner": match_report.partner_provider_id(request.user) is not None,
        }
        return TemplateResponse(request, "admin/programs/match_report.html", context)

    def report_export(self, request: HttpRequest, fmt: str) -> HttpResponseBase:
        match_report.check_access(request.user)
        report_filters = self.filter_form(request).to_filters()
        queryset = match_report.report_queryset(
            user=request.user, filters=report_filters
        )
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        if fmt == "csv":
            return exports.csv_response(queryset, f"reliefmatch-matches-{stamp}.csv")
        if fmt == "xlsx":
            return exports.xlsx_response(queryset, f"reliefmatch-matches-{stamp}.xlsx")
        if fmt == "pdf":
            pdf = exports.render_summary_pdf(
                match_report.summary(
                    queryset,
                    match_report.purged_counts(
                        user=request.user, filters=report_filters
                    ),
                ),
                title=gettext("ReliefMatch match report"),
                filters_text=describe_filters(report_filters),
            )
            response = HttpResponse(pdf, content_type="application/pdf")
            response["Content-Disposition"] = (
                f'attachment; filename="reliefmatch-summary-{stamp}.pdf"'
            )
            return response
        raise Http404("Unknown export format.")


def describe_filters(report_filters: match_report.ReportFilters) -> str:
    parts = [f"{name}={value}" for name, value in report_filters.as_query().items()]
    return ", ".join(parts) if parts else gettext("no filters: every row you may see")


@admin.register(PartnerAccount)
class PartnerAccountAdmin(admin.ModelAdmin):
    list_display = ["user", "provider"]
    list_select_related = ["user", "provider"]
    autocomplete_fields = ["user"]


@admin.action(description=_("Revoke selected keys"), permissions=["change"])
def revoke_keys(
    modeladmin: ApiKeyAdmin, request: HttpRequest, queryset: QuerySet[ApiKey]
) -> None:
    revoked = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    modeladmin.message_user(
        request, gettext("%(n)s keys revoked.") % {"n": revoked}, messages.SUCCESS
    )


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys for bulk screening: stored hashed, shown once when created, revocable."""

    list_display = [
        "name",
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix"]
    fields = [
        "name",
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    readonly_fields = [
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    actions = [revoke_keys]

    def save_model(
        self, request: HttpRequest, obj: ApiKey, form: Any, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # Only signed-in staff get this far: the user is never anonymous.
        row, key = keys.api_key_create(
            name=obj.name, created_by=cast("User", request.user)
        )
        obj.pk = row.pk
        obj.prefix, obj.key_hash, obj.created_at = (
            row.prefix,
            row.key_hash,
            row.created_at,
        )
        obj._state.adding = False
        self.message_user(
            request,
            gettext(
                "Copy this key now; it is not stored and will not be shown again: %(key)s"
            )
            % {"key": key},
            messages.WARNING,
        )

    def has_delete_permission(
        self, request: HttpRequest, obj: ApiKey | None = None
    ) -> bool:
        return False  # revoke instead, so the record of who had a key stays
