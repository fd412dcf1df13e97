"""The results page behind a private link: a constant number of queries, and a
rendered body reused only while nothing it shows has changed."""

from __future__ import annotations

import re
from http import HTTPStatus

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from programs.catalogue import store
from programs.journey import kept
from programs.models import Programme
from tests.builders import keep
from tests.factories import CriterionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def programmes(count: int) -> None:
    for n in range(count):
        CriterionFactory(
            programme__slug=f"scaled-{n:03d}",
            field="employees",
            operator="lte",
            value=str(5 + n),
        )
        CriterionFactory(
            programme=Programme.objects.get(slug=f"scaled-{n:03d}"),
            field="province",
            operator="one_of",
            value=["CN-HB", "CN-ZJ"],
            group=2,
        )


def queries_for_results(client, django_assert_max_num_queries, token) -> int:
    url = reverse("programs:results", args=[token])
    with django_assert_max_num_queries(100) as captured:
        assert client.get(url).status_code == HTTPStatus.OK
    return len(captured.captured_queries)


@pytest.mark.parametrize("cached", [False, True], ids=["first view", "later view"])
def test_results_page_queries_do_not_grow_with_the_number_of_programmes(
    client, django_assert_max_num_queries, cached
):
    counts = []
    for extra in (0, 40):
        programmes(extra)
        token = keep(client)
        if cached:
            client.get(reverse("programs:results", args=[token]))
        else:
            cache.clear()
        counts.append(queries_for_results(client, django_assert_max_num_queries, token))
    assert Programme.objects.count() >= 56
    assert counts[0] == counts[1]
    assert counts[0] <= (4 if cached else 8)


def test_a_later_view_is_served_from_the_cache_with_no_rule_read(
    client, django_assert_num_queries
):
    token = keep(client)
    url = reverse("programs:results", args=[token])
    client.get(url)  # shows the "results are kept" message once
    first = client.get(url).content.decode()
    cache.clear()
    client.get(url)
    # The private link's row, with the catalogue revision in the same query; no
    # programme, rule or result.
    with django_assert_num_queries(1) as captured:
        again = client.get(url).content.decode()
    assert not any("programme" in q["sql"] for q in captured.captured_queries)
    assert strip_csrf(again) == strip_csrf(first)


def strip_csrf(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def csrf_tokens(html: str) -> set[str]:
    return set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html))


def test_a_cached_page_carries_each_visitors_own_csrf_token():
    owner, other_device = (Client(enforce_csrf_checks=True) for _ in range(2))
    token = keep(Client())
    url = reverse("programs:results", args=[token])
    owner.get(url)  # renders and caches the body
    html = other_device.get(url).content.decode()
    tokens = csrf_tokens(html)
    assert tokens
    assert "placeholder" not in html
    response = other_device.post(
        reverse("programs:email_link", args=[token]),
        {"email": "owner@example.com", "csrfmiddlewaretoken": tokens.pop()},
    )
    assert (
        response.status_code == HTTPStatus.FOUND
    )  # not 403: the token is the device's own


def test_changed_answers_show_at_once(client):
    token = keep(client)
    url = reverse("programs:results", args=[token])
    assert "owner@example.com" not in client.get(url).content.decode()
    client.post(
        reverse("programs:email_link", args=[token]), {"email": "owner@example.com"}
    )
    assert 'value="owner@example.com"' in client.get(url).content.decode()


def test_a_catalogue_change_shows_at_once(client):
    token = keep(client)
    url = reverse("programs:results", args=[token])
    assert "Renamed loans" not in client.get(url).content.decode()
    Programme.objects.filter(slug="mybank-contact-free-loans").update(
        name_en="Renamed loans"
    )
    assert "Renamed loans" in client.get(url).content.decode()


def test_each_language_gets_its_own_page(client):
    token = keep(client)
    url = reverse("programs:results", args=[token])
    english = client.get(url, headers={"accept-language": "en"}).content.decode()
    chinese = client.get(url, headers={"accept-language": "zh-hans"}).content.decode()
    assert "Programmes for your business" in english
    assert "Programmes for your business" not in chinese
    assert '<html lang="zh-hans">' in chinese


def test_deleting_my_data_drops_my_cached_pages_at_once(client):
    from django.utils import translation

    from programs.journey import views
    from programs.models import BusinessProfile

    token = keep(client)
    url = reverse("programs:results", args=[token])
    client.get(url, headers={"accept-language": "en"})
    client.get(url, headers={"accept-language": "zh-hans"})
    row = BusinessProfile.objects.get()
    version = store.current_catalogue().version
    keys = []
    for language in ("en", "zh-hans"):
        with translation.override(language):
            keys.append(views.results_cache_key(row, version, row.as_of))
    assert all(cache.get(key) for key in keys)
    client.post(reverse("programs:profile_delete", args=[token]))
    assert [cache.get(key) for key in keys] == [None, None]


def links_to_my_profile(html: str) -> set[str]:
    return set(re.findall(r'(?:href|action|value)="/r/([^/"]+)/', html))


def test_a_cached_page_links_back_by_the_link_each_visitor_came_by(client):
    from programs.models import BusinessProfile

    token = keep(client)
    signed = kept.signed_link_token(BusinessProfile.objects.get())
    client.get(reverse("programs:results", args=[token]))  # renders and caches
    by_email = client.get(reverse("programs:results", args=[signed])).content.decode()
    by_link = client.get(reverse("programs:results", args=[token])).content.decode()
    # Edit, answer, email, delete, reports and the language switch's return.
    assert links_to_my_profile(by_email) == {signed}
    assert links_to_my_profile(by_link) == {token}
    assert by_email.count(signed) >= 6
    assert "placeholder" not in by_email + by_link


def test_a_cached_page_shows_this_requests_messages_once(client):
    token = keep(client)
    url = reverse("programs:results", args=[token])
    client.get(url)
    client.get(url)  # cached now, with no message
    response = client.post(
        reverse("programs:email_link", args=[token]), {"email": "not an address"}
    )
    assert response.status_code == HTTPStatus.FOUND
    with_message = client.get(url).content.decode()
    assert "Enter a valid email address." in with_message
    assert 'class="alert alert-danger"' in with_message
    assert "Enter a valid email address." not in client.get(url).content.decode()


def test_switching_language_on_a_cached_page_returns_to_it(client):
    token = keep(client)
    url = reverse("programs:results", args=[token])
    client.get(url)
    html = client.get(url).content.decode()
    assert f'name="next" type="hidden" value="{url}"' in html
    response = client.post(
        reverse("set_language"),
        {"language": "zh-hans", "next": url},
        headers={"accept-language": "en"},
    )
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == url
    assert '<html lang="zh-hans">' in client.get(url).content.decode()
