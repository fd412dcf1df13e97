from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator, capfirst
from django.utils.translation import gettext, ngettext, pgettext
from django.utils.translation import gettext_lazy as _
from django_tasks_db.models import DBTaskResult
from simple_history.admin import SimpleHistoryAdmin

from programs import jobs
from programs.api import keys
from programs.catalogue import link_checks, preview, saved_scenarios, scenarios, store
from programs.engine import contract, matching, rules, sql, text
from programs.engine.text import list_separator
from programs.journey import personal_report
from programs.models import (
    ApiKey,
    BackgroundJob,
    BusinessProfile,
    Criterion,
    LinkCheck,
    PartnerAccount,
    Programme,
    Provider,
    SavedScenario,
    Source,
    StoredResult,
    WrongAnswerReport,
)
from programs.staff import (
    charts,
    criterion_value,
    exports,
    match_report,
    rule_preview,
)
from programs.staff.forms import ReportFilterForm, report_filter_form
from programs.staff.partner_scope import PartnerScopedAdmin

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

    value = criterion_value.CriterionValueField()

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
        value = self.fields["value"]
        assert isinstance(value, criterion_value.CriterionValueField)
        value.bind(self["field"].value(), self["operator"].value())

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


class NeedsCheckingFilter(admin.SimpleListFilter):
    """Programmes whose sources need checking, for any or one reason."""

    title = _("sources need checking")
    parameter_name = "needs_checking"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        reasons = link_checks.Reason
        return [
            ("any", gettext("For any reason")),
            (reasons.BROKEN, str(reasons.BROKEN.label)),
            (reasons.CHANGED, str(reasons.CHANGED.label)),
            (reasons.STALE, link_checks.stale_text(settings.SOURCES_STALE_DAYS)),
            ("no", gettext("Nothing to check")),
        ]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Programme]
    ) -> QuerySet[Programme]:
        value = self.value()
        if value is None:
            return queryset
        reason = (
            link_checks.Reason(value) if value in link_checks.Reason.values else None
        )
        flagged = link_checks.programmes_needing_review(
            Programme.objects.all(), reason=reason
        )
        if value == "no":
            return queryset.exclude(pk__in=flagged)
        return queryset.filter(pk__in=flagged)


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
        "Impact of %(programme)s on %(total)s stored profiles: %(became_eligible)s "
        "become eligible, %(stopped_eligible)s stop being eligible, %(changed_tier)s "
        "change tier."
    ) % {
        "programme": jobs.quoted(after.name),
        **{k: f"{v:,}" for k, v in figures.items()},
    }
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
        """Report the impact, and queue a recompute of stored results if the rules moved."""
        before = getattr(request, RULES_BEFORE, None)
        after = store.programme_rules(store.programme_queryset().get(pk=programme_pk))
        message, _figures = describe_impact(before, after)
        self.message_user(request, message, messages.INFO)
        if before != after:
            jobs.recompute_after_commit(
                programme_id=programme_pk, requested_by=request.user
            )
            self.message_user(
                request,
                gettext(
                    "The stored results of %(programme)s are being recomputed with "
                    "the new rules in the background; “Background jobs” shows the "
                    "progress."
                )
                % {"programme": jobs.quoted(after.name)},
                messages.INFO,
            )


def warn_long_texts(request: HttpRequest, programme: Programme) -> None:
    """Warn, without refusing the save, about programme texts over the soft limit."""
    if texts := personal_report.long_texts(programme):
        messages.warning(
            request,
            gettext(
                "Saved, but these texts are longer than %(limit)s characters: "
                "%(texts)s. Very long texts make the programme's page and the "
                "personal report of every business it matches long and hard to "
                "read (they print in full, across pages). Shorten them if you can."
            )
            % {
                "limit": f"{personal_report.LONG_TEXT_CHARS:,}",
                "texts": list_separator().join(texts),
            },
        )


# -- model admins -------------------------------------------------------------------------


@admin.register(Provider)
class ProviderAdmin(PartnerScopedAdmin, SimpleHistoryAdmin):
    list_display = ["name_en", "name_zh_hans", "kind", "slug"]
    list_filter = ["kind"]
    search_fields = ["name_en", "name_zh_hans", "slug"]
    partner_lookup = "pk"  # a partner sees and changes their own provider only

    def provider_of(self, obj: Provider) -> int | None:
        return obj.pk

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not_partner(request) and super().has_add_permission(request)


