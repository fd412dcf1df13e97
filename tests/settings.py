"""Test settings: the real settings with test-only speedups."""

import os
import tempfile

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-for-production")
# The test client speaks plain HTTP; HTTPS is on by default with debug off.
os.environ.setdefault("DJANGO_HTTPS", "0")

from reliefmatch.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Serve static files from the apps' folders, as in development, without collectstatic.
STATIC_ROOT = None  # type: ignore[assignment]  # no collectstatic in tests
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Tests that are about rate limiting lower these with override_settings.
API_RATE_LIMIT = "100000/min"
FORM_RATE_LIMIT = "100000/min"
API_SCREENING_RATE_LIMIT = "100000/min"

# Files written by background jobs go to a directory of this test run's own.
STORAGES["job_files"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": tempfile.mkdtemp(prefix="reliefmatch-job-files-")},
}
