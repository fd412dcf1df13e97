from __future__ import annotations

import datetime
import hashlib
import io
import logging
import secrets
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import segno
from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.cache import cache
from django.forms import MultipleChoiceField, RadioSelect
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from django.utils.translation import get_language, gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import (
    require_http_methods,
    require_POST,
    require_safe,
)

from programs import ratelimit
from programs.catalogue import store
from programs.engine import contract, matching
from programs.engine.matching import Tier
from programs.journey import alerts, kept, personal_report
from programs.journey.forms import (
    ConsentForm,
    EmailLinkForm,
    FirstStepForm,
    ProfileForm,
)
from programs.models import BusinessProfile
from reliefmatch import database
from reliefmatch.middleware import client_ip

logger = logging.getLogger(__name__)


@require_safe
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """Answer 200 when the database answers a trivial query, else 503 within a second."""
    if not database.database_answers():
        return JsonResponse(
            {"status": "unavailable", "database": "down"},
            status=HTTPStatus.SERVICE_UNAVAILABLE,
        )
    return JsonResponse({"status": "ok", "database": "ok"})


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "programs/home.html")


# -- the profile form and its results ----------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def profile_form(request: HttpRequest) -> HttpResponse:
    """Ask for the profile; show results, keeping them only with consent.

    A GET asks the short first step, or every question with ``?all=1``. A
    POST with ``edit`` (from the results page of answers not kept) shows
    every question filled in with those answers.
    """
    if request.method == "GET":
        if request.GET.get("all"):
            return render_form(request, ProfileForm(), ConsentForm())
        return render_form(request, FirstStepForm())
    if "edit" in request.POST:
        return render_form(request, ProfileForm(request.POST), ConsentForm())
    first_step = request.POST.get("step") == FirstStepForm.STEP
    form = (FirstStepForm if first_step else ProfileForm)(request.POST)
    consent_form = ConsentForm(request.POST)
    if not (form.is_valid() and consent_form.is_valid()):
        return render_form(request, form, None if first_step else consent_form)
    profile, as_of = form.to_profile(), form.cleaned_data.get("as_of")
    report = store.run_match(profile=profile, as_of=as_of)
    consent = consent_from(consent_form)
    if not consent.store:
        return render_results(request, report, as_of=as_of)
    row, token = kept.profile_keep(
        profile=profile,
        consent=consent,
        report=report,
        as_of=as_of,
        language=get_language(),
    )
    link = request.build_absolute_uri(reverse("programs:results", args=[token]))
    if consent.email and may_email_link(request, consent.email):
        send_link(request, row, consent.email, link)
    messages.info(
        request,
        gettext(
            "Your results are kept. Bookmark this page: its address is your private link."
        ),
    )
    return redirect("programs:results", token=token)


def may_email_link(request: HttpRequest, email: str) -> bool:
    """Count one link email to `email`; when over a day's limit, say so and refuse.

    LINK_EMAILS_PER_RECIPIENT a day to one address and LINK_EMAILS_PER_ADDRESS
    from one client (programs/ratelimit.py), so the form cannot flood anyone's
    mailbox.
    """
    if ratelimit.link_email_allowed(
        recipient=email, address=client_ip(request) or "unknown"
    ):
        return True
    logger.warning("Link email limit reached: nothing sent")
    messages.error(
        request,
        gettext(
            "We did not send the email: too many emails with a link were asked for "
            "today, to this address or from your connection. Please try again "
            "tomorrow. Your results are kept: bookmark this page."
        ),
    )
    return False


def send_link(
    request: HttpRequest, row: BusinessProfile, email: str, link: str
) -> None:
    """Email the private link; a mail failure is told to the user, never a 500."""
    try:
        kept.send_link_email(row=row, email=email, link=link)
    except OSError:  # smtplib.SMTPException is an OSError
        logger.warning("Could not send a private link email", exc_info=False)
        messages.error(
            request,
            gettext(
                "We could not send the email just now. Your results are kept: bookmark this page."
            ),
        )
    else:
        messages.success(request, gettext("We sent your private link to your email."))


def consent_from(form: ConsentForm) -> kept.Consent:
    data = form.cleaned_data
    return kept.Consent(
        store=data["consent_store"],
        share_contact=data["consent_share_contact"],
        email=data["email"] if data["consent_store"] else "",
        contact_name=data["contact_name"].strip(),
        contact_phone=data["contact_phone"],
        alerts=data["alerts"],
    )


