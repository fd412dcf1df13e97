from __future__ import annotations

from http import HTTPStatus

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_home_page_renders_in_english_by_default(client):
    response = client.get(reverse("programs:home"))
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert '<html lang="en">' in html
    assert "Find the relief programmes that fit your business" in html
    assert "14%" in html


def test_home_page_follows_a_chinese_browser(client):
    response = client.get(
        reverse("programs:home"), headers={"accept-language": "zh-CN,zh;q=0.9"}
    )
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html
    assert "找到适合您生意的纾困项目" in html


def test_language_choice_sticks_after_switching(client):
    response = client.post(
        reverse("set_language"), {"language": "zh-hans", "next": "/"}, follow=True
    )
    assert response.status_code == HTTPStatus.OK
    assert '<html lang="zh-hans">' in response.content.decode()
    # A later visit with an English browser still gets the chosen language.
    again = client.get(reverse("programs:home"), headers={"accept-language": "en"})
    assert '<html lang="zh-hans">' in again.content.decode()


def test_base_template_has_skip_link_and_local_bootstrap(client):
    html = client.get(reverse("programs:home")).content.decode()
    assert 'href="#main"' in html
    assert 'id="main"' in html
    assert "/static/vendor/bootstrap/bootstrap.min.css" in html
    assert "cdn" not in html.lower()


def test_healthz_answers_200_when_the_database_answers(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok", "database": "ok"}


# The health check's 503 (a refused, a hung and a missing database): tests/test_outage.py.
