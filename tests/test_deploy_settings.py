"""Production settings, checked in a fresh interpreter so the environment is real:
`check --deploy` is clean with DJANGO_HTTPS=1, and plain HTTP still works without it."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

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


def test_check_deploy_passes_without_warnings_in_production_with_https():
    result = check_deploy(DJANGO_HTTPS="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_check_deploy_warns_about_plain_http_when_https_is_off():
    result = check_deploy(DJANGO_HTTPS=None)
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012"):
        assert warning in result.stderr


def test_https_turns_on_redirect_hsts_and_secure_cookies():
    out = fetch(DJANGO_HTTPS="1")
    configured = out["settings"]
    assert configured["DEBUG"] is False
    assert configured["SECURE_SSL_REDIRECT"] is True
    assert configured["SECURE_HSTS_SECONDS"] == 365 * 24 * 60 * 60
    assert configured["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert configured["SECURE_HSTS_PRELOAD"] is True
    assert configured["SESSION_COOKIE_SECURE"] is True
    assert configured["CSRF_COOKIE_SECURE"] is True
    # Without proxies, X-Forwarded-Proto is not believed.
    assert configured["SECURE_PROXY_SSL_HEADER"] is None

    assert out["http_page"]["status"] == 301
    assert out["http_page"]["location"] == "https://testserver/no-such-page/"
    assert out["https_page"]["status"] == 404
    assert out["https_page"]["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert out["proxied_https_page"]["status"] == 301
    # The health check stays reachable over plain HTTP for a local monitor.
    assert out["http_healthz"]["status"] == 200


def test_behind_a_proxy_https_is_recognised_from_x_forwarded_proto():
    out = fetch(DJANGO_HTTPS="1", DJANGO_NUM_PROXIES="1")
    assert out["settings"]["SECURE_PROXY_SSL_HEADER"] == [
        "HTTP_X_FORWARDED_PROTO",
        "https",
    ]
    assert out["proxied_https_page"]["status"] == 404
    assert out["proxied_https_page"]["hsts"].startswith("max-age=31536000")
    assert out["http_page"]["status"] == 301


def test_without_https_the_app_serves_plain_http_without_redirects():
    out = fetch(DJANGO_HTTPS=None, DJANGO_NUM_PROXIES="1")
    configured = out["settings"]
    assert configured["SECURE_SSL_REDIRECT"] is False
    assert configured["SECURE_HSTS_SECONDS"] == 0
    assert configured["SESSION_COOKIE_SECURE"] is False
    assert configured["SECURE_PROXY_SSL_HEADER"] is None
    assert out["http_page"] == {"status": 404, "location": None, "hsts": None}
    assert out["http_healthz"]["status"] == 200


def test_security_headers_and_cookie_flags_are_on_in_every_mode():
    for https in ("1", None):
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
