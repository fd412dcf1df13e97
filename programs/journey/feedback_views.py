"""
"Does this look wrong?": the page a results card links to, and its thanks.

From kept results the card is a plain link under the private link
(``/r/<token>/wrong/<slug>/``): the answers are the kept profile's. From
results that were not kept it is a button that posts the page's hidden
answers (``/check/wrong/<slug>/``), as the page's other forms do, so no
answer ever travels in a URL; the report page posts them again with the
sentence. Both POSTs are rate limited like the form (programs/urls.py).
"""

from __future__ import annotations

import datetime
from http import HTTPStatus

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from programs.catalogue import store
from programs.engine import contract, matching
from programs.journey import feedback, kept
from programs.journey.forms import ConsentForm, ProfileForm, WrongAnswerForm
from programs.journey.views import hidden_pairs, render_form
from programs.models import BusinessProfile


def programme_match(
    report: matching.MatchReport, catalogue: store.Catalogue, slug: str
) -> matching.ProgrammeMatch:
    """Return the programme's result in the report, or 404 for an unknown programme."""
    if slug not in catalogue.ids:
        raise Http404("No such programme.")
    return next(m for m in report.matches if m.programme.slug == slug)


def answer_report(
    request: HttpRequest,
    *,
    report: matching.MatchReport,
    catalogue: store.Catalogue,
    slug: str,
    form: WrongAnswerForm | None,
    context: dict,
    row: BusinessProfile | None = None,
) -> HttpResponse:
    """Show the report form (`form` None: an empty one), or keep a valid report."""
    match = programme_match(report, catalogue, slug)
    context = {**context, "match": match, "as_of": report.as_of}
    if form is None or not form.is_valid():
        context["form"] = form or WrongAnswerForm()
        status = HTTPStatus.OK if form is None else HTTPStatus.BAD_REQUEST
        return render(request, "programs/wrong_answer.html", context, status=status)
    feedback.report_create(
        report=report,
        catalogue=catalogue,
        slug=slug,
        sentence=form.cleaned_data["sentence"],
        consented=form.cleaned_data["consent"],
        language=get_language(),
        kept_profile=row,
    )
    context["consented"] = form.cleaned_data["consent"]
    return render(request, "programs/wrong_answer_thanks.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def wrong_answer_kept(request: HttpRequest, token: str, slug: str) -> HttpResponse:
    """Report a kept result as wrong: the form (GET), or keep the report (POST)."""
    found = kept.kept_profile_and_catalogue(token)
    if found is None:
        raise Http404("No results behind this link.")
    row, catalogue = found
    today: datetime.date = row.as_of or timezone.localdate()
    report = store.run_match(
        profile=contract.from_columns(row), as_of=today, catalogue=catalogue
    )
    form = WrongAnswerForm(request.POST) if request.method == "POST" else None
    return answer_report(
        request,
        report=report,
        catalogue=catalogue,
        slug=slug,
        form=form,
        row=row,
        context={
            "action": reverse("programs:wrong_answer_kept", args=[token, slug]),
            "back": reverse("programs:results", args=[token]),
        },
    )


@never_cache
@require_POST
def wrong_answer_unsaved(request: HttpRequest, slug: str) -> HttpResponse:
    """Report a result that was not kept: its answers come in the POST, each time."""
    answers = ProfileForm(request.POST)
    if not answers.is_valid():
        return render_form(
            request, answers, ConsentForm(), status=HTTPStatus.BAD_REQUEST
        )
    catalogue = store.current_catalogue()
    profile, as_of = answers.to_profile(), answers.cleaned_data.get("as_of")
    report = store.run_match(profile=profile, as_of=as_of, catalogue=catalogue)
    sending = WrongAnswerForm().add_prefix("sentence") in request.POST
    return answer_report(
        request,
        report=report,
        catalogue=catalogue,
        slug=slug,
        form=WrongAnswerForm(request.POST) if sending else None,
        context={
            "action": reverse("programs:wrong_answer_unsaved", args=[slug]),
            "hidden_answers": hidden_pairs(
                ProfileForm.initial_from_profile(profile, as_of)
            ),
        },
    )