def render_form(
    request: HttpRequest,
    form: ProfileForm,
    consent_form: ConsentForm | None = None,
    *,
    action: str = "",
    status: int = HTTPStatus.OK,
) -> HttpResponse:
    # Radio and checkbox groups have no single label target: link to their first option.
    errors = [
        (f.id_for_label or f"{f.auto_id}_0", f.label, error)
        for f in (*form, *(consent_form or ()))
        for error in f.errors
    ]
    return render(
        request,
        "programs/profile_form.html",
        {
            "form": form,
            "consent_form": consent_form,
            "first_step": isinstance(form, FirstStepForm),
            "error_summary": errors,
            "action": action or reverse("programs:profile_form"),
        },
        status=status,
    )


#: The date the answers are shown for when nothing is open on the chosen one:
#: mid-June 2020, when most of the catalogue's programmes were running.
WHEN_THEY_RAN = datetime.date(2020, 6, 15)
#: How many of the report's next questions the page asks.
NEXT_QUESTIONS_ASKED = 3


def results_context(
    report: matching.MatchReport,
    *,
    as_of: datetime.date | None,
    token: str = "",
) -> dict:
    """Group the ranked matches into the page's sections, keeping their order.

    For what you need (fit, then might fit), the next questions, you may also
    get, one step away, and the rest (not for this business, or not open on
    the date) collapsed. The headline's counts are these sections' lengths.
    """
    answers = ProfileForm.initial_from_profile(report.profile, as_of)
    sections: dict[str, list[dict]] = {
        name: [
            {
                "match": m,
                "id": f"p-{m.programme.slug}",
                "needs": personal_report.needs_addressed(m),
                "money": personal_report.money_speed(m),
                "still_to_answer": personal_report.questions(m)
                if m.tier is Tier.POSSIBLY_ELIGIBLE
                else "",
                "actions": personal_report.actions(m).splitlines(),
            }
            for m in matches
        ]
        for name, matches in personal_report.sectioned(report.matches).items()
    }
    asked = report.questions_to_ask(NEXT_QUESTIONS_ASKED)
    question_form = ProfileForm(initial=answers, auto_id="nq_%s")
    for name, _settles in asked:
        # Leaving a question here unanswered already skips it: no "skip" option.
        field = question_form.fields[name]
        if isinstance(field.widget, RadioSelect) and not field.required:
            field.choices = [c for c in field.choices if c[0] != ""]
    nothing_open = not any(
        m.availability is matching.Availability.OPEN for m in report.matches
    )
    return {
        "report": report,
        "sections": sections,
        "also_fits": [
            c for c in sections["also"] if not personal_report.folded(c["match"])
        ],
        "also_might": [
            c for c in sections["also"] if personal_report.folded(c["match"])
        ],
        "next_questions": [(question_form[name], n) for name, n in asked],
        "question_answers": hidden_pairs(answers, exclude={name for name, _ in asked}),
        "nothing_open": nothing_open and bool(report.matches),
        "when_they_ran": WHEN_THEY_RAN,
        "date_answers": hidden_pairs(answers, exclude={"as_of"}),
        "urgency": report.profile.urgency,
        "size_class": gettext("not known yet")
        if report.profile.size_class is None
        else contract.display_value("size_class", report.profile.size_class),
        "answers_summary": answers_summary(report.profile),
        "hidden_answers": hidden_pairs(answers),
        "token": token,
    }


def hidden_pairs(
    answers: dict[str, Any], *, exclude: AbstractSet[str] = frozenset()
) -> list[tuple[str, str]]:
    pairs = []
    for name, value in answers.items():
        if name in exclude:
            continue
        for item in value if isinstance(value, list) else [value]:
            pairs.append((name, item))
    return pairs


def answers_summary(profile: contract.Profile) -> list[tuple[str, str]]:
    return [
        (
            capfirst(str(contract.FIELDS[name].label)),
            contract.display_value(name, getattr(profile, name)),
        )
        for name in contract.PROFILE_FIELDS
        if getattr(profile, name) not in (None, "")
    ]


