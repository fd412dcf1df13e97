"""
Settings for ReliefMatch, driven by environment variables.

Safe by default: debug is off unless DJANGO_DEBUG=1, with debug off HTTPS is
on unless DJANGO_HTTPS=0 and the process refuses to start without
DJANGO_SECRET_KEY, and a proxy list that cannot be right stops it too. Every variable is listed
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

from reliefmatch.database import fail_fast_while_down
from reliefmatch.proxies import ProxySettingError, parse_trusted_proxies

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


def env_flag(name: str, default: bool = False) -> bool:
    """Return whether the environment variable `name` is on (1, true, yes, on)."""
    return env(name, "1" if default else "0").lower() in {"1", "true", "yes", "on"}


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
    # Django's admin, whose change lists refuse out-of-range filters (a
    # date-hierarchy year of 9999) as bad filters instead of failing.
    "reliefmatch.admin_site.AdminConfig",
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
    "django_tasks",  # background tasks: Django 6's django.tasks, backported (TASKS below)
    "django_tasks_db",  # the tasks' database queue, run by `manage.py db_worker`
    "programs",
]

MIDDLEWARE = [
    # First: X-Forwarded-Proto is dropped unless a trusted proxy sent it.
    "reliefmatch.middleware.UntrustedForwardedProtoMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # Before anything that reads a request body: chunked ones (no length, read
    # as empty by Django) get 411, oversized ones 413, unread.
    "reliefmatch.middleware.ChunkedBodyMiddleware",
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
# The pool is sized and timed so that a database outage is answered fast
# (docs/reliability.md, "database outage"): one connection per gunicorn thread,
# all opened before the worker serves (gunicorn.conf.py), so a thread never
# waits for one in normal running. When the database goes down, a request
# waits at most DB_POOL_TIMEOUT (0.5 s) and then gets the 503 "try again" page.
# A failed reconnection is given up after 0.2 s (reconnect_timeout) instead of
# backing off 1, 2, 4… s, so the next request tries again and one soon after
# the database returns gets through; once one has been given up,
# requests wait only 0.1 s until a connection is made again
# (reliefmatch/database.py), so gunicorn's threads stay free for pages that need
# no database. connect_timeout 2 is libpq's smallest (1 reads as 2). No
# max_waiting: psycopg_pool 3.3 keeps counting waiters that timed out, so after
# an outage it would refuse every request without ever reconnecting.
_pool_size = int(env("DB_POOL_SIZE", env("GUNICORN_THREADS", "4")))
DB_POOL_OPTIONS = {
    "min_size": _pool_size,
    "max_size": _pool_size,
    "timeout": float(env("DB_POOL_TIMEOUT", "0.5")),
    "reconnect_timeout": 0.2,
    "reconnect_failed": fail_fast_while_down,
}
DB_CONNECT_TIMEOUT_SECONDS = 2
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["pool"] = dict(DB_POOL_OPTIONS)
    _options.setdefault("connect_timeout", DB_CONNECT_TIMEOUT_SECONDS)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Database sessions that treat a cookie which is not a key Django could make
# (NUL characters, say, which PostgreSQL refuses) as no session at all.
SESSION_ENGINE = "reliefmatch.sessions"

# Background jobs (recomputing stored results, alert runs) are queued in the
# database and run by `manage.py db_worker`, one or more, on any machine that
# reaches the database. No other server is needed on SQLite or PostgreSQL.
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

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
    # Files written by background jobs (large exports, screening results),
    # downloaded through the app by the staff member who asked for them, never
    # served directly. Workers and web servers must share it: a directory on a
    # shared disk, or another storage backend.
    "job_files": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": env("JOB_FILES_ROOT", str(BASE_DIR / "var" / "job-files"))
        },
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Exports of more rows than this are written by a worker and downloaded from
# a job page: an XLSX of 50,000 rows takes about 4 s, a CSV of 250,000 about
# 2 s (docs/benchmarks.md), well inside the proxy's and gunicorn's timeouts.
EXPORT_QUEUE_ROWS = {
    "csv": int(env("EXPORT_QUEUE_ROWS_CSV", "250000")),
    "xlsx": int(env("EXPORT_QUEUE_ROWS_XLSX", "50000")),
}
# Days a job's file is kept before purge_stale_profiles deletes it.
JOB_FILES_KEEP_DAYS = int(env("JOB_FILES_KEEP_DAYS", "7"))

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

EMAIL_BACKEND = env(
    "DJANGO_EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", "ReliefMatch <noreply@localhost>")

# The proxies in front of the app (DJANGO_TRUSTED_PROXIES, e.g. "127.0.0.1,::1"
# for nginx on this host): only a connection from one of them may name the
# client (X-Forwarded-For) or say the visitor used HTTPS (X-Forwarded-Proto).
# Empty: no proxy, both headers ignored. Every rate limit and the admin's
# lockouts read the client's address by this one rule (reliefmatch/proxies.py).
# A list that cannot be right stops the app from starting.
try:
    TRUSTED_PROXIES = parse_trusted_proxies(env("DJANGO_TRUSTED_PROXIES", ""))
except ProxySettingError as error:
    raise ImproperlyConfigured(str(error)) from None
# DJANGO_NUM_PROXIES is the older setting: a count, which trusted the header
# from whoever connected. It is refused unless the proxies are listed.
if env("DJANGO_NUM_PROXIES", "0").strip() not in {"", "0"} and not TRUSTED_PROXIES:
    raise ImproperlyConfigured(
        "DJANGO_NUM_PROXIES is set but DJANGO_TRUSTED_PROXIES is empty: list the "
        "addresses of the proxies in front of the app in DJANGO_TRUSTED_PROXIES "
        '(e.g. "127.0.0.1,::1"), or unset DJANGO_NUM_PROXIES if there is none.'
    )
# django-ninja's own reading of X-Forwarded-For is never used: the API's
# throttles call the rule above. 0 keeps ninja's default from trusting the header.
NINJA_NUM_PROXIES = 0

# The public API's rate limit per client address, and the screening API's.
API_RATE_LIMIT = env("API_RATE_LIMIT", "60/min")
API_SCREENING_RATE_LIMIT = env("API_SCREENING_RATE_LIMIT", "10/min")
# Failed API key checks per client address (a wrong or revoked X-API-Key);
# past it, 429 with Retry-After, even for a right key, until the window ends.
API_KEY_FAILURE_LIMIT = env("API_KEY_FAILURE_LIMIT", "10/hour")
# "Email me my link": emails per recipient and per client address a day;
# past either, nothing is sent and the visitor is told why.
LINK_EMAILS_PER_RECIPIENT = int(env("LINK_EMAILS_PER_RECIPIENT", "3"))
LINK_EMAILS_PER_ADDRESS = int(env("LINK_EMAILS_PER_ADDRESS", "10"))
# The public form's limit per client address: POST /check/ (and its report
# download) and the POSTs behind a private link (edit, answer, email, delete),
# counted together; over it, 429 (programs/ratelimit.py). GETs are never
# counted. Empty or "0" turns it off. Read on each request.
FORM_RATE_LIMIT = env("FORM_RATE_LIMIT", "30/min").strip()
for _name in ("FORM_RATE_LIMIT", "API_KEY_FAILURE_LIMIT"):
    if globals()[_name].strip() not in {"", "0"} and not re.fullmatch(
        r"[1-9][0-9]*/(s|sec|m|min|h|hour|d|day)", globals()[_name].strip()
    ):
        raise ImproperlyConfigured(
            f'{_name} must look like "30/min" (a count per s, min, hour or day), '
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
# Password spraying (a few passwords tried on many usernames) is caught too:
# after AXES_ADDRESS_FAILURE_LIMIT failures from one address, whatever the
# usernames, that address is refused every login for the cool-off
# (reliefmatch/login_lockout.py). Higher than the per-username limit, so a
# few colleagues' typos behind one office address do not lock them all out.
AXES_HANDLER = "reliefmatch.login_lockout.AddressAwareDatabaseHandler"
AXES_FAILURE_LIMIT = int(env("AXES_FAILURE_LIMIT", "5"))
AXES_ADDRESS_FAILURE_LIMIT = int(env("AXES_ADDRESS_FAILURE_LIMIT", "20"))
AXES_COOLOFF_TIME = timedelta(minutes=int(env("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # a successful login forgets earlier failures
# The client address by the rate limits' rule (DJANGO_TRUSTED_PROXIES).
AXES_CLIENT_IP_CALLABLE = "reliefmatch.middleware.client_ip"
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_CALLABLE = "reliefmatch.middleware.lockout_response"
# No "AXES: BEGIN …" line at every start (each manage.py command printed it);
# failures and lockouts are still logged as warnings.
AXES_VERBOSE = False

# -- HTTPS and security headers ---------------------------------------------------
# On by default with debug off: users reach the site over HTTPS (directly, or
# through a TLS-terminating proxy), plain HTTP is redirected to HTTPS, browsers
# are told to use HTTPS only (HSTS), and cookies are sent over HTTPS only, so
# `manage.py check --deploy` is clean with only the required variables set.
# DJANGO_HTTPS=0 turns it off explicitly, for a plain-HTTP intranet or a local
# benchmark; with DJANGO_DEBUG=1 it is off unless DJANGO_HTTPS=1.
HTTPS = env_flag("DJANGO_HTTPS", default=not DEBUG)
SECURE_SSL_REDIRECT = HTTPS
# A monitor on the host may probe the health check over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# One year by default; DJANGO_HSTS_SECONDS=300 (say) while first trying HTTPS out.
SECURE_HSTS_SECONDS = int(env("DJANGO_HSTS_SECONDS", "31536000")) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if HTTPS and TRUSTED_PROXIES:
    # The proxy terminates TLS and must set (overwrite) X-Forwarded-Proto; it
    # is believed only on connections from DJANGO_TRUSTED_PROXIES: from anyone
    # else, reliefmatch.middleware.UntrustedForwardedProtoMiddleware drops it.
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

# `manage.py check_sources` (weekly by cron): seconds each link may take, and
# after how many days without verification a programme is flagged for checking.
LINK_CHECK_TIMEOUT = float(env("LINK_CHECK_TIMEOUT", "5"))
SOURCES_STALE_DAYS = int(env("SOURCES_STALE_DAYS", "180"))

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
