"""Access and privacy protections: admin lockouts, security headers and CSP,
the request size limit, and logs without tokens or email addresses."""

from __future__ import annotations

import csv
import datetime
import io
import json
import logging
import re
import runpy
from html.parser import HTMLParser
from http import HTTPStatus
from pathlib import Path
from types import SimpleNamespace

import pytest
from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpResponse
from django.test import RequestFactory, override_settings
from django.urls import reverse
from django.utils import timezone
from gunicorn.config import Config

from programs.api import keys, screening
from programs.journey import alerts
from programs.models import BusinessProfile, ThrottleCount
from reliefmatch.logging import RedactSecrets, redact
from reliefmatch.middleware import RequestBodyLimitMiddleware, client_ip
from tests.builders import make_profile
from tests.factories import kept_profile

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]

BASE_DIR = Path(__file__).resolve().parent.parent
LOGIN = reverse("admin:login")
PASSWORD = "correct horse battery staple"
STALL = {
    "business_type": "street_stall",
    "registration": "individual_business",
    "province": "CN-HB",
    "city": "武汉",
    "employees": "1",
    "cash_runway_months": "0.5",
    "platforms": ["alipay_merchant"],
    "needs": ["financing", "stock_sourcing"],
    "as_of": "2020-06-15",
}


@pytest.fixture
def staff():
    return User.objects.create_superuser("admin", "admin@example.com", PASSWORD)


def log_in(client, username: str, password: str, address: str = "127.0.0.1", **meta):
    return client.post(
        LOGIN,
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
        **meta,
    )


def fail_until_locked(client, username: str, **meta) -> list[int]:
    """Fail to log in AXES_FAILURE_LIMIT times; return the status codes seen."""
    return [
        log_in(client, username, "wrong password", **meta).status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


# -- admin login lockouts -------------------------------------------------------------


def test_admin_login_locks_after_the_failure_limit_and_then_refuses_the_right_password(
    client, staff
):
    statuses = fail_until_locked(client, "admin")
    assert statuses[:-1] == [HTTPStatus.OK] * (settings.AXES_FAILURE_LIMIT - 1)
    assert statuses[-1] == HTTPStatus.TOO_MANY_REQUESTS

    response = log_in(client, "admin", PASSWORD)
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert not signed_in(client)
    html = response.content.decode()
    assert "Too many failed sign-in attempts" in html
    assert "Try again in 15 minutes" in html
    assert response["Retry-After"] == str(15 * 60)
    # The page neither confirms the account exists nor echoes the username.
    assert 'value="admin"' not in html


def test_failure_limit_and_cool_off_default_to_five_and_fifteen_minutes():
    assert settings.AXES_FAILURE_LIMIT == 5
    assert datetime.timedelta(minutes=15) == settings.AXES_COOLOFF_TIME
    assert (
        settings.AXES_HANDLER == "reliefmatch.login_lockout.AddressAwareDatabaseHandler"
    )


def test_a_lockout_does_not_lock_another_user_from_the_same_address(client, staff):
    User.objects.create_superuser("colleague", "c@example.com", PASSWORD)
    fail_until_locked(client, "admin")

    response = log_in(client, "colleague", PASSWORD)
    assert response.status_code == HTTPStatus.FOUND
    assert signed_in(client)


def test_a_lockout_does_not_lock_the_same_user_out_from_another_address(client, staff):
    fail_until_locked(client, "admin", address="203.0.113.7")

    response = log_in(client, "admin", PASSWORD, address="198.51.100.9")
    assert response.status_code == HTTPStatus.FOUND


def test_lockout_ends_after_the_cool_off(client, staff):
    fail_until_locked(client, "admin")
    assert log_in(client, "admin", PASSWORD).status_code == HTTPStatus.TOO_MANY_REQUESTS

    # Travel past the cool-off: the recorded failures are now that old.
    long_ago = timezone.now() - settings.AXES_COOLOFF_TIME - datetime.timedelta(1)
    AccessAttempt.objects.update(attempt_time=long_ago)

    response = log_in(client, "admin", PASSWORD)
    assert response.status_code == HTTPStatus.FOUND
    assert signed_in(client)


def test_resetting_the_attempts_unlocks_at_once(client, staff):
    fail_until_locked(client, "admin")
    assert axes_reset(username="admin") == 1

    assert log_in(client, "admin", PASSWORD).status_code == HTTPStatus.FOUND


def test_a_successful_login_forgets_earlier_failures(client, staff):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "admin", "wrong password")
    assert log_in(client, "admin", PASSWORD).status_code == HTTPStatus.FOUND
    client.logout()

    assert log_in(client, "admin", "wrong password").status_code == HTTPStatus.OK
    assert AccessAttempt.objects.get().failures_since_start == 1