@dataclass(frozen=True)
class Slots:
    """Where a rendered results page takes each request's own values.

    A cached page carries these marks, and each request's values replace
    them: its CSRF token, the private link it came by, its messages and the
    scheme and host it came by. Each rendering gets marks of its own, made
    from a random nonce stored with the cached page, so text written into a
    programme (its name, benefits, steps, link…) or typed into an answer can
    never hold one: only the template's own places are ever filled in.
    """

    nonce: str

    @classmethod
    def fresh(cls) -> Slots:
        return cls(secrets.token_hex(16))

    @property
    def csrf_mark(self) -> str:
        return f"reliefmatch-csrf-{self.nonce}"

    @property
    def link_mark(self) -> str:
        return f"reliefmatch-link-{self.nonce}"

    @property
    def messages_mark(self) -> str:
        return f"<!-- reliefmatch-messages-{self.nonce} -->"

    @property
    def origin_mark(self) -> str:
        return f"<!-- reliefmatch-origin-{self.nonce} -->"


#: How long a rendered results page is kept. Its key changes with anything
#: that changes the page, so this only bounds memory, never staleness.
#: Deleting a profile drops its entries at once.
RESULTS_CACHE_SECONDS = 60 * 60


def results_body(
    request: HttpRequest,
    report: matching.MatchReport,
    *,
    as_of: datetime.date | None,
    slots: Slots,
    row: BusinessProfile | None = None,
    token: str = "",
) -> str:
    """Render the results page's content, with `slots` for the CSRF token and host."""
    context = results_context(report, as_of=as_of, token=token)
    context["row"] = row
    if row is not None:
        context["email_form"] = EmailLinkForm(initial={"email": row.email})
    else:
        context["keep_form"] = ConsentForm(
            submit_label=gettext_lazy("Keep my results"), auto_id="keep_%s"
        )
    context["csrf_token"] = slots.csrf_mark
    context["origin"] = mark_safe(slots.origin_mark)
    return render_to_string(
        "programs/includes/results_body.html", context, request=request
    )


def render_results(
    request: HttpRequest, report: matching.MatchReport, *, as_of: datetime.date | None
) -> HttpResponse:
    """Return the results page of a profile that is not kept (rendered every time)."""
    slots = Slots.fresh()
    body = results_body(request, report, as_of=as_of, slots=slots)
    body = body.replace(slots.csrf_mark, get_token(request))
    # Safe: the body is our own template's output, escaped when it was rendered.
    return render(request, "programs/results.html", {"body": mark_safe(body)})


#: A kept results page as cached: the nonce of its slots, and the page.
CachedPage = tuple[str, str]


def results_page(
    request: HttpRequest, report: matching.MatchReport, *, row: BusinessProfile
) -> CachedPage:
    """Render a kept profile's whole results page, fit to cache, with its slots' nonce.

    The visitor's CSRF token, the private link they came by (plain or
    signed), the scheme and host they came by and their messages are
    ``Slots``, filled in by ``serve_results_page`` for each request.
    """
    slots = Slots.fresh()
    body = results_body(
        request, report, as_of=row.as_of, slots=slots, row=row, token=slots.link_mark
    )
    context = {
        # Safe: our own templates' output, escaped when it was rendered.
        "body": mark_safe(body),
        "csrf_token": slots.csrf_mark,
        "messages_slot": mark_safe(slots.messages_mark),
        "language_next": reverse("programs:results", args=[slots.link_mark]),
    }
    page = render_to_string("programs/results.html", context, request=request)
    return slots.nonce, page


def serve_results_page(
    request: HttpRequest, cached: CachedPage, token: str
) -> HttpResponse:
    """Answer with a rendered results page, its slots filled in for this request."""
    stored = messages.get_messages(request)
    notes = (
        render_to_string("includes/messages.html", {"messages": stored})
        if len(stored)  # counts without marking them as shown
        else ""
    )
    # The token is one this app issued (URL-safe characters, a colon in
    # signed ones), quoted and escaped all the same as {% url %} would.
    link = escape(quote(token, safe=":"))
    nonce, page = cached
    slots = Slots(nonce)
    page = (
        # The host is one ALLOWED_HOSTS accepts; the cached page is the same
        # for every host, so a visitor always reads the address they came by.
        page.replace(slots.origin_mark, escape(origin(request)), 1)
        .replace(slots.messages_mark, notes, 1)
        .replace(slots.link_mark, link)
        .replace(slots.csrf_mark, get_token(request))
    )
    return HttpResponse(page)


