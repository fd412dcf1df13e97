"""The database is unreachable (a PostgreSQL restart): a clear 503 "try again", never a 500."""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from http import HTTPStatus
from unittest import mock

import psycopg_pool
import pytest
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.db.utils import ConnectionHandler
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

import reliefmatch.database
from programs.catalogue import store
from programs.journey import kept
from programs.models import BusinessProfile, StoredResult
from reliefmatch.middleware import DATABASE_UNAVAILABLE_MESSAGE
from tests.builders import STALL

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]

API_PROFILE = {
    "business_type": "street_stall",
    "province": "CN-HB",
    "employees": 1,
    "needs": ["financing"],
}
ENGLISH = DATABASE_UNAVAILABLE_MESSAGE


def stored() -> tuple[int, int]:
    return BusinessProfile.objects.count(), StoredResult.objects.count()


def keep(client) -> str:
    response = client.post(
        reverse("programs:profile_form"), {**STALL, "consent_store": "on"}
    )
    assert response.status_code == HTTPStatus.FOUND
    return re.fullmatch(r"/r/([^/]+)/", response["Location"]).group(1)


def database_down():
    """Every query fails as it does while PostgreSQL restarts."""
    return mock.patch.object(
        connection,
        "ensure_connection",
        side_effect=OperationalError("connection refused"),
    )


def assert_try_again_page(response, language: str = "en") -> str:
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response["Retry-After"] == "5"
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert f'<html lang="{language}">' in html
    with translation.override(language):
        assert gettext(ENGLISH) in html
    return html


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("server closed the connection unexpectedly"),
        InterfaceError("connection already closed"),
        psycopg_pool.PoolTimeout("couldn't get a connection after 10.00 sec"),
    ],
    ids=["operational", "interface", "pool-timeout"],
)
def test_a_form_submission_during_an_outage_gets_503_and_stores_nothing(
    client, monkeypatch, error
):
    def fail(**kwargs):
        raise error

    monkeypatch.setattr(kept, "profile_keep", fail)
    before = stored()
    response = client.post(
        reverse("programs:profile_form"), {**STALL, "consent_store": "on"}
    )
    html = assert_try_again_page(response)
    assert "ReliefMatch" in html
    assert "Server Error" not in html
    assert stored() == before


def test_the_page_renders_when_no_query_at_all_can_run(client):
    token = keep(client)
    with database_down():
        response = client.get(reverse("programs:results", args=[token]))
        post = client.post(
            reverse("programs:profile_form"), {**STALL, "consent_store": "on"}
        )
    html = assert_try_again_page(response)
    # A GET can simply be tried again; a POST is sent again from the form.
    assert f'href="/r/{token}/"' in html
    assert_try_again_page(post)
    assert "Go back to the form" in post.content.decode()
    assert stored()[0] == 1


def test_the_page_follows_a_chinese_browser(client, monkeypatch):
    def fail(**kwargs):
        raise OperationalError("the database system is shutting down")

    monkeypatch.setattr(kept, "profile_keep", fail)
    response = client.post(
        reverse("programs:profile_form"),
        {**STALL, "consent_store": "on"},
        headers={"accept-language": "zh-CN,zh;q=0.9"},
    )
    # The Chinese words when the catalogue has them, the English ones until then.
    assert_try_again_page(response, language="zh-hans")
    assert response["Content-Language"] == "zh-hans"


def test_the_message_is_marked_for_translation():
    with (
        translation.override("zh-hans"),
        mock.patch("reliefmatch.middleware.gettext", side_effect=lambda s: f"<<{s}>>"),
    ):
        from reliefmatch.middleware import database_unavailable_response

        request = mock.Mock(path_info="/api/v1/match")
        response = database_unavailable_response(request)
    assert json.loads(response.content) == {"errors": {"__all__": [f"<<{ENGLISH}>>"]}}


def test_an_api_call_during_an_outage_gets_json_503(client, monkeypatch):
    def fail(**kwargs):
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(store, "run_match", fail)
    response = client.post(
        "/api/v1/match", API_PROFILE, content_type="application/json"
    )
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response["Retry-After"] == "5"
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"errors": {"__all__": [ENGLISH]}}


def test_an_api_call_is_answered_even_when_its_rate_limit_cannot_be_counted(client):
    with database_down():
        response = client.get("/api/v1/programmes")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == {"errors": {"__all__": [ENGLISH]}}


def test_the_warning_logged_carries_no_request_data(client, monkeypatch, caplog):
    token = keep(client)

    def fail(**kwargs):
        raise OperationalError("connection to server failed")

    monkeypatch.setattr(kept, "profile_update", fail)
    with caplog.at_level(logging.WARNING, logger="reliefmatch.middleware"):
        response = client.post(
            reverse("programs:profile_edit", args=[token]),
            {**STALL, "city": "Secret Town", "employees": "3"},
        )
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    [record] = [r for r in caplog.records if r.name == "reliefmatch.middleware"]
    assert record.levelno == logging.WARNING
    text = record.getMessage()
    assert "OperationalError" in text
    for secret in (token, "/r/", "Secret Town", "127.0.0.1"):
        assert secret not in text
    assert BusinessProfile.objects.get().city == "武汉"


