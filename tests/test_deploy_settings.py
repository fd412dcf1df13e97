"""Production settings, checked in a fresh interpreter so the environment is real:
`check --deploy` is clean with only the required variables set (HTTPS is on by
default with debug off), plain HTTP still works with DJANGO_HTTPS=0, and a
proxy list that cannot be right stops the app from starting."""

from __future__ import annotations

import json
import os
import runpy
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent

# A database that exists only in the child process: nothing is written here.
IN_MEMORY_DB = "sqlite://:memory:"


def production_env(**overrides: str | None) -> dict[str, str]:
    """The environment of a production run: debug off, a real key, known hosts."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("DJANGO_", "DATABASE_URL", "DB_POOL", "GUNICORN_", "AXES_", "REQUEST_")
        )
    }
    env.update(
        DJANGO_SETTINGS_MODULE="reliefmatch.settings",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="reliefmatch.example.cn,testserver",
        DATABASE_URL=IN_MEMORY_DB,
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run(args: list[str], **overrides: str | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=production_env(**overrides),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def check_deploy(**overrides: str | None) -> subprocess.CompletedProcess[str]:
    return run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **overrides
    )


# Requests through Django's test client in the child: status, Location, HSTS.
FETCH = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
client = Client()
out = {"settings": {
    name: getattr(settings, name, None)
    for name in (
        "DEBUG", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD",
        "SECURE_PROXY_SSL_HEADER", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY", "CSRF_COOKIE_HTTPONLY", "X_FRAME_OPTIONS",
        "SECURE_REFERRER_POLICY", "SECURE_CONTENT_TYPE_NOSNIFF",
    )
}}
for name, path, extra in (
    ("http_page", "/no-such-page/", {}),
    ("http_healthz", "/healthz", {}),
    ("https_page", "/no-such-page/", {"secure": True}),
    ("proxied_https_page", "/no-such-page/", {"headers": {"x-forwarded-proto": "https"}}),
    ("untrusted_proxied_https_page", "/no-such-page/",
     {"headers": {"x-forwarded-proto": "https"}, "REMOTE_ADDR": "198.51.100.4"}),
):
    response = client.get(path, **extra)
    out[name] = {
        "status": response.status_code,
        "location": response.get("Location"),
        "hsts": response.get("Strict-Transport-Security"),
    }
print(json.dumps(out))
"""


def fetch(**overrides: str | None) -> dict:
    result = run(["-c", FETCH], **overrides)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_check_deploy_passes_without_warnings_with_only_the_required_variables():
    result = check_deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_check_deploy_warns_about_plain_http_when_https_is_turned_off():
    result = check_deploy(DJANGO_HTTPS="0")
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012"):
        assert warning in result.stderr


