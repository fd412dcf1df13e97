"""The app's own error pages (400, 403, 404, 500, refused forms) in the visitor's language."""

from __future__ import annotations

import html
import re
from http import HTTPStatus

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.test import Client, override_settings
from django.urls import path, reverse
from django.utils import translation

from programs.models import BusinessProfile
from reliefmatch import urls as site_urls
from tests.builders import STALL, keep

pytestmark = pytest.mark.django_db

LANGUAGES = ["zh-hans", "en"]


def forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


def suspicious(request: HttpRequest) -> HttpResponse:
    raise SuspiciousOperation("a test request Django refuses")


def missing(request: HttpRequest) -> HttpResponse:
    raise Http404("nothing here")


def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


#: The site's URLs plus one view per error; used as ROOT_URLCONF below.
urlpatterns = [
    path("test/forbidden/", forbidden),
    path("test/suspicious/", suspicious),
    path("test/missing/", missing),
    path("test/broken/", broken),
    *site_urls.urlpatterns,
]

ERROR_VIEWS = override_settings(ROOT_URLCONF=__name__)

#: status -> (a URL that answers it, the page's heading)
PAGES = {
    HTTPStatus.BAD_REQUEST: ("/test/suspicious/", "This request could not be handled"),
    HTTPStatus.FORBIDDEN: ("/test/forbidden/", "You can't open this page"),
    HTTPStatus.NOT_FOUND: ("/test/missing/", "We can't find this page"),
    HTTPStatus.INTERNAL_SERVER_ERROR: (
        "/test/broken/",
        "Something went wrong on our side",
    ),
}
CSRF_HEADING = "This form could not be sent"
CSRF_ADVICE = (
    "This form was open too long, or your browser is blocking cookies. "
    "Go back, reload the page and try again."
)


def translated(msgid: str, language: str) -> str:
    with translation.override(language):
        text = translation.gettext(msgid)
    if language.startswith("zh"):
        assert text != msgid, f"no Chinese for {msgid!r}"
    return text


def visible_text(page: str) -> str:
    """Return what a reader sees of a page: no tags, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def english_sentences(page: str) -> list[str]:
    """Return runs of three or more English words in a page's visible text."""
    return re.findall(
        r"[A-Za-z][\w'’]*(?:[ ,]+[A-Za-z][\w'’]*){2,}", visible_text(page)
    )


def get(client: Client, url: str, language: str):
    return client.get(url, headers={"accept-language": language})


def assert_error_page(response, status: HTTPStatus, heading: str, language: str):
    """The page is ours: the status, the heading in the language, a way home."""
    assert response.status_code == status
    page = response.content.decode()
    assert f'<html lang="{language}">' in page
    h1 = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.DOTALL)
    assert h1 is not None
    assert visible_text(h1[1]).strip() == translated(heading, language)
    assert 'href="/"' in page
    if language == "zh-hans":
        assert english_sentences(page) == []
    return page


@ERROR_VIEWS
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("status", list(PAGES), ids=lambda s: str(s.value))
def test_each_error_page_is_ours_in_the_visitors_language(client, status, language):
    client.raise_request_exception = False
    url, heading = PAGES[status]
    assert_error_page(get(client, url, language), status, heading, language)


@ERROR_VIEWS
def test_the_language_cookie_chooses_the_error_pages_language(client):
    client.raise_request_exception = False
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    for status, (url, heading) in PAGES.items():
        assert_error_page(client.get(url), status, heading, "zh-hans")


@ERROR_VIEWS
def test_the_500_page_runs_no_query(client, django_assert_num_queries):
    client.raise_request_exception = False
    with django_assert_num_queries(0):
        response = get(client, "/test/broken/", "zh-hans")
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR


TEMPLATES = ["400.html", "403.html", "403_csrf.html", "404.html", "500.html"]


@pytest.mark.parametrize("template", TEMPLATES)
def test_error_pages_render_without_a_request_or_any_context(template):
    with translation.override("zh-hans"):
        page = render_to_string(template)
    assert '<html lang="zh-hans">' in page
    assert 'href="/"' in page
    assert english_sentences(page) == []


@pytest.mark.parametrize("template", TEMPLATES)
def test_error_pages_render_without_the_static_files_manifest(
    template, settings, tmp_path
):
    # A deployment that has not run collectstatic (yet) still gets its pages.
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
        },
    }
    page = render_to_string(template)
    assert f'href="{settings.STATIC_URL}programs/site.css"' in page


@pytest.mark.usefixtures("catalogue")
@pytest.mark.parametrize("language", LANGUAGES)
def test_an_unknown_private_link_gets_the_404_page_with_ways_on(client, language):
    page = assert_error_page(
        get(client, "/r/no-such-token-here/", language),
        HTTPStatus.NOT_FOUND,
        PAGES[HTTPStatus.NOT_FOUND][1],
        language,
    )
    assert f'href="{reverse("programs:profile_form")}"' in page
    assert f'href="{reverse("programs:programme_list")}"' in page
    assert "no-such-token-here" not in visible_text(page)


@pytest.mark.usefixtures("catalogue")
def test_an_owners_old_link_after_deleting_their_data_gets_the_chinese_404_page(
    client,
):
    token = keep(client)
    client.post(reverse("programs:profile_delete", args=[token]))
    assert BusinessProfile.objects.count() == 0

    response = get(client, reverse("programs:results", args=[token]), "zh-hans")

    page = assert_error_page(
        response, HTTPStatus.NOT_FOUND, "We can't find this page", "zh-hans"
    )
    assert "找不到这个页面" in page
    assert "Not Found" not in page


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_form_refused_by_the_csrf_check_gets_our_403_and_stores_nothing(language):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        reverse("programs:profile_form"),
        {**STALL, "consent_store": "on"},
        headers={"accept-language": language},
    )
    page = assert_error_page(response, HTTPStatus.FORBIDDEN, CSRF_HEADING, language)
    assert translated(CSRF_ADVICE, language) in visible_text(page)
    assert "CSRF" not in visible_text(page)
    assert BusinessProfile.objects.count() == 0


@pytest.mark.usefixtures("catalogue")
def test_after_a_refused_form_reloading_and_sending_again_works():
    client = Client(enforce_csrf_checks=True)
    form = reverse("programs:profile_form")
    answers = {**STALL, "consent_store": "on"}
    assert client.post(form, answers).status_code == HTTPStatus.FORBIDDEN

    client.get(form)  # the reload sets a fresh CSRF cookie
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    response = client.post(form, {**answers, "csrfmiddlewaretoken": token})

    assert response.status_code == HTTPStatus.FOUND
    assert BusinessProfile.objects.count() == 1


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_request_for_a_host_we_do_not_serve_gets_our_400(client, language):
    response = client.get(
        "/", headers={"accept-language": language, "host": "unknown.example"}
    )
    assert_error_page(
        response, HTTPStatus.BAD_REQUEST, PAGES[HTTPStatus.BAD_REQUEST][1], language
    )
