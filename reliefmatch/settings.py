"""
Settings for ReliefMatch, driven by environment variables.

Safe by default: debug is off unless DJANGO_DEBUG=1, and with debug off the
process refuses to start without DJANGO_SECRET_KEY. Every variable is listed
in the README's configuration table.
"""

from __future__ import annotations

import os
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


DEBUG = env("DJANGO_DEBUG", "0").lower() in {"1", "true", "yes", "on"}

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
    "programs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
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

# Where the app is reached from outside, for links in emails sent by cron jobs.
SITE_URL = env("DJANGO_SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# Bump when the privacy notice (templates/programs/includes/privacy_notice.html)
# changes; each consent records the version it was given under.
PRIVACY_NOTICE_VERSION = "2026-11-24"

# Kept profiles are deleted this many days after they were last changed
# (`manage.py purge_stale_profiles`, run daily by cron).
PROFILE_RETENTION_DAYS = int(env("PROFILE_RETENTION_DAYS", "365"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", "INFO")},
}

# TrueType collection with Chinese and Latin glyphs, embedded in PDF reports
# (Debian/Ubuntu package fonts-wqy-microhei).
REPORT_CJK_FONT = env(
    "REPORT_CJK_FONT", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
)