def test_a_forged_forwarded_for_header_does_not_escape_the_lockout(client, staff):
    for n in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "admin", "wrong", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")

    response = log_in(client, "admin", PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS


@override_settings(TRUSTED_PROXIES=["10.0.0.1"])
def test_behind_a_proxy_lockouts_follow_the_forwarded_client_address(client, staff):
    proxy = {"address": "10.0.0.1"}
    fail_until_locked(client, "admin", HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy)
    locked = log_in(
        client, "admin", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy
    )
    assert locked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert AccessAttempt.objects.get().ip_address == "203.0.113.7"

    other = log_in(
        client, "admin", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.9", **proxy
    )
    assert other.status_code == HTTPStatus.FOUND


@pytest.mark.parametrize(
    ("trusted", "remote", "forwarded", "expected"),
    [
        ([], "10.0.0.1", "203.0.113.7", "10.0.0.1"),
        (["10.0.0.1"], "10.0.0.1", None, "10.0.0.1"),
        (["10.0.0.1"], "10.0.0.1", "203.0.113.7", "203.0.113.7"),
        # What the client wrote before the proxy's own entry is never believed.
        (["10.0.0.1"], "10.0.0.1", "6.6.6.6, 203.0.113.7", "203.0.113.7"),
        (["10.0.0.0/24"], "10.0.0.1", "6.6.6.6, 203.0.113.7, 10.0.0.2", "203.0.113.7"),
        # A connection from anyone else: its own address, whatever the header.
        (["10.0.0.1"], "198.51.100.4", "203.0.113.7", "198.51.100.4"),
        (["127.0.0.1", "::1"], "::1", "2001:db8::7", "2001:db8::7"),
        # Nonsense in the header stops at the last trusted hop.
        (["10.0.0.1"], "10.0.0.1", "not-an-address", "10.0.0.1"),
        # Every hop a trusted proxy: the left-most is the client.
        (["10.0.0.0/24"], "10.0.0.1", "10.0.0.9, 10.0.0.2", "10.0.0.9"),
    ],
)
def test_client_address_trusts_forwarded_for_only_from_configured_proxies(
    rf, trusted, remote, forwarded, expected
):
    meta = {"REMOTE_ADDR": remote}
    if forwarded:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    with override_settings(TRUSTED_PROXIES=trusted):
        assert client_ip(rf.get("/", **meta)) == expected


# -- security headers -----------------------------------------------------------------


def test_pages_forbid_framing_sniffing_and_cross_site_referrers(client):
    response = client.get(reverse("programs:profile_form"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_no_cookie_is_readable_by_scripts(client):
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    response = client.get(reverse("programs:profile_form"))
    assert response.cookies["csrftoken"]["httponly"]
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME]["httponly"]
    assert settings.SESSION_COOKIE_HTTPONLY


def test_plain_http_is_served_without_a_redirect_when_https_is_off(client):
    response = client.get(reverse("programs:home"))
    assert response.status_code == HTTPStatus.OK
    assert "Strict-Transport-Security" not in response


# -- Content-Security-Policy ----------------------------------------------------------


def parse_policy(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


class InlineCode(HTMLParser):
    """Collect what a policy without 'unsafe-inline' would block."""

    #: Script types that are data, not code: never run, so CSP does not apply.
    DATA_TYPES = {"application/json", "application/ld+json"}

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        script_type = (names.get("type") or "").lower()
        if (
            tag == "script"
            and "src" not in names
            and script_type not in self.DATA_TYPES
        ):
            self.problems.append(f"inline <script> {attrs}")
        if tag == "style":
            self.problems.append("<style> block")
        if tag == "link" and (names.get("href") or "").startswith(
            ("http:", "https:", "//")
        ):
            self.problems.append(f"external stylesheet {names['href']}")
        if tag in {"script", "img", "iframe"} and re.match(
            r"(https?:)?//", names.get("src") or ""
        ):
            self.problems.append(f"external <{tag}> {names['src']}")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…> handler")
            if name == "style":
                self.problems.append(f"<{tag} style={value!r}>")
            if (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:…>")


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    parser.close()
    return parser.problems


def assert_strict_policy(response) -> None:
    assert "Content-Security-Policy" in response, response.request["PATH_INFO"]
    header = response["Content-Security-Policy"]
    policy = parse_policy(header)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert "unsafe-inline" not in header
    assert "unsafe-eval" not in header
    assert not re.search(r"https?:|\*", header), header


@pytest.fixture
def token(client):
    response = client.post(
        reverse("programs:profile_form"), {**STALL, "consent_store": "on"}
    )
    assert response.status_code == HTTPStatus.FOUND
    return response["Location"].split("/")[2]


PUBLIC_PAGES = [
    "/",
    "/check/",
    "/programmes/",
    "/programmes/mybank-contact-free-loans/",
    "/programmes/?provider=jd&open_on=2020-06-15",
]


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_send_a_strict_policy_and_have_no_inline_code(client, path):
    response = client.get(path)
    assert response.status_code == HTTPStatus.OK
    assert_strict_policy(response)
    assert inline_code(response.content.decode()) == []


def test_results_form_errors_and_private_pages_have_no_inline_code(client, token):
    responses = [
        client.post(reverse("programs:profile_form"), STALL),  # unsaved results
        client.post(reverse("programs:profile_form"), {"business_type": "castle"}),
        client.get(f"/r/{token}/"),
        client.get(f"/r/{token}/edit/"),
        client.get(f"/r/{token}/delete/"),
    ]
    row = BusinessProfile.objects.get()
    row_with_alerts = alerts.unsubscribe_link(row).removeprefix(settings.SITE_URL)
    responses.append(client.get(row_with_alerts))
    for response in responses:
        assert response.status_code == HTTPStatus.OK, response.request["PATH_INFO"]
        assert_strict_policy(response)
        assert inline_code(response.content.decode()) == [], response.request[
            "PATH_INFO"
        ]


def test_admin_pages_and_match_report_charts_have_no_inline_code(admin_client):
    kept_profile(
        make_profile(business_type="street_stall", province="CN-HB", employees=1),
        as_of=datetime.date(2020, 6, 15),
    )
    report = admin_client.get(reverse("admin:programs_match_report"))
    assert report.status_code == HTTPStatus.OK
    html = report.content.decode()
    assert len(re.findall(r'<svg[^>]*role="img"', html)) == 2  # both charts, inline
    assert 'fill="' in html  # coloured with presentation attributes
    pages = [
        report,
        admin_client.get(reverse("admin:index")),
        admin_client.get(reverse("screening")),
        admin_client.get(reverse("admin:programs_programme_impact")),
        admin_client.get(reverse("admin:programs_programme_changelist")),
    ]
    for response in pages:
        assert response.status_code == HTTPStatus.OK, response.request["PATH_INFO"]
        assert_strict_policy(response)
        assert inline_code(response.content.decode()) == [], response.request[
            "PATH_INFO"
        ]


def test_admin_login_and_lockout_pages_have_no_inline_code(client, staff):
    login = client.get(LOGIN)
    assert_strict_policy(login)
    assert inline_code(login.content.decode()) == []
    fail_until_locked(client, "admin")
    lockout = log_in(client, "admin", PASSWORD)
    assert lockout.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert_strict_policy(lockout)
    assert inline_code(lockout.content.decode()) == []


def test_api_docs_run_under_the_same_strict_policy(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == HTTPStatus.OK
    assert_strict_policy(response)
    html = response.content.decode()
    # Swagger UI's settings are a JSON data block, which is never executed.
    assert 'type="application/json"' in html
    assert inline_code(html) == []


# -- request size limit ---------------------------------------------------------------


def too_big() -> int:
    return settings.REQUEST_MAX_BODY_BYTES + 1


def assert_refused_as_too_large(response) -> None:
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert "This request is too large" in response.content.decode()


def test_an_oversized_profile_form_gets_413_and_nothing_is_kept(client):
    response = client.post(
        reverse("programs:profile_form"),
        {**STALL, "consent_store": "on", "city": "x" * too_big()},
    )
    assert_refused_as_too_large(response)
    assert response["Content-Type"].startswith("text/plain")
    assert not BusinessProfile.objects.exists()


def test_the_413_message_follows_the_browsers_language(client):
    response = client.post(
        reverse("programs:profile_form"),
        {"city": "x" * too_big()},
        headers={"accept-language": "zh-CN,zh;q=0.9"},
    )
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert response["Content-Language"] == "zh-hans"


def test_an_oversized_match_request_gets_413_before_the_api_counts_it(client):
    body = json.dumps({**STALL, "city": "x" * too_big()})
    response = client.post("/api/v1/match", body, content_type="application/json")
    assert_refused_as_too_large(response)
    assert response.json()["detail"].startswith("This request is too large")
    assert not ThrottleCount.objects.exists()


def test_an_oversized_screening_upload_gets_413_and_the_key_is_not_even_checked(client):
    row, key = keys.api_key_create(name="Yiwu market association")
    upload = SimpleUploadedFile("big.csv", b"x" * too_big(), content_type="text/csv")
    response = client.post(
        "/api/v1/screenings/csv", {"file": upload}, headers={"X-API-Key": key}
    )
    assert_refused_as_too_large(response)
    row.refresh_from_db()
    assert row.last_used_at is None
    assert not ThrottleCount.objects.exists()


def test_an_oversized_upload_on_the_staff_screening_page_gets_413(admin_client):
    upload = SimpleUploadedFile("big.csv", b"x" * too_big(), content_type="text/csv")
    response = admin_client.post(reverse("screening"), {"file": upload})
    assert_refused_as_too_large(response)


def test_the_body_is_refused_by_its_declared_length_without_being_read(client):
    # The test client's payload raises if more than its 2 bytes were read.
    response = client.generic(
        "POST",
        reverse("programs:profile_form"),
        b"{}",
        content_type="application/json",
        CONTENT_LENGTH=str(too_big()),
    )
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE


def test_a_body_without_declared_length_is_cut_off_at_the_limit():
    def view(request):
        return HttpResponse(str(len(request.body)))

    middleware = RequestBodyLimitMiddleware(convert_exception_to_response(view))

    def chunked(size: int):
        request = RequestFactory().post("/api/v1/match", b"", "application/json")
        request.META.pop("CONTENT_LENGTH", None)
        request._stream = io.BytesIO(b"x" * size)
        return request

    refused = middleware(chunked(too_big()))
    assert refused.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    accepted = middleware(chunked(1000))
    assert accepted.status_code == HTTPStatus.OK
    assert accepted.content == b"1000"


def full_profile(n: int) -> dict:
    return {
        **STALL,
        "employees": n % 50 + 1,
        "annual_revenue_cny": 300000,
        "years_operating": 3,
        "export_share_pct": 10,
        "export_markets": ["us", "eu"],
        "platforms": ["alipay_merchant", "wechat_pay_merchant", "taobao"],
        "cash_runway_months": 2,
        "revenue_change_pct": -40,
        "needs": ["financing", "rent_relief", "stock_sourcing"],
    }


def test_the_largest_legitimate_requests_fit_under_the_limit(client):
    _row, key = keys.api_key_create(name="Yiwu market association")
    profiles = [full_profile(n) for n in range(screening.MAX_SCREENING_ROWS)]
    body = json.dumps({"profiles": profiles, "as_of": "2020-06-15"})
    assert len(body) < settings.REQUEST_MAX_BODY_BYTES
    response = client.post(
        "/api/v1/screenings",
        body,
        content_type="application/json",
        headers={"X-API-Key": key},
    )
    assert response.status_code == HTTPStatus.OK
    assert response.json()["rows"] == screening.MAX_SCREENING_ROWS

    # A CSV just under the screening limit is read, and refused by its own rule.
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["business_type", "province", "needs", "city"])
    while text.tell() < screening.MAX_SCREENING_BYTES - 100:
        writer.writerow(["street_stall", "CN-HB", "financing", "x" * 60])
    upload = SimpleUploadedFile("ok.csv", text.getvalue().encode(), "text/csv")
    response = client.post(
        "/api/v1/screenings/csv", {"file": upload}, headers={"X-API-Key": key}
    )
    assert response.status_code != HTTPStatus.REQUEST_ENTITY_TOO_LARGE


def test_a_normal_profile_form_is_still_kept(client):
    response = client.post(
        reverse("programs:profile_form"), {**STALL, "consent_store": "on"}
    )
    assert response.status_code == HTTPStatus.FOUND
    assert BusinessProfile.objects.count() == 1


# -- logs -----------------------------------------------------------------------------


@pytest.fixture
def console_log():
    """The text written by the console handler configured in settings.LOGGING."""
    handlers = [
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(f, RedactSecrets) for f in handler.filters)
    ]
    assert len(handlers) == 1, "settings.LOGGING has one redacting console handler"
    handler = handlers[0]
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def test_a_404_on_an_unknown_private_link_is_logged_without_its_token(
    client, console_log
):
    secret = "Zq3xVt9Lm2Rk8Wp4Yc7Nb1Hd6Gf5Js0Ae-_unknown"
    assert client.get(f"/r/{secret}/").status_code == HTTPStatus.NOT_FOUND
    assert client.get(f"/r/{secret}/edit/").status_code == HTTPStatus.NOT_FOUND

    logged = console_log.getvalue()
    assert "Not Found: /r/[redacted]/" in logged
    assert "Not Found: /r/[redacted]/edit/" in logged
    assert secret not in logged


def test_a_404_on_a_forged_unsubscribe_link_is_logged_without_its_token(
    client, console_log
):
    forged = "eyJwIjoxMjN9:1tQxyz:forgedSignatureValue"
    response = client.get(f"/alerts/unsubscribe/{forged}/")
    assert response.status_code == HTTPStatus.NOT_FOUND
    logged = console_log.getvalue()
    assert "/alerts/unsubscribe/[redacted]/" in logged
    assert "forgedSignatureValue" not in logged


def test_tracebacks_and_email_addresses_are_redacted_in_the_console_log(console_log):
    logger = logging.getLogger("django.request")
    try:
        raise ValueError("no profile for /r/SecretToken123456789/ of owner@example.com")
    except ValueError:
        logger.exception("Internal Server Error: %s", "/r/SecretToken123456789/")

    logged = console_log.getvalue()
    assert "Internal Server Error: /r/[redacted]/" in logged
    assert "ValueError: no profile for /r/[redacted]/ of [redacted]" in logged
    assert "SecretToken123456789" not in logged
    assert "owner@example.com" not in logged


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /r/abc123XYZ/report.pdf", "GET /r/[redacted]/report.pdf"),
        ("/r/s.eyJh:1t:sig/answer/", "/r/[redacted]/answer/"),
        ("/alerts/unsubscribe/eyJ:1t:sig/", "/alerts/unsubscribe/[redacted]/"),
        (
            "/i18n/setlang/?next=%2Fr%2Fabc123%2F",
            "/i18n/setlang/?next=%2Fr%2F[redacted]%2F",
        ),
        ("sent to a.b+c@example.com.cn", "sent to [redacted]"),
        ("key rm_0a1b2c3d_AbCd-eF_gh", "key rm_0a1b2c3d_[redacted]"),
        (
            "/programmes/jd-spark/ /admin/programs/",
            "/programmes/jd-spark/ /admin/programs/",
        ),
    ],
)
def test_redact_hides_tokens_keys_and_emails_and_keeps_other_paths(text, expected):
    assert redact(text) == expected


def gunicorn_logger():
    """Gunicorn's logger as gunicorn.conf.py configures it, writing to a buffer."""
    conf = runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))
    cfg = Config()
    for name in ("accesslog", "access_log_format", "logger_class"):
        cfg.set(name, conf[name])
    logger = cfg.logger_class(cfg)
    buffer = io.StringIO()
    for log in (logger.access_log, logger.error_log):
        for handler in log.handlers:
            handler.setStream(buffer)
    return logger, buffer