@admin.action(
    description=_("Recompute stored results for the selected programmes"),
    permissions=["change"],
)
def rematch_selected(
    modeladmin: ProgrammeAdmin, request: HttpRequest, queryset: QuerySet[Programme]
) -> None:
    """Queue a recompute per programme for a worker; the request returns at once."""
    programmes = list(queryset.order_by("slug"))
    queued = jobs.enqueue_recompute(
        programme_ids=[p.pk for p in programmes], requested_by=request.user
    )
    started_ids = {job.programme_id for job, new in queued if new}
    started = [p for p in programmes if p.pk in started_ids]
    waiting = [p for p in programmes if p.pk not in started_ids]
    if started:
        modeladmin.message_user(
            request,
            gettext(
                "Started recomputing the stored results of %(programmes)s in the "
                "background; “Background jobs” shows the progress."
            )
            % {"programmes": jobs.programme_names(started)},
            messages.SUCCESS,
        )
    if waiting:
        modeladmin.message_user(
            request,
            gettext(
                "The stored results of %(programmes)s are already waiting to be "
                "recomputed; that job will use the newest rules."
            )
            % {"programmes": jobs.programme_names(waiting)},
            messages.INFO,
        )


@admin.action(description=_("Mark sources verified"), permissions=["change"])
def mark_sources_verified(
    modeladmin: ProgrammeAdmin, request: HttpRequest, queryset: QuerySet[Programme]
) -> None:
    """Set "last verified on" to today and take each link's latest content as verified."""
    programmes = list(queryset.order_by("slug"))
    link_checks.mark_verified(programmes)
    modeladmin.message_user(
        request,
        ngettext(
            "Marked the sources of %(count)s programme verified today (%(date)s).",
            "Marked the sources of %(count)s programmes verified today (%(date)s).",
            len(programmes),
        )
        % {"count": len(programmes), "date": timezone.localdate().isoformat()},
        messages.SUCCESS,
    )