def forget_rendered_results(row: BusinessProfile) -> None:
    """Drop this profile's cached results pages (today's, in every language)."""
    version = store.current_catalogue().version
    today = row.as_of or timezone.localdate()
    keys = []
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            keys.append(results_cache_key(row, version, today))
    cache.delete_many(keys)


def results_cache_key(
    row: BusinessProfile, catalogue_version: str, as_of: datetime.date
) -> str:
    """Return the key of a kept profile's rendered results page.

    It changes with every column of the row (answers, consents, email), the
    catalogue's content, the language and the date results are computed for,
    so a cached body is never stale; it is only ever reused unchanged.
    """
    values = repr([getattr(row, f.attname) for f in row._meta.concrete_fields])
    digest = hashlib.sha256(values.encode()).hexdigest()[:32]
    return f"results:{row.pk}:{digest}:{catalogue_version}:{get_language()}:{as_of}"


# -- kept profiles behind their private link ---------------------------------------------


def origin(request: HttpRequest) -> str:
    """Return the scheme and host the visitor came by, e.g. https://example.cn."""
    return f"{request.scheme}://{request.get_host()}"


def private_link(request: HttpRequest, token: str) -> str:
    """Return the absolute address of the results behind a private link token."""
    return origin(request) + reverse("programs:results", args=[token])


def qr_svg(text: str) -> bytes:
    """Return a QR code of the text as a standalone SVG document.

    Dark modules on a white ground with the standard four-module quiet zone,
    so it scans on a dark screen too; it has a viewBox and no size, so it
    fills whatever box the page gives it.
    """
    buffer = io.BytesIO()
    segno.make(text, error="m").save(
        buffer,
        kind="svg",
        xmldecl=False,
        omitsize=True,
        border=4,
        dark="#000",
        light="#fff",
        svgclass=None,
        lineclass=None,
    )
    return buffer.getvalue()


@never_cache
@require_safe
def results_qr(request: HttpRequest, token: str) -> HttpResponse:
    """Answer with the QR code (SVG) of a kept profile's private link.

    The kept results page shows it, so the owner can open the results on
    another phone. Only what the link opens is checked: one read, no write.
    """
    kept_profile(token)
    return HttpResponse(
        qr_svg(private_link(request, token)), content_type="image/svg+xml"
    )


def kept_profile(token: str) -> BusinessProfile:
    row = kept.profile_by_token(token)
    if row is None:
        raise Http404("No results behind this link.")
    return row


@never_cache
@require_safe
def results(request: HttpRequest, token: str) -> HttpResponse:
    """Show a kept profile's results: one query when its page is cached."""
    found = kept.kept_profile_and_catalogue(token)
    if found is None:
        raise Http404("No results behind this link.")
    row, catalogue = found
    today = row.as_of or timezone.localdate()
    key = results_cache_key(row, catalogue.version, today)
    cached = cache.get(key)
    if not (isinstance(cached, tuple) and len(cached) == 2):  # none, or an older shape
        report = store.run_match(
            profile=contract.from_columns(row), as_of=today, catalogue=catalogue
        )
        cached = results_page(request, report, row=row)
        cache.set(key, cached, RESULTS_CACHE_SECONDS)
    return serve_results_page(request, cached, token)


@never_cache
@require_http_methods(["GET", "POST"])
def profile_edit(request: HttpRequest, token: str) -> HttpResponse:
    row = kept_profile(token)
    action = reverse("programs:profile_edit", args=[token])
    if request.method == "GET":
        initial = ProfileForm.initial_from_profile(
            contract.from_columns(row), row.as_of
        )
        return render_form(request, ProfileForm(initial=initial), action=action)
    form = ProfileForm(request.POST)
    if not form.is_valid():
        return render_form(request, form, action=action)
    return save_answers(request, row, form, token)


@never_cache
@require_POST
def answer_questions(request: HttpRequest, token: str) -> HttpResponse:
    """Merge answers to a card's questions into the kept profile."""
    row = kept_profile(token)
    data = ProfileForm.initial_from_profile(contract.from_columns(row), row.as_of)
    for name, field in ProfileForm.base_fields.items():
        if name in request.POST:
            many = isinstance(field, MultipleChoiceField)
            data[name] = request.POST.getlist(name) if many else request.POST[name]
    form = ProfileForm(data)
    if not form.is_valid():
        return render_form(
            request, form, action=reverse("programs:profile_edit", args=[token])
        )
    return save_answers(request, row, form, token)


