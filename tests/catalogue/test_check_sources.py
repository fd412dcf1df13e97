"""Checking source and application links: statuses, changes, verification, flags.

Every fetch goes to a local HTTP server on 127.0.0.1; nothing leaves the machine.
"""

from __future__ import annotations

import datetime
import io
import socket
import ssl
import threading
import urllib.error
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from programs.catalogue import link_checks, loader
from programs.models import LinkCheck, Programme, Source
from tests.builders import SMALL_CATALOGUE
from tests.factories import ProgrammeFactory

pytestmark = pytest.mark.django_db

TIMEOUT = 0.5
CHANGELIST = reverse("admin:programs_programme_changelist")
CHINESE = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that stopped reading (a 404's body, a timeout) is expected


class Site:
    """A local web server whose pages the tests change between checks."""

    def __init__(self) -> None:
        self.pages = {"/ok": b"<h1>Loans for stalls</h1>", "/page": b"version 1"}
        self.release = threading.Event()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/moved":
                    self.send_response(HTTPStatus.FOUND)
                    self.send_header("Location", "/ok")
                    self.end_headers()
                    return
                if self.path == "/slow":
                    site.release.wait(5)  # far beyond the timeout
                body = site.pages.get(self.path)
                if body is None:
                    self.send_error(HTTPStatus.NOT_FOUND)
                    return
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    site = Site()
    yield site
    site.close()


def closed_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def programme_with_links(site: Site, *paths: str, apply: str = "", **kw) -> Programme:
    programme = ProgrammeFactory(
        apply_url=site.url(apply) if apply else "",
        last_verified_on=kw.pop("last_verified_on", timezone.localdate()),
        **kw,
    )
    for i, path in enumerate(paths):
        Source.objects.create(
            programme=programme, title=f"Source {i}", url=site.url(path)
        )
    return programme


def check(*args: str) -> str:
    out = io.StringIO()
    call_command("check_sources", "--timeout", str(TIMEOUT), *args, stdout=out)
    return out.getvalue()


def row(programme: Programme, url: str, kind: str = "source") -> LinkCheck:
    return LinkCheck.objects.get(programme=programme, url=url, kind=kind)


def reasons(programme: Programme) -> list[link_checks.Reason]:
    return link_checks.review_reasons(Programme.objects.get(pk=programme.pk))


def test_each_link_gets_its_status_final_address_and_hash(site):
    programme = programme_with_links(
        site, "/ok", "/missing", "/moved", "/slow", apply="/ok"
    )
    check()
    ok = row(programme, site.url("/ok"))
    assert (ok.status_code, ok.error, ok.broken) == (HTTPStatus.OK, "", False)
    assert ok.final_url == site.url("/ok")
    assert len(ok.content_hash) == 64
    assert ok.checked_at is not None
    missing = row(programme, site.url("/missing"))
    assert (missing.status_code, missing.content_hash, missing.broken) == (
        HTTPStatus.NOT_FOUND,
        "",
        True,
    )
    moved = row(programme, site.url("/moved"))
    assert (moved.status_code, moved.final_url) == (HTTPStatus.OK, site.url("/ok"))
    assert moved.content_hash == ok.content_hash
    slow = row(programme, site.url("/slow"))
    assert (slow.status_code, slow.error, slow.broken) == (None, "timeout", True)
    kinds = sorted(
        LinkCheck.objects.filter(programme=programme).values_list("kind", flat=True)
    )
    assert kinds == ["apply", "source", "source", "source", "source"]


def test_refused_and_tls_failures_are_named(site):
    refused_url = f"http://127.0.0.1:{closed_port()}/"
    tls_url = site.url("/ok").replace("http://", "https://")
    programme = ProgrammeFactory(apply_url=refused_url)
    Source.objects.create(programme=programme, title="TLS", url=tls_url)
    Source.objects.create(programme=programme, title="Not a link", url="file:///etc")
    check()
    assert row(programme, refused_url, "apply").error == LinkCheck.Error.REFUSED
    assert row(programme, tls_url).error == LinkCheck.Error.TLS
    assert row(programme, "file:///etc").error == LinkCheck.Error.INVALID


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (
            urllib.error.URLError(socket.gaierror(-2, "Name or service not known")),
            "dns",
        ),
        (urllib.error.URLError(ConnectionRefusedError()), "refused"),
        (urllib.error.URLError(TimeoutError()), "timeout"),
        (TimeoutError("read timed out"), "timeout"),
        (ssl.SSLCertVerificationError("certificate verify failed"), "tls"),
        (ConnectionResetError(), "other"),
    ],
)
def test_network_errors_are_classified(error, kind):
    assert link_checks.classify(error) == kind


def test_addresses_without_a_scheme_are_fetched_over_https():
    assert link_checks.web_address("alizila.com/?p=86") == "https://alizila.com/?p=86"
    assert (
        link_checks.web_address("例子.中国/政策 1")
        == "https://xn--fsqu00a.xn--fiqs8s/%E6%94%BF%E7%AD%96%201"
    )
    assert link_checks.web_address("ftp://example.org/") is None


def test_content_changed_since_verification_flags_the_programme(site):
    programme = programme_with_links(site, "/page")
    check()
    assert reasons(programme) == []
    site.pages["/page"] = b"version 2"
    out = check()
    assert row(programme, site.url("/page")).changed_since_verified is True
    assert reasons(programme) == [link_checks.Reason.CHANGED]
    assert "CHANGED 200" in out