@admin.register(Programme)
class ProgrammeAdmin(
    rule_preview.RulePreviewMixin, PartnerScopedAdmin, ImpactMixin, SimpleHistoryAdmin
):
    form = ProgrammeForm
    partner_lookup = "provider_id"  # partners: their own provider's programmes only
    actions = [rematch_selected, mark_sources_verified]
    inlines = [CriterionInline, SourceInline]
    list_display = [
        "slug",
        "name_en",
        "provider",
        "opens_on",
        "closes_on",
        "status",
        "criteria_count",
        "needs_checking",
    ]
    list_filter = ["provider", "status", OpenNowFilter, NeedsCheckingFilter]
    search_fields = ["slug", "name_en", "name_zh_hans", "summary_en", "summary_zh_hans"]
    readonly_fields = [
        "updated_at",
        "rule_history",
        "scenario_results",
        "link_status",
        "owner_reports",
    ]
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
        (_("Link checks"), {"fields": ["link_status"]}),
        (_("Scenarios"), {"fields": ["scenario_results"]}),
        (_("Owners' reports"), {"fields": ["owner_reports"]}),
        (_("Rule changes"), {"fields": ["rule_history", "updated_at"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Programme]:
        return (
            super()
            .get_queryset(request)
            .select_related("provider")
            .prefetch_related("criteria", "sources", "link_checks")
        )

    def provider_of(self, obj: Programme) -> int | None:
        return obj.provider_id

    @admin.display(description=_("criteria"))
    def criteria_count(self, obj: Programme) -> int:
        return len(obj.criteria.all())

    @admin.display(description=_("sources need checking"))
    def needs_checking(self, obj: Programme) -> str | None:
        return link_checks.reasons_sentence(obj) or None

    @admin.display(description=_("latest check of each link"))
    def link_status(self, obj: Programme) -> str:
        """Show each of the programme's links with its latest check."""
        if not obj.pk:
            return "-"
        return render_link_checks(obj)

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
            loaded = saved_scenarios.all_scenarios(
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

    @admin.display(description=_("wrong-answer reports"))
    def owner_reports(self, obj: Programme) -> str:
        """Link to the owners' reports on this programme, and say how many there are."""
        if not obj.pk:
            return "-"
        count = WrongAnswerReport.objects.filter(programme=obj).count()
        if not count:
            return gettext("No owner has reported a wrong answer.")
        return format_html(
            '<a href="{}?{}">{}</a>',
            reverse("admin:programs_wronganswerreport_changelist"),
            urlencode({"programme__id__exact": obj.pk}),
            ngettext(
                "%(count)s report of a wrong answer",
                "%(count)s reports of a wrong answer",
                count,
            )
            % {"count": count},
        )

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
        warn_long_texts(request, form.instance)

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


def link_html(url: str) -> str:
    """Return a stored link as a link when it is a web address, else as text."""
    address = link_checks.web_address(url)
    if address is None:
        return format_html("{}", url)
    return format_html('<a href="{}" rel="noreferrer">{}</a>', address, url)


def link_result_html(link: link_checks.Link, row: LinkCheck | None) -> str:
    """Return a link's latest check as one table row's cells."""
    if row is None:
        return format_html("<td>{}</td><td></td><td></td>", gettext("not checked yet"))
    result = (
        row.get_error_display()
        if row.error
        else gettext("HTTP %(status)s") % {"status": row.status_code}
    )
    if row.broke_since_verified:
        state = gettext("link broken")
    elif row.broken:
        state = gettext("already broken when verified")
    elif row.changed_since_verified:
        state = gettext("content changed since verified")
    else:
        state = gettext("unchanged since verified")
    moved = (
        format_html(
            '<div class="quiet small">{} {}</div>',
            gettext("ends at"),
            link_html(row.final_url),
        )
        if row.final_url and row.final_url != link_checks.web_address(link.url)
        else ""
    )
    detail = (
        format_html('<div class="quiet small">{}</div>', row.error_detail)
        if row.error_detail
        else ""
    )
    return format_html(
        "<td>{}{}{}</td><td><strong>{}</strong></td><td>{}</td>",
        result,
        moved,
        detail,
        state,
        timezone.localtime(row.checked_at).strftime("%Y-%m-%d %H:%M"),
    )


def column_headings(*headings: str) -> str:
    """Return a read-only table's heading cells, escaped."""
    return format_html_join("", '<th scope="col">{}</th>', ((h,) for h in headings))


def render_link_checks(programme: Programme) -> str:
    """Return the programme's links and their latest checks as a table."""
    checks = link_checks.current_checks(programme)
    if not checks:
        return gettext("This programme has no links to check.")
    reasons = link_checks.reasons_sentence(programme)
    summary = (
        gettext("Sources need checking: %(reasons)s.") % {"reasons": reasons}
        if reasons
        else gettext("Nothing to check.")
    )
    return format_html(
        '<p>{}</p><p class="quiet small">{}</p>'
        '<table class="link-checks"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
        summary,
        gettext(
            "Links are checked by a scheduled job. After reading the sources "
            "again, select the programme on the programme list and use the "
            "action “Mark sources verified”."
        ),
        column_headings(
            pgettext("link check table heading", "Link"),
            pgettext("link check table heading", "Result"),
            pgettext("link check table heading", "Since verified"),
            pgettext("link check table heading", "Checked at"),
        ),
        format_html_join(
            "",
            "<tr><td>{}<div>{}</div></td>{}</tr>",
            (
                (
                    LinkCheck.Kind(link.kind).label,
                    link_html(link.url),
                    link_result_html(link, row),
                )
                for link, row in checks
            ),
        ),
    )


def decided_by_text(fields: Iterable[str]) -> str:
    """Return what decided an outcome as staff read it: field labels, or the provider."""
    return gettext("decided by %(what)s") % {"what": preview.decided_by_names(fields)}


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
                s.shown_description,
                gettext("Follows from: %(fact)s (%(source)s)")
                % {"fact": s.shown_fact, "source": s.source},
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
        column_headings(
            pgettext("scenario table heading", "Scenario"),
            pgettext("scenario table heading", "As of"),
            pgettext("scenario table heading", "Expected"),
            pgettext("scenario table heading", "Actual"),
            pgettext("scenario table heading", "Result"),
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
class CriterionAdmin(PartnerScopedAdmin, ImpactMixin, SimpleHistoryAdmin):
    """Criteria on their own, so that each has a history that can be reverted."""

    form = CriterionForm
    partner_lookup = "programme__provider_id"
    list_display = ["programme", "group", "required", "rule", "basis"]
    list_filter = ["programme__provider", "basis", "required", "field"]
    search_fields = [
        "programme__slug",
        "field",
        "explanation_en",
        "explanation_zh_hans",
    ]
    list_select_related = ["programme"]

    @admin.display(description=_("rule"))
    def rule(self, obj: Criterion) -> str:
        return str(obj)

    def provider_of(self, obj: Criterion) -> int | None:
        return (
            Programme.objects.filter(pk=obj.programme_id)
            .values_list("provider_id", flat=True)
            .first()
        )

    def save_model(
        self, request: HttpRequest, obj: Criterion, form: CriterionForm, change: bool
    ) -> None:
        self.remember_rules(request, obj.programme_id)
        super().save_model(request, obj, form, change)
        self.report_impact(request, obj.programme_id)
        warn_long_texts(request, obj.programme)


def not_partner(request: HttpRequest) -> bool:
    return match_report.partner_provider_id(request.user) is None


class RowExporter(Protocol):
    """A model admin that exports the result rows behind its selected objects."""

    def export_rows(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> QuerySet[StoredResult]: ...


def too_many_to_export(
    modeladmin: Any, request: HttpRequest, rows: QuerySet[StoredResult], fmt: str
) -> bool:
    """Say so and return True when the selection is too large to export in the request."""
    limit = settings.EXPORT_QUEUE_ROWS[fmt]
    if (count := rows.count()) <= limit:
        return False
    modeladmin.message_user(
        request,
        gettext(
            "The selection has %(rows)s result rows, more than the %(limit)s an export "
            "from a list writes while you wait. Use the match report's export with "
            "filters instead: a background worker writes it and gives you a link."
        )
        % {"rows": text.format_number(count), "limit": text.format_number(limit)},
        messages.WARNING,
    )
    return True


@admin.action(description=_("Export selected as CSV"), permissions=["view"])
def export_csv(
    modeladmin: RowExporter, request: HttpRequest, queryset: QuerySet[Any]
) -> HttpResponseBase | None:
    rows = modeladmin.export_rows(request, queryset)
    if too_many_to_export(modeladmin, request, rows, "csv"):
        return None
    return exports.csv_response(rows, "reliefmatch-selected.csv")


@admin.action(description=_("Export selected as XLSX"), permissions=["view"])
def export_xlsx(
    modeladmin: RowExporter, request: HttpRequest, queryset: QuerySet[Any]
) -> HttpResponseBase | None:
    rows = modeladmin.export_rows(request, queryset)
    if too_many_to_export(modeladmin, request, rows, "xlsx"):
        return None
    return exports.xlsx_response(rows, "reliefmatch-selected.xlsx")


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
            path(
                "report/files/<int:pk>/",
                self.admin_site.admin_view(self.job_file_view),
                name="programs_job_file",
            ),
            path(
                "report/files/<int:pk>/download",
                self.admin_site.admin_view(self.job_file_download),
                name="programs_job_file_download",
            ),
            *super().get_urls(),
        ]

    def filter_form(self, request: HttpRequest) -> ReportFilterForm:
        return report_filter_form(request.user, request.GET)

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
            "edition": edition_date(store.current_catalogue()),
            "catalogue_version": store.current_catalogue().version,
            "recomputing": jobs.recompute_notices(
                jobs.unfinished_recomputes(self.report_programmes(request))
            ),
            "stale": jobs.stale_notices(
                jobs.stale_programmes(self.report_programmes(request))
            ),
            "my_jobs": jobs.recent_file_jobs(request.user),
        }
        return TemplateResponse(request, "admin/programs/match_report.html", context)

    def report_programmes(self, request: HttpRequest) -> QuerySet[Programme]:
        """Return the programmes the user's report covers (a partner: their own)."""
        programmes = Programme.objects.all()
        if (provider_id := match_report.partner_provider_id(request.user)) is not None:
            programmes = programmes.filter(provider_id=provider_id)
        return programmes

    def report_export(self, request: HttpRequest, fmt: str) -> HttpResponseBase:
        match_report.check_access(request.user)
        report_filters = self.filter_form(request).to_filters()
        queryset = match_report.report_queryset(
            user=request.user, filters=report_filters
        )
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        filename = f"reliefmatch-matches-{stamp}.{fmt}"
        if (
            fmt in settings.EXPORT_QUEUE_ROWS
            and (rows := queryset.count()) > settings.EXPORT_QUEUE_ROWS[fmt]
        ):
            return self.queue_export(request, fmt, report_filters, rows, filename)
        if fmt == "csv":
            return exports.csv_response(queryset, filename)
        if fmt == "xlsx":
            return exports.xlsx_response(queryset, filename)
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

    def queue_export(
        self,
        request: HttpRequest,
        fmt: str,
        report_filters: match_report.ReportFilters,
        rows: int,
        filename: str,
    ) -> HttpResponseBase:
        """Offer to have a worker write an export too large for one request; queue it on POST."""
        if request.method == "POST":
            job = jobs.enqueue_export(
                user=request.user,
                fmt=fmt,
                query=report_filters.as_query(),
                filename=filename,
            )
            return redirect("admin:programs_job_file", job.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Prepare a large export"),
            "opts": self.model._meta,
            "rows": rows,
            "format": fmt.upper(),
            "limit": settings.EXPORT_QUEUE_ROWS[fmt],
            "report_query": urlencode(report_filters.as_query()),
        }
        return TemplateResponse(request, "admin/programs/export_queue.html", context)

    def own_file_job(self, request: HttpRequest, pk: int) -> BackgroundJob:
        """Return the user's own export or screening job; anyone else's is a 404."""
        match_report.check_access(request.user)
        job = BackgroundJob.objects.filter(
            pk=pk, kind__in=jobs.FILE_KINDS, requested_by=request.user.pk
        ).first()
        if job is None:
            raise Http404(gettext("No such file of yours."))
        return job

    def job_file_view(self, request: HttpRequest, pk: int) -> TemplateResponse:
        """A job's page: its progress while it runs, then its download link."""
        job = self.own_file_job(request, pk)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Your file"),
            "opts": self.model._meta,
            "job": job,
            "unfinished": job.state in jobs.UNFINISHED,
            "progress": jobs.describe_progress(job),
            "percent": jobs.percent_done(job),
            "result": jobs.describe_result(job),
            "keep_days": settings.JOB_FILES_KEEP_DAYS,
            "screening": jobs.screening_counts(job),
            "tiers": matching.SHOWN_TIERS,
        }
        return TemplateResponse(request, "admin/programs/job_file.html", context)

    def job_file_download(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        job = self.own_file_job(request, pk)
        if job.state != BackgroundJob.State.DONE or not job.file:
            return redirect("admin:programs_job_file", job.pk)
        try:
            handle = jobs.job_files().open(job.file, "rb")
        except FileNotFoundError:
            return redirect("admin:programs_job_file", job.pk)
        return FileResponse(handle, as_attachment=True, filename=job.filename)


def edition_date(catalogue: store.Catalogue) -> str:
    """Return the date the catalogue's sources were last checked, as staff read it."""
    checked_on = matching.catalogue_checked_on(catalogue.programmes)
    return checked_on.isoformat() if checked_on else "—"


def describe_filters(report_filters: match_report.ReportFilters) -> str:
    parts = [f"{name}={value}" for name, value in report_filters.as_query().items()]
    return ", ".join(parts) if parts else gettext("no filters: every row you may see")


@admin.register(PartnerAccount)
class PartnerAccountAdmin(admin.ModelAdmin):
    """Who is a partner of which provider: never for partners, who could move themselves."""

    list_display = ["user", "provider"]
    list_select_related = ["user", "provider"]
    autocomplete_fields = ["user"]

    def has_view_permission(
        self, request: HttpRequest, obj: PartnerAccount | None = None
    ) -> bool:
        return not_partner(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not_partner(request) and super().has_add_permission(request)

    def has_change_permission(
        self, request: HttpRequest, obj: PartnerAccount | None = None
    ) -> bool:
        return not_partner(request) and super().has_change_permission(request, obj)

    def has_delete_permission(
        self, request: HttpRequest, obj: PartnerAccount | None = None
    ) -> bool:
        return not_partner(request) and super().has_delete_permission(request, obj)


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


# The task queue's own rows (django-tasks-db) are its bookkeeping, in English
# and in codes: staff follow each job in "background jobs" below, which says
# what it is for, how far it got and what it found, in their language.
admin.site.unregister(DBTaskResult)


@admin.register(BackgroundJob)
class BackgroundJobAdmin(admin.ModelAdmin):
    """Background jobs, read only: what, for which programme, how far, what was found."""

    list_display = [
        "kind",
        "programme",
        "state",
        "progress",
        "enqueued_at",
        "started_at",
        "finished_at",
        "result",
    ]
    list_filter = ["kind", "state", "programme"]
    list_select_related = ["programme"]
    fields = readonly_fields = (
        "kind",
        "programme",
        "state",
        "progress",
        "result",
        "requested_by",
        "enqueued_at",
        "started_at",
        "finished_at",
        "task_id",
    )

    @admin.display(description=_("progress"))
    def progress(self, obj: BackgroundJob) -> str:
        return jobs.describe_progress(obj)

    @admin.display(description=_("result"))
    def result(self, obj: BackgroundJob) -> str:
        return jobs.describe_result(obj) or "—"

    def has_view_permission(
        self, request: HttpRequest, obj: BackgroundJob | None = None
    ) -> bool:
        return not_partner(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: BackgroundJob | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: BackgroundJob | None = None
    ) -> bool:
        return False


# -- owners' wrong-answer reports, and scenarios made from them ------------------------


def saved_scenario_result(row: SavedScenario) -> scenarios.ScenarioResult | str:
    """Return a saved scenario run against the catalogue now, or why it cannot run."""
    catalogue = store.current_catalogue()
    try:
        (scenario,) = saved_scenarios.load_saved_scenarios(
            rows=[row], programmes=[p.slug for p in catalogue.programmes]
        )
    except scenarios.ScenarioError as error:
        return " ".join(error.problems)
    return scenarios.run_scenarios([scenario], catalogue.programmes)[0]


class SavedScenarioForm(forms.ModelForm):
    """A scenario's fields, checked as the scenario file's entries are.

    The instance carries its programme (the report's, or its own when edited).
    """

    decided_by = forms.ChoiceField(
        label=_("decided by"),
        required=False,
        help_text=_(
            "Optional: the answer that must be among those that decide the outcome."
        ),
    )

    class Meta:
        model = SavedScenario
        # The scenario file's keys; the programme is the report's own.
        fields = [key for key in saved_scenarios.KEYS if key != "programme"]
        widgets = {
            "profile": forms.Textarea(attrs={"rows": 6, "cols": 90}),
            "description": forms.TextInput(attrs={"size": 90}),
            "fact": forms.TextInput(attrs={"size": 90}),
            "source": forms.TextInput(attrs={"size": 90}),
        }
        help_texts = {
            "name": _(
                "Unique within the programme; messages name it “programme/name”."
            ),
            "description": _("One sentence: who the business is and what it gets."),
            "profile": _(
                "The answers, as the JSON API takes them; leave a field out for "
                "“not answered”."
            ),
            "expected": _("The tier the facts say this business gets."),
            "fact": _("The fact or rule the expected tier follows from, in one line."),
            "source": _("Where that fact is documented."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast("forms.ChoiceField", self.fields["decided_by"])
        field.choices = [
            ("", "---------"),
            (scenarios.DISCRETION, gettext("the provider's own selection")),
            *(
                (name, capfirst(str(contract.FIELDS[name].label)))
                for name in contract.CRITERION_FIELDS
            ),
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        programme, name = self.instance.programme, cleaned["name"]
        try:
            in_file = {s.label for s in scenarios.load_scenarios()}
        except scenarios.ScenarioError:
            in_file = set()  # the file's own problems are shown where it is run
        taken = SavedScenario.objects.filter(programme=programme, name=name).exclude(
            pk=self.instance.pk
        )
        if f"{programme.slug}/{name}" in in_file or taken.exists():
            self.add_error(
                "name",
                gettext("This programme already has a scenario of this name."),
            )
            return cleaned
        row = SavedScenario(
            programme=programme, **{k: cleaned.get(k) for k in self.Meta.fields}
        )
        try:
            (scenario,) = saved_scenarios.load_saved_scenarios(rows=[row])
        except scenarios.ScenarioError as error:
            raise forms.ValidationError(error.problems) from error
        # Kept as the file writes it: the answered fields only.
        cleaned["profile"] = saved_scenarios.profile_data(scenario.profile)
        return cleaned


def report_scenario_initial(report: WrongAnswerReport) -> dict[str, Any]:
    """Return a new scenario's fields as a report fills them in."""
    profile = (
        {k: v for k, v in report.profile.items() if v not in (None, "", [])}
        if report.profile
        else None
    )
    return {
        "name": f"report-{report.pk}",
        "description": Truncator(report.sentence).chars(250),
        "as_of": report.as_of,
        "profile": profile,
        "source": f"wrong-answer report {report.pk} ({report.created_at:%Y-%m-%d})",
    }


@admin.action(description=_("Make a scenario"), permissions=["make_scenario"])
def make_scenario(
    modeladmin: WrongAnswerReportAdmin,
    request: HttpRequest,
    queryset: QuerySet[WrongAnswerReport],
) -> HttpResponseBase | None:
    """Open the make-a-scenario form for the one report chosen."""
    chosen = list(queryset[:2])
    if len(chosen) != 1:
        modeladmin.message_user(
            request, gettext("Choose one report to make a scenario."), messages.WARNING
        )
        return None
    return redirect("admin:programs_wronganswerreport_scenario", chosen[0].pk)


@admin.register(WrongAnswerReport)
class WrongAnswerReportAdmin(PartnerScopedAdmin, admin.ModelAdmin):
    """Owners' reports of wrong answers, per programme; a partner sees their own
    provider's programmes only, and never an owner's answers."""

    partner_lookup = "programme__provider_id"

    list_display = [
        "created_at",
        "programme",
        "short_sentence",
        "consented",
        "as_of",
        "snapshot_summary",
    ]
    list_filter = [("programme", admin.RelatedOnlyFieldListFilter), "consented"]
    list_select_related = ["programme"]
    search_fields = ["sentence"]
    date_hierarchy = "created_at"
    actions = [make_scenario]
    #: What a partner is not shown: the owner's answers, what they gave, and
    #: the scenarios made of them (staff only).
    ANSWERS = ("answers", "result_shown", "scenarios_made")
    FIELDS: tuple[str, ...] = (
        "programme",
        "created_at",
        "sentence",
        "consented",
        "as_of",
        "catalogue_version",
        "catalogue_edition",
        "language",
        "answers",
        "result_shown",
        "scenarios_made",
    )
    fields = FIELDS
    readonly_fields = FIELDS

    def provider_of(self, obj: WrongAnswerReport) -> int:
        return obj.programme.provider_id

    def get_fields(
        self, request: HttpRequest, obj: WrongAnswerReport | None = None
    ) -> tuple[str, ...]:
        if not_partner(request):
            return self.FIELDS
        return tuple(f for f in self.FIELDS if f not in self.ANSWERS)

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        shown = tuple(str(f) for f in self.list_display)
        if not_partner(request):
            return shown
        return tuple(f for f in shown if f != "snapshot_summary")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: WrongAnswerReport | None = None
    ) -> bool:
        return False  # what an owner sent stays as they sent it

    def has_delete_permission(
        self, request: HttpRequest, obj: WrongAnswerReport | None = None
    ) -> bool:
        return not_partner(request) and super().has_delete_permission(request, obj)

    def has_make_scenario_permission(self, request: HttpRequest) -> bool:
        return not_partner(request) and request.user.has_perm(
            "programs.add_savedscenario"
        )

    @admin.display(description=_("what looks wrong"))
    def short_sentence(self, obj: WrongAnswerReport) -> str:
        return Truncator(obj.sentence).chars(80)

    @admin.display(description=_("what was kept"))
    def snapshot_summary(self, obj: WrongAnswerReport) -> str:
        if not obj.consented or not obj.shown:
            return gettext("no answers")
        tier = matching.Tier(obj.shown["tier"])
        answered = sum(v not in (None, "", []) for v in (obj.profile or {}).values())
        return ngettext(
            "%(count)s answer; shown: %(tier)s",
            "%(count)s answers; shown: %(tier)s",
            answered,
        ) % {"count": answered, "tier": tier.label}

    @admin.display(description=_("answers"))
    def answers(self, obj: WrongAnswerReport) -> str:
        if not obj.profile:
            return gettext("Not kept: the owner did not consent.")
        answered = {
            name: value
            for name, value in obj.profile.items()
            if name in contract.FIELDS and value not in (None, "", [])
        }
        try:
            profile = contract.parse_profile(answered)
        except contract.ProfileError:  # the contract changed since: as kept
            values = {name: str(value) for name, value in answered.items()}
        else:
            values = {
                name: contract.display_value(name, getattr(profile, name))
                for name in answered
            }
        rows = [
            (capfirst(str(contract.FIELDS[name].label)), values[name])
            for name in answered
        ]
        return format_html(
            "<dl>{}</dl>",
            format_html_join("", "<dt>{}</dt><dd>{}</dd>", rows),
        )

    @admin.display(description=_("result as shown"))
    def result_shown(self, obj: WrongAnswerReport) -> str:
        if not obj.shown:
            return gettext("Not kept: the owner did not consent.")
        marks = {"met": "✓", "not_met": "✗", "unknown": "?"}
        return format_html(
            "<p><strong>{}</strong> · {}</p><ul>{}</ul>",
            matching.Tier(obj.shown["tier"]).label,
            matching.AVAILABILITY_LABELS[
                matching.Availability(obj.shown["availability"])
            ],
            format_html_join(
                "",
                "<li>{} {}</li>",
                (
                    (marks.get(r["state"], "·"), r["text"])
                    for r in obj.shown.get("reasons", [])
                ),
            ),
        )

    @admin.display(description=_("scenarios made from it"))
    def scenarios_made(self, obj: WrongAnswerReport) -> str:
        made = list(obj.scenarios.all())
        if not made:
            return "-"
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            (
                (reverse("admin:programs_savedscenario_change", args=[s.pk]), s.name)
                for s in made
            ),
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/scenario/",
                self.admin_site.admin_view(self.make_scenario_view),
                name="programs_wronganswerreport_scenario",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = extra_context or {}
        if self.has_make_scenario_permission(request):
            extra_context["make_scenario_url"] = reverse(
                "admin:programs_wronganswerreport_scenario", args=[object_id]
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def make_scenario_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Make a scenario from a report: its answers and date filled in, the tier
        and the fact the admin's; saved, it runs with every other scenario."""
        if not self.has_make_scenario_permission(request):
            raise PermissionDenied
        report = self.get_object(request, object_id)
        if report is None:
            raise Http404("No such report.")
        instance = SavedScenario(
            programme=report.programme,
            report=report,
            created_by=cast("User", request.user),
        )
        if request.method == "POST":
            form = SavedScenarioForm(request.POST, instance=instance)
            if form.is_valid():
                try:
                    with transaction.atomic():
                        row = form.save()
                except IntegrityError:  # the same name, saved a moment before
                    form.add_error(
                        "name",
                        gettext("This programme already has a scenario of this name."),
                    )
                else:
                    self.message_user(
                        request,
                        gettext(
                            "Scenario “%(name)s” saved: it now runs with every check "
                            "of the scenarios."
                        )
                        % {"name": row.name},
                        messages.SUCCESS,
                    )
                    return redirect("admin:programs_savedscenario_change", row.pk)
        else:
            form = SavedScenarioForm(
                instance=instance, initial=report_scenario_initial(report)
            )
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Make a scenario"),
            "opts": self.model._meta,
            "report": report,
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(
            request, "admin/programs/wronganswerreport/make_scenario.html", context
        )


@admin.action(description=_("Export selected as TOML"), permissions=["view"])
def export_toml(
    modeladmin: SavedScenarioAdmin,
    request: HttpRequest,
    queryset: QuerySet[SavedScenario],
) -> TemplateResponse:
    """Show the chosen scenarios as scenarios.toml entries, to paste into the file."""
    rows = queryset.select_related("programme").order_by("programme__slug", "name")
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": gettext("Scenarios as TOML"),
        "opts": modeladmin.model._meta,
        "toml": saved_scenarios.toml_text(rows),
    }
    return TemplateResponse(
        request, "admin/programs/savedscenario/export_toml.html", context
    )


@admin.register(SavedScenario)
class SavedScenarioAdmin(admin.ModelAdmin):
    """Scenarios made in the admin: run with the file's, exported as TOML; staff only."""

    form = SavedScenarioForm
    list_display = ["name", "programme", "expected", "as_of", "passes_now", "report"]
    list_filter = [("programme", admin.RelatedOnlyFieldListFilter), "expected"]
    list_select_related = ["programme", "report"]
    search_fields = ["name", "description", "fact"]
    actions = [export_toml]
    readonly_fields = [
        "programme",
        "report",
        "created_by",
        "created_at",
        "result_now",
        "as_toml",
    ]
    fieldsets = [
        (None, {"fields": ["programme", "report", "created_by", "created_at"]}),
        (
            _("Scenario"),
            {
                "fields": [
                    "name",
                    "description",
                    "as_of",
                    "profile",
                    "expected",
                    "decided_by",
                    "availability",
                    "fact",
                    "source",
                ]
            },
        ),
        (_("Result now"), {"fields": ["result_now"]}),
        (_("For scenarios.toml"), {"fields": ["as_toml"]}),
    ]

    def has_view_permission(
        self, request: HttpRequest, obj: SavedScenario | None = None
    ) -> bool:
        return not_partner(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made from a report ("Make a scenario"), or written in the file

    def has_change_permission(
        self, request: HttpRequest, obj: SavedScenario | None = None
    ) -> bool:
        return not_partner(request) and super().has_change_permission(request, obj)

    def has_delete_permission(
        self, request: HttpRequest, obj: SavedScenario | None = None
    ) -> bool:
        return not_partner(request) and super().has_delete_permission(request, obj)

    @admin.display(description=_("passes now"), boolean=True)
    def passes_now(self, obj: SavedScenario) -> bool | None:
        result = saved_scenario_result(obj)
        return None if isinstance(result, str) else result.passed

    @admin.display(description=_("result now"))
    def result_now(self, obj: SavedScenario) -> str:
        if not obj.pk:
            return "-"
        result = saved_scenario_result(obj)
        if isinstance(result, str):
            return format_html('<p class="errornote">{}</p>', result)
        return render_scenarios([result])

    @admin.display(description=_("as TOML"))
    def as_toml(self, obj: SavedScenario) -> str:
        if not obj.pk:
            return "-"
        return format_html(
            '<textarea readonly rows="14" cols="100" class="vLargeTextField">{}</textarea>'
            '<p class="help">{}</p>',
            saved_scenarios.toml_text([obj]),
            gettext(
                "Paste this into programs/catalogue/scenarios.toml to make it part of "
                "the code; from then on the file's copy is the one run."
            ),
        )