def test_gunicorn_access_log_redacts_private_link_tokens():
    logger, buffer = gunicorn_logger()
    secret = "Zq3xVt9Lm2Rk8Wp4Yc7Nb1Hd6Gf5Js0Ae"
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/r/{secret}/edit/?lang=zh",
        "PATH_INFO": f"/r/{secret}/edit/",
        "QUERY_STRING": "lang=zh",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "HTTP_REFERER": f"https://reliefmatch.example.cn/r/{secret}/",
    }
    request = SimpleNamespace(headers=[("REFERER", environ["HTTP_REFERER"])])
    response = SimpleNamespace(status="200 OK", headers=[], sent=512)

    atoms = logger.atoms(response, request, environ, datetime.timedelta(seconds=0.05))
    assert secret not in json.dumps(atoms, default=str)

    logger.access(response, request, environ, datetime.timedelta(seconds=0.05))
    line = buffer.getvalue()
    assert '"GET /r/[redacted]/edit/" 200 512' in line
    assert secret not in line


def test_gunicorn_error_log_redacts_tokens():
    logger, buffer = gunicorn_logger()
    logger.error("Error handling request %s", "/alerts/unsubscribe/eyJ:1t:sig/")
    assert "/alerts/unsubscribe/[redacted]/" in buffer.getvalue()
    assert "eyJ:1t:sig" not in buffer.getvalue()


def test_gunicorn_access_log_keeps_no_query_strings():
    conf = runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))
    assert "%(U)s" in conf["access_log_format"]
    assert "%(r)s" not in conf["access_log_format"]
    assert "%(q)s" not in conf["access_log_format"]


@pytest.mark.parametrize(
    "url",
    [
        "/admin/programs/businessprofile/?business_type__exact=%00",
        "/admin/programs/storedresult/?outcome__exact=%00",
        "/admin/programs/programme/?status__exact=%00",
        "/admin/programs/businessprofile/?q=abc%00",
        "/programmes/?province=%00",
    ],
)
def test_a_nul_in_the_query_string_is_refused_with_400_not_a_database_error(
    client, url
):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("root", password="pw"))
    response = client.get(url)
    assert response.status_code == 400
    assert "NUL" in response.content.decode()