def test_other_errors_are_still_server_errors(client, monkeypatch):
    def fail(**kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(kept, "profile_keep", fail)
    client.raise_request_exception = False
    response = client.post(
        reverse("programs:profile_form"), {**STALL, "consent_store": "on"}
    )
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR


# -- failing fast: answers within a bound while the database is unreachable --------------


@pytest.fixture
def database_at(monkeypatch):
    """Point the health check at a database of the test's choosing, with the real pool options.

    Returns a function taking Django database settings (ENGINE, NAME, HOST…) and
    returning the connection the health check now uses. Its pool, if any, is
    registered under its own alias, never the test database's.
    """
    made = []

    def point(**database):
        # Django wants a default in every set of databases; it is never used here.
        handler = ConnectionHandler({"default": {}, "elsewhere": database})
        wrapper = handler["elsewhere"]
        made.append(wrapper)
        monkeypatch.setattr(reliefmatch.database, "connections", {"default": wrapper})
        return wrapper

    yield point
    for wrapper in made:
        if getattr(wrapper, "pool", None) is not None:
            wrapper.pool.close(timeout=0)  # connection attempts may still be waiting
            wrapper.close_pool()


def postgres_at(port: int) -> dict:
    """PostgreSQL settings as production has them, for a server at 127.0.0.1:`port`."""
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "reliefmatch",
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": port,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            "pool": dict(settings.DB_POOL_OPTIONS),
            "connect_timeout": settings.DB_CONNECT_TIMEOUT_SECONDS,
        },
    }


@pytest.fixture
def closed_port():
    """A loopback port nothing listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def silent_server():
    """A loopback port that accepts connections and never answers (a hung server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(32)
        yield sock.getsockname()[1]


def timed_get(client, path: str):
    start = time.monotonic()
    response = client.get(path)
    return response, time.monotonic() - start


@pytest.mark.parametrize("server", ["closed_port", "silent_server"])
def test_healthz_answers_503_within_a_second_when_the_database_is_unreachable(
    client, database_at, server, request
):
    client.get(reverse("programs:home"))  # the first request imports and sets up
    database_at(**postgres_at(request.getfixturevalue(server)))
    response, seconds = timed_get(client, reverse("healthz"))
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == {"status": "unavailable", "database": "down"}
    assert seconds < 1


def test_healthz_answers_503_without_a_pool_too(client, database_at, tmp_path):
    database_at(
        ENGINE="django.db.backends.sqlite3",
        NAME=str(tmp_path / "no-such-folder" / "db.sqlite3"),
    )
    response = client.get(reverse("healthz"))
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["database"] == "down"


def test_requests_wait_only_briefly_once_a_reconnection_was_given_up(
    database_at, closed_port
):
    wrapper = database_at(**postgres_at(closed_port))
    wrapper.pool.open()
    usual = settings.DB_POOL_OPTIONS["timeout"]
    # The pool's first attempts are refused; it gives them up after reconnect_timeout.
    deadline = time.monotonic() + 5
    while wrapper.pool.timeout == usual and time.monotonic() < deadline:
        time.sleep(0.05)
    assert wrapper.pool.timeout == reliefmatch.database.DOWN_WAIT_SECONDS
    start = time.monotonic()
    with pytest.raises(OperationalError):
        wrapper.ensure_connection()
    assert time.monotonic() - start < 0.5


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs a PostgreSQL server to connect to"
)
def test_the_usual_wait_comes_back_with_the_first_connection_made(database_at):
    real = connection.settings_dict
    wrapper = database_at(
        **{
            **postgres_at(real["PORT"] or 5432),
            "HOST": real["HOST"],
            "NAME": real["NAME"],
        }
    )
    wrapper.pool.open()
    reliefmatch.database.fail_fast_while_down(wrapper.pool)
    assert wrapper.pool.timeout == reliefmatch.database.DOWN_WAIT_SECONDS
    wrapper.ensure_connection()
    wrapper.close()
    assert wrapper.pool.timeout == settings.DB_POOL_OPTIONS["timeout"]


def test_pages_that_need_no_database_are_served_while_it_is_down(client):
    with database_down():
        pages = {
            path: client.get(path)
            for path in (
                reverse("programs:home"),
                reverse("programs:profile_form"),
                "/static/programs/site.css",
            )
        }
    for path, response in pages.items():
        assert response.status_code == HTTPStatus.OK, path
    assert "Retry-After" not in pages[reverse("programs:profile_form")]
    assert 'name="step"' in pages[reverse("programs:profile_form")].content.decode()