def test_marking_verified_clears_the_flag_and_dates_the_programme(site, admin_client):
    programme = programme_with_links(
        site,
        "/page",
        last_verified_on=datetime.date(2020, 1, 1),
    )
    check()
    site.pages["/page"] = b"version 2"
    check()
    assert reasons(programme) == [
        link_checks.Reason.CHANGED,
        link_checks.Reason.STALE,
    ]
    response = admin_client.post(
        CHANGELIST,
        {"action": "mark_sources_verified", "_selected_action": [programme.pk]},
        follow=True,
    )
    assert response.status_code == HTTPStatus.OK
    assert reasons(programme) == []
    programme.refresh_from_db()
    assert programme.last_verified_on == timezone.localdate()
    assert programme.history.first().history_user is not None
    # The verified content is the baseline from now on.
    check()
    assert reasons(programme) == []
    site.pages["/page"] = b"version 3"
    check()
    assert reasons(programme) == [link_checks.Reason.CHANGED]


def test_a_link_broken_when_verified_is_not_flagged_again_until_it_works(site):
    programme = programme_with_links(site, "/later")
    check()
    assert reasons(programme) == [link_checks.Reason.BROKEN]
    link_checks.mark_verified([programme])
    check()
    assert reasons(programme) == []
    site.pages["/later"] = b"back again"
    check()
    assert reasons(programme) == [link_checks.Reason.CHANGED]


@override_settings(SOURCES_STALE_DAYS=30)
def test_programmes_not_verified_within_the_stale_days_are_flagged():
    today = timezone.localdate()
    fresh = ProgrammeFactory(last_verified_on=today - datetime.timedelta(days=30))
    stale = ProgrammeFactory(last_verified_on=today - datetime.timedelta(days=31))
    never = ProgrammeFactory(last_verified_on=None)
    assert reasons(fresh) == []
    assert reasons(stale) == [link_checks.Reason.STALE]
    assert reasons(never) == [link_checks.Reason.STALE]


def test_chinese_admin_sees_the_flag_and_reasons_on_the_list_and_change_page(
    site, admin_client
):
    broken = programme_with_links(
        site,
        "/missing",
        "/page",
        slug="broken-and-changed",
        last_verified_on=timezone.localdate() - datetime.timedelta(days=400),
    )
    fine = programme_with_links(site, "/ok", slug="all-fine")
    check()
    site.pages["/page"] = b"version 2"
    check()

    html = admin_client.get(CHANGELIST, **CHINESE).content.decode()
    assert "资料需要核对" in html
    assert "链接失效、内容有变化、超过180天未核对" in html
    flagged = admin_client.get(
        CHANGELIST, {"needs_checking": "any"}, **CHINESE
    ).content.decode()
    assert broken.slug in flagged
    assert fine.slug not in flagged
    changed = admin_client.get(CHANGELIST, {"needs_checking": "changed"}).content
    assert broken.slug in changed.decode()
    clean = admin_client.get(CHANGELIST, {"needs_checking": "no"}).content.decode()
    assert fine.slug in clean
    assert broken.slug not in clean

    page = admin_client.get(
        reverse("admin:programs_programme_change", args=[broken.pk]), **CHINESE
    ).content.decode()
    assert "链接检查" in page
    assert "HTTP 404" in page
    assert "内容与核对时不同" in page
    assert site.url("/missing") in page


def test_summary_and_fail_on_broken_exit_code(site):
    programme_with_links(site, "/ok", "/moved", slug="good")
    out = check()
    assert out.splitlines()[-1].startswith("Checked 2 links (2 addresses) of 1 ")
    assert "2 ok, 0 broken" in out
    assert f"-> {site.url('/ok')}" in out
    check("--fail-on-broken")  # nothing broken: no error

    programme_with_links(site, "/missing", slug="bad")
    with pytest.raises(CommandError) as raised:
        check("--fail-on-broken")
    assert raised.value.returncode == 1
    assert "2 ok, 1 broken" in str(raised.value)
    out = check()  # without the option the same run ends normally
    assert "BROKEN  404" in out


def test_bad_options_are_refused_and_change_nothing(site):
    programme_with_links(site, "/ok")
    with pytest.raises(CommandError, match="--timeout must be"):
        call_command("check_sources", "--timeout", "soon")
    with pytest.raises(CommandError, match="No programme with slug nope"):
        call_command("check_sources", "--programme", "nope")
    assert not LinkCheck.objects.exists()


def test_reloading_the_catalogue_keeps_the_checks(site, tmp_path):
    path = tmp_path / "catalogue.toml"
    path.write_text(
        SMALL_CATALOGUE.replace('"acme.example"', f'"{site.url("/page")}"'),
        encoding="utf-8",
    )
    loader.load_catalogue(path=path)
    programme = Programme.objects.get(slug="acme-loans")
    check()
    kept = row(programme, site.url("/page"))

    # A changed programme has its sources deleted and recreated by the loader.
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            'name_en = "Acme loans"', 'name_en = "Acme loans, renamed"'
        ),
        encoding="utf-8",
    )
    old_sources = set(programme.sources.values_list("pk", flat=True))
    assert loader.load_catalogue(path=path).updated == ["acme-loans"]
    assert old_sources.isdisjoint(programme.sources.values_list("pk", flat=True))
    assert row(programme, site.url("/page")).pk == kept.pk
    site.pages["/page"] = b"version 2"
    check()
    assert link_checks.Reason.CHANGED in reasons(programme)


def test_links_no_longer_in_the_programme_are_dropped(site):
    programme = programme_with_links(site, "/ok", "/page")
    check()
    Source.objects.filter(programme=programme, url=site.url("/page")).delete()
    check()
    assert list(
        LinkCheck.objects.filter(programme=programme).values_list("url", flat=True)
    ) == [site.url("/ok")]