@pytest.mark.parametrize("https", [None, "1"])
def test_https_is_on_by_default_with_redirect_hsts_and_secure_cookies(https):
    out = fetch(DJANGO_HTTPS=https)
    configured = out["settings"]
    assert configured["DEBUG"] is False
    assert configured["SECURE_SSL_REDIRECT"] is True
    assert configured["SECURE_HSTS_SECONDS"] == 365 * 24 * 60 * 60
    assert configured["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert configured["SECURE_HSTS_PRELOAD"] is True
    assert configured["SESSION_COOKIE_SECURE"] is True
    assert configured["CSRF_COOKIE_SECURE"] is True
    # Without trusted proxies, X-Forwarded-Proto is not believed.
    assert configured["SECURE_PROXY_SSL_HEADER"] is None

    assert out["http_page"]["status"] == 301
    assert out["http_page"]["location"] == "https://testserver/no-such-page/"
    assert out["https_page"]["status"] == 404
    assert out["https_page"]["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert out["proxied_https_page"]["status"] == 301
    # The health check stays reachable over plain HTTP for a local monitor.
    assert out["http_healthz"]["status"] == 200


def test_behind_a_trusted_proxy_https_is_recognised_from_x_forwarded_proto():
    # The test client connects from 127.0.0.1, the trusted proxy here.
    out = fetch(DJANGO_TRUSTED_PROXIES="127.0.0.1,::1")
    assert out["settings"]["SECURE_PROXY_SSL_HEADER"] == [
        "HTTP_X_FORWARDED_PROTO",
        "https",
    ]
    assert out["proxied_https_page"]["status"] == 404
    assert out["proxied_https_page"]["hsts"].startswith("max-age=31536000")
    assert out["http_page"]["status"] == 301
    # The same header from any other address is dropped: still plain HTTP.
    assert out["untrusted_proxied_https_page"]["status"] == 301
    assert out["untrusted_proxied_https_page"]["hsts"] is None


def test_with_https_turned_off_the_app_serves_plain_http_without_redirects():
    out = fetch(DJANGO_HTTPS="0", DJANGO_TRUSTED_PROXIES="127.0.0.1")
    configured = out["settings"]
    assert configured["SECURE_SSL_REDIRECT"] is False
    assert configured["SECURE_HSTS_SECONDS"] == 0
    assert configured["SESSION_COOKIE_SECURE"] is False
    assert configured["SECURE_PROXY_SSL_HEADER"] is None
    assert out["http_page"] == {"status": 404, "location": None, "hsts": None}
    assert out["http_healthz"]["status"] == 200


def test_security_headers_and_cookie_flags_are_on_in_every_mode():
    for https in ("1", "0"):
        configured = fetch(DJANGO_HTTPS=https)["settings"]
        assert configured["X_FRAME_OPTIONS"] == "DENY"
        assert configured["SECURE_REFERRER_POLICY"] == "same-origin"
        assert configured["SECURE_CONTENT_TYPE_NOSNIFF"] is True
        assert configured["SESSION_COOKIE_HTTPONLY"] is True
        assert configured["CSRF_COOKIE_HTTPONLY"] is True


def test_hsts_duration_can_be_shortened_while_trying_https_out():
    out = fetch(DJANGO_HTTPS="1", DJANGO_HSTS_SECONDS="300")
    assert out["settings"]["SECURE_HSTS_SECONDS"] == 300


def test_lockout_limits_come_from_the_environment():
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME.total_seconds())"
    )
    result = run(["-c", code], AXES_FAILURE_LIMIT="3", AXES_COOLOFF_MINUTES="60")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["3", "3600.0"]


def test_debug_serves_plain_http_unless_https_is_asked_for():
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.SECURE_SSL_REDIRECT, settings.SESSION_COOKIE_SECURE)"
    )
    result = run(["-c", code], DJANGO_DEBUG="1", DJANGO_HTTPS=None)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["False", "False"]
    result = run(["-c", code], DJANGO_DEBUG="1", DJANGO_HTTPS="1")
    assert result.stdout.split()[-2:] == ["True", "True"]


@pytest.mark.parametrize(
    ("environment", "named"),
    [
        ({"DJANGO_NUM_PROXIES": "1"}, "DJANGO_TRUSTED_PROXIES is empty"),
        ({"DJANGO_TRUSTED_PROXIES": "nginx"}, "'nginx' is not an IP address"),
        ({"DJANGO_TRUSTED_PROXIES": "10.0.0.1/8"}, "'10.0.0.1/8' is not an IP"),
        ({"DJANGO_TRUSTED_PROXIES": "127.0.0.1,0.0.0.0/0"}, "'0.0.0.0/0' matches far"),
        ({"DJANGO_TRUSTED_PROXIES": "::/0"}, "'::/0' matches far"),
        ({"DJANGO_TRUSTED_PROXIES": "*"}, "'*' is not an IP address"),
        ({"DJANGO_TRUSTED_PROXIES": "0.0.0.0"}, "'0.0.0.0' matches far"),
        ({"DJANGO_SECRET_KEY": None}, "Set the DJANGO_SECRET_KEY environment variable"),
    ],
)
def test_a_setting_that_cannot_be_right_stops_the_app_with_one_line_naming_it(
    environment, named
):
    result = run(["manage.py", "check"], **environment)
    assert result.returncode != 0
    assert result.stderr.startswith("Cannot start: ")
    assert named in result.stderr
    assert "Traceback" not in result.stderr


def test_gunicorn_trusts_forwarded_headers_from_the_same_proxies_as_django(
    monkeypatch,
):
    monkeypatch.delenv("DJANGO_TRUSTED_PROXIES", raising=False)
    conf = runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))
    # Not even gunicorn's own default (127.0.0.1) without a configured proxy.
    assert conf["forwarded_allow_ips"] == ""
    monkeypatch.setenv("DJANGO_TRUSTED_PROXIES", " 127.0.0.1, ::1 ")
    conf = runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))
    assert conf["forwarded_allow_ips"] == "127.0.0.1,::1"
