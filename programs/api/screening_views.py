"""
The staff screening page: upload a CSV of businesses, see the counts or
download the result per row.

Staff with the match report permission only. A file of up to
``screening.MAX_SCREENING_ROWS`` rows is read within the request and nothing
is kept: the result goes straight into the response, so a download means
posting the file again (the form offers both actions side by side, and both
work without JavaScript). A larger file, up to
``screening.MAX_QUEUED_SCREENING_ROWS`` rows, is kept for a background worker
(``jobs.screen_csv_file``), which deletes it once screened; its job page
shows the counts and the result file to download.
"""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from programs import jobs
from programs.api import screening
from programs.catalogue import store
from programs.engine import contract, text
from programs.engine.matching import as_of_problem
from programs.staff import match_report

#: Rows with errors listed on the summary page; the download has them all.
ERROR_ROWS_SHOWN = 100


class ScreeningForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        error_messages={
            "required": _("Choose a CSV file to screen."),
            "empty": _("The file is empty."),
        },
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    as_of = forms.DateField(
        label=_("Screen as of"),
        required=False,
        help_text=_("The day the programmes' dates are checked against; blank: today."),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.rows: list[dict[str, Any]] = []
        self.fields["file"].help_text = gettext(
            "A CSV file of at most 2 MB and %(rows)s rows, in UTF-8, GBK or "
            "UTF-16 (as Excel saves it). A file of more than %(now)s rows is "
            "screened by a background worker: you get a page that shows its "
            "progress and then the result."
        ) % {
            "rows": text.format_number(screening.MAX_QUEUED_SCREENING_ROWS),
            "now": text.format_number(screening.MAX_SCREENING_ROWS),
        }

    def clean_as_of(self) -> datetime.date | None:
        as_of: datetime.date | None = self.cleaned_data.get("as_of")
        if as_of and (problem := as_of_problem(as_of)):
            raise ValidationError(problem, code="as_of_range")
        return as_of

    def clean_file(self) -> UploadedFile:
        file = self.cleaned_data["file"]
        rows, problem = screening.read_screening_csv(
            file, max_rows=screening.MAX_QUEUED_SCREENING_ROWS
        )
        if problem:
            raise ValidationError(problem, code="unreadable")
        self.rows = rows
        return file


def wants_download(request: HttpRequest) -> bool:
    return (
        request.POST.get("action") == "download"
        or request.POST.get("download") == "1"
        or request.GET.get("download") == "1"
    )


def column_help() -> list[dict[str, Any]]:
    """Return, per answer field of a screening CSV, what it takes."""
    columns = []
    for name in contract.PROFILE_FIELDS:
        spec = contract.FIELDS[name]
        kind = spec.kind
        if kind is contract.FieldKind.CHOICE:
            accepts = gettext("one code from the list")
        elif kind is contract.FieldKind.MULTI:
            accepts = gettext("codes from the list, separated by ;")
        elif kind is contract.FieldKind.BOOLEAN:
            accepts = gettext("yes or no")
        elif kind is contract.FieldKind.TEXT:
            accepts = gettext("text, up to 100 characters")
        elif kind is contract.FieldKind.INTEGER:
            accepts = gettext("a whole number from %(min)s to %(max)s") % {
                "min": contract.display_value(name, spec.minimum),
                "max": contract.display_value(name, spec.maximum),
            }
        else:
            accepts = gettext("a number from %(min)s to %(max)s") % {
                "min": contract.display_value(name, spec.minimum),
                "max": contract.display_value(name, spec.maximum),
            }
        columns.append(
            {
                "name": name,
                "label": str(spec.label),
                "required": spec.required,
                "accepts": accepts,
                "choices": [(code, str(label)) for code, label in spec.choices],
            }
        )
    return columns


def result_response(result: dict[str, Any]) -> HttpResponse:
    """Return the screening result as a CSV attachment (UTF-8 with a BOM for Excel)."""
    filename = f"reliefmatch-screening-{timezone.localdate():%Y%m%d}.csv"
    response = HttpResponse(
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": content_disposition_header(True, filename)},
    )
    response.write("\ufeff")
    screening.write_result_csv(result, response)
    return response


@never_cache
@staff_member_required
def screening_page(request: HttpRequest) -> HttpResponseBase:
    """Screen an uploaded CSV: show the counts, or download the result per row."""
    match_report.check_access(request.user)
    summary = None
    error_rows: list[tuple[int, str]] = []
    if request.method == "POST":
        form = ScreeningForm(request.POST, request.FILES)
        if form.is_valid():
            as_of = form.cleaned_data["as_of"] or timezone.localdate()
            if len(form.rows) > screening.MAX_SCREENING_ROWS:
                job = jobs.enqueue_screening(
                    user=request.user,
                    upload=form.cleaned_data["file"],
                    as_of=as_of,
                    rows=len(form.rows),
                    filename=f"reliefmatch-screening-{timezone.localdate():%Y%m%d}.csv",
                )
                return redirect("admin:programs_job_file", job.pk)
            result = screening.screen(form.rows, as_of)
            if wants_download(request):
                return result_response(result)
            summary = screening.summarise(result, store.current_catalogue().programmes)
            error_rows = [
                (row["row"], screening.errors_text(row["errors"]))
                for row in result["results"]
                if "errors" in row
            ][:ERROR_ROWS_SHOWN]
            # A file input cannot be filled in again; keep the date.
            form = ScreeningForm(initial={"as_of": form.cleaned_data["as_of"]})
    else:
        form = ScreeningForm()
    context = {
        **admin.site.each_context(request),
        "title": gettext("Screen a CSV of businesses"),
        "form": form,
        "summary": summary,
        "error_rows": error_rows,
        "error_rows_shown": ERROR_ROWS_SHOWN,
        "columns": column_help(),
        "max_rows": text.format_number(screening.MAX_QUEUED_SCREENING_ROWS),
        "max_rows_now": text.format_number(screening.MAX_SCREENING_ROWS),
        "keep_days": settings.JOB_FILES_KEEP_DAYS,
    }
    return TemplateResponse(request, "admin/programs/screening.html", context)


@never_cache
@staff_member_required
def screening_template(request: HttpRequest) -> HttpResponse:
    """Return the template CSV: every answer field and one example row."""
    match_report.check_access(request.user)
    return HttpResponse(
        "\ufeff" + screening.template_csv(),
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": content_disposition_header(
                True, "reliefmatch-screening-template.csv"
            )
        },
    )