def save_answers(
    request: HttpRequest, row: BusinessProfile, form: ProfileForm, token: str
) -> HttpResponse:
    profile, as_of = form.to_profile(), form.cleaned_data.get("as_of")
    report = store.run_match(profile=profile, as_of=as_of)
    try:
        kept.profile_update(row=row, profile=profile, as_of=as_of, report=report)
    except kept.ProfileGone:
        raise Http404("No results behind this link.") from None
    messages.success(
        request, gettext("Your answers are saved and the results updated.")
    )
    return redirect("programs:results", token=token)


@never_cache
@require_POST
def email_link(request: HttpRequest, token: str) -> HttpResponse:
    row = kept_profile(token)
    form = EmailLinkForm(request.POST)
    if form.is_valid():
        if not may_email_link(request, form.cleaned_data["email"]):
            return redirect("programs:results", token=token)  # nothing changed
        row.email = form.cleaned_data["email"]
        row.save(update_fields=["email", "updated_at"])
        link = request.build_absolute_uri(reverse("programs:results", args=[token]))
        send_link(request, row, row.email, link)
    else:
        messages.error(request, gettext("Enter a valid email address."))
    return redirect("programs:results", token=token)


@never_cache
@require_http_methods(["GET", "POST"])
def profile_delete(request: HttpRequest, token: str) -> HttpResponse:
    row = kept_profile(token)
    if request.method == "POST":
        forget_rendered_results(row)
        kept.profile_delete(row=row)
        return render(request, "programs/deleted.html")
    return render(request, "programs/delete_confirm.html", {"token": token})


# -- personal reports -------------------------------------------------------------------------

REPORT_FORMATS = {"pdf", "csv"}


def report_response(
    report: matching.MatchReport, fmt: str, *, link: str = ""
) -> HttpResponse:
    """Return the report as a download; the PDF prints the private link, if any."""
    filename = f"reliefmatch-{report.as_of.isoformat()}.{fmt}"
    if fmt == "pdf":
        response = HttpResponse(
            personal_report.render_pdf(report, link=link),
            content_type="application/pdf",
        )
    else:
        buffer = io.StringIO()
        buffer.write(
            "\ufeff"
        )  # a BOM so spreadsheet programs read the Chinese text as UTF-8
        personal_report.write_csv(report, buffer)
        response = HttpResponse(
            buffer.getvalue(), content_type="text/csv; charset=utf-8"
        )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_safe
def report_kept(request: HttpRequest, token: str, fmt: str) -> HttpResponse:
    row = kept_profile(token)
    if fmt not in REPORT_FORMATS:
        raise Http404("Unknown report format.")
    report = store.run_match(profile=contract.from_columns(row), as_of=row.as_of)
    return report_response(report, fmt, link=private_link(request, token))


@require_POST
def report_unsaved(request: HttpRequest, fmt: str) -> HttpResponse:
    """The report of results that were not kept: the answers come back in the request."""
    if fmt not in REPORT_FORMATS:
        raise Http404("Unknown report format.")
    form = ProfileForm(request.POST)
    if not form.is_valid():
        return render_form(request, form, ConsentForm(), status=HTTPStatus.BAD_REQUEST)
    report = store.run_match(
        profile=form.to_profile(), as_of=form.cleaned_data["as_of"]
    )
    return report_response(report, fmt)


@csrf_exempt  # mail clients' one-click POST (RFC 8058) has no CSRF token; the signed token authorises it
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """Stop alert emails: one button on the page, or one POST from the mail client."""
    if request.method == "POST":
        if alerts.unsubscribe(token) is None:
            raise Http404("Unknown unsubscribe link.")
        return render(request, "programs/unsubscribed.html")
    try:
        profile_id = signing.loads(token, salt=alerts.UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        raise Http404("Unknown unsubscribe link.") from None
    # A link whose profile was deleted opens nothing, as the POST does not.
    if not BusinessProfile.objects.filter(pk=profile_id).exists():
        raise Http404("Unknown unsubscribe link.")
    return render(request, "programs/unsubscribe.html", {"token": token})
