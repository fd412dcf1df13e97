"""
Settings for ReliefMatch, driven by environment variables.

Safe by default: debug is off unless DJANGO_DEBUG=1, and with debug off the
process refuses to start without DJANGO_SECRET_KEY. Every variable is listed
in the README's configuration table.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str:
    """Return the environment variable `name`, or fail clearly if unset."""
    if (value := os.environ.get(name, default)) is None:
        raise ImproperlyConfigured(
            f"Set the {name} environment variable (see the README's configuration table)."
        )
    return value


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def env_flag(name: str) -> bool:
    """Return whether the environment variable `name` is on (1, true, yes, on)."""
    return env(name, "0").lower() in {"1", "true", "yes", "on"}


DEBUG = env_flag("DJANGO_DEBUG")

# Never fall back to a known key outside local debugging.
SECRET_KEY = env(
    "DJANGO_SECRET_KEY",
    "django-insecure-local-debug-only-key-never-used-in-production" if DEBUG else None,
)

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else ""
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles so runserver serves files the way production does.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "simple_history",
    "ninja",  # serves the API docs' Swagger UI from its own static files, not a CDN
    "axes",  # admin login lockouts after repeated failures (AXES_* below)
    "csp",  # Content-Security-Policy header (CONTENT_SECURITY_POLICY below)
    "programs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # Before anything that reads a request body: oversized ones get 413 unread.
    "reliefmatch.middleware.RequestBodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # A view that fails because the database is unreachable (a restart) gets a
    # 503 "try again in a moment" page with Retry-After, not a 500.
    "reliefmatch.middleware.DatabaseUnavailableMiddleware",
    # A NUL in the query string gets 400 (PostgreSQL refuses NUL in text).
    "reliefmatch.middleware.NullCharacterMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes requires: turns a refused login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "reliefmatch.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "reliefmatch.wsgi.application"

# Database: a SQLite file beside manage.py unless DATABASE_URL says otherwise.
# PostgreSQL goes through psycopg 3 with Django's connection pool. With
# CONN_HEALTH_CHECKS on, Django gives the pool psycopg's check_connection, so a
# connection is tested before it is lent out and, after a database restart,
# dead connections are dropped and replaced by themselves.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=0,  # the pool owns connection reuse; Django requires 0 with it
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # One connection per gunicorn thread: a thread never waits for a connection.
    _pool_size = int(env("DB_POOL_SIZE", env("GUNICORN_THREADS", "4")))
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": _pool_size,
        "timeout": float(env("DB_POOL_TIMEOUT", "10")),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django-axes' backend comes first: it refuses a locked-out login before the
# password is even checked. It needs the request, so code (and tests) must call
# authenticate(request, ...) or use force_login, never client.login().
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Internationalisation: English and Simplified Chinese, chosen from the
# browser's Accept-Language unless the user picked one (a cookie).
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("zh-hans", _("Simplified Chinese")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
LANGUAGE_COOKIE_AGE = 60 * 60 * 24 * 365

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

EMAIL_BACKEND = env(
    "DJANGO_EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", "ReliefMatch <noreply@localhost>")

# The public API's rate limit per client address, and the screening API's.
# Behind a TLS-terminating proxy, set DJANGO_NUM_PROXIES so the client's
# address is read from X-Forwarded-For; otherwise that header is ignored.
API_RATE_LIMIT = env("API_RATE_LIMIT", "60/min")
API_SCREENING_RATE_LIMIT = env("API_SCREENING_RATE_LIMIT", "10/min")
NINJA_NUM_PROXIES = int(env("DJANGO_NUM_PROXIES", "0"))
# The public form's limit per client address: POST /check/ (and its report
# download) and the POSTs behind a private link (edit, answer, email, delete),
# counted together; over it, 429 (programs/ratelimit.py). GETs are never
# counted. Empty or "0" turns it off. Read on each request.
FORM_RATE_LIMIT = env("FORM_RATE_LIMIT", "30/min").strip()
if FORM_RATE_LIMIT not in {"", "0"} and not re.fullmatch(
    r"[1-9][0-9]*/(s|sec|m|min|h|hour|d|day)", FORM_RATE_LIMIT
):
    raise ImproperlyConfigured(
        'FORM_RATE_LIMIT must look like "30/min" (a count per s, min, hour or day), '
        'or be "0" to turn the limit off.'
    )

# -- Admin login lockouts (django-axes) ---------------------------------------------
# After AXES_FAILURE_LIMIT failed logins for one username from one address, that
# username is refused from that address (even with the right password) for
# AXES_COOLOFF_MINUTES; each further try during the lockout restarts the wait.
# Keyed by username and address together, so an attacker cannot lock a real
# admin out from elsewhere. Failures are kept in the database (every gunicorn
# process sees them); staff unlock early by deleting the "access attempt" in the
# admin, or with `manage.py axes_reset_username USERNAME`.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = int(env("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(env("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # a successful login forgets earlier failures
# The client address by the API's rule (DJANGO_NUM_PROXIES), not a spoofable header.
AXES_CLIENT_IP_CALLABLE = "reliefmatch.middleware.client_ip"
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_CALLABLE = "reliefmatch.middleware.lockout_response"

# -- HTTPS and security headers ---------------------------------------------------
# DJANGO_HTTPS=1 when users reach the site over HTTPS (directly, or through a
# TLS-terminating proxy): plain HTTP is redirected to HTTPS, browsers are told to
# use HTTPS only (HSTS), and cookies are sent over HTTPS only. Leave it off to
# serve plain HTTP locally. `manage.py check --deploy` is clean with it on.
HTTPS = env_flag("DJANGO_HTTPS")
SECURE_SSL_REDIRECT = HTTPS
# A monitor on the host may probe the health check over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# One year by default; DJANGO_HSTS_SECONDS=300 (say) while first trying HTTPS out.
SECURE_HSTS_SECONDS = int(env("DJANGO_HSTS_SECONDS", "31536000")) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if HTTPS and NINJA_NUM_PROXIES > 0:
    # Behind DJANGO_NUM_PROXIES trusted proxies, the proxy terminates TLS and
    # must set (overwrite) X-Forwarded-Proto: https; only then is it believed.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = LANGUAGE_COOKIE_SECURE = HTTPS
# No script of ours (nor Bootstrap's, nor the admin's) reads any cookie.
SESSION_COOKIE_HTTPONLY = CSRF_COOKIE_HTTPONLY = LANGUAGE_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Private links (/r/<token>/) must never leave in a Referer header: other sites
# get no referrer at all, our own pages the full one.
SECURE_REFERRER_POLICY = "same-origin"

# Content-Security-Policy (django-csp 4): everything from our own origin, no
# inline scripts or styles (templates load static files only; the report's SVG
# charts use presentation attributes, not style attributes), no plugins, no
# framing, forms post only to us. data: images are Bootstrap's inline SVG icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# -- Request size -------------------------------------------------------------------
# Largest request body accepted; larger ones get 413 before they are read
# (reliefmatch.middleware.RequestBodyLimitMiddleware). 3 MB holds the biggest
# legitimate request: a 2 MB screening CSV (programs.api.screening.MAX_SCREENING_BYTES)
# with its form around it, or 1,000 JSON profiles to /api/v1/screenings.
REQUEST_MAX_BODY_BYTES = int(env("REQUEST_MAX_BODY_BYTES", str(3 * 1024 * 1024)))
# Django's own limits, in line with it: a body that passed the middleware is
# parsed in memory, and an uploaded file stays in memory and never touches the
# disk (screening uploads are not kept).
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_MAX_BODY_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = REQUEST_MAX_BODY_BYTES
# The profile form sends under 200 fields with every box ticked, the admin's
# programme form a few hundred; 1,000 (Django's default) leaves room for both.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
# The screening page takes one file; nothing else uploads any.
DATA_UPLOAD_MAX_NUMBER_FILES = 5

# Where the app is reached from outside, for links in emails sent by cron jobs.
SITE_URL = env("DJANGO_SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# Bump when the privacy notice (templates/programs/includes/privacy_notice.html)
# changes; each consent records the version it was given under.
PRIVACY_NOTICE_VERSION = "2026-11-24"

# Kept profiles are deleted this many days after they were last changed
# (`manage.py purge_stale_profiles`, run daily by cron).
PROFILE_RETENTION_DAYS = int(env("PROFILE_RETENTION_DAYS", "365"))

# Logs never show a private link's token, an unsubscribe token, an API key or an
# email address: every handler redacts them (reliefmatch/logging.py). Django's
# loggers get no handlers of their own (its defaults would print unfiltered in
# debug, and mail errors to ADMINS, which is not set): they propagate to ours.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "reliefmatch.logging.RedactSecrets"}},
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact_secrets"]},
        # runserver's request lines, as Django formats them by default.
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"level": "INFO"},
        "django.server": {
            "handlers": ["django.server"],
            "level": "INFO",
            "propagate": False,
        },
    },
}

# TrueType collection with Chinese and Latin glyphs, embedded in PDF reports
# (Debian/Ubuntu package fonts-wqy-microhei).
REPORT_CJK_FONT = env(
    "REPORT_CJK_FONT", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
)
