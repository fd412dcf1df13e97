"""Settings behaviour, checked in a fresh interpreter so the environment is real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent

PRINT_DATABASE = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"],
    "name": str(db["NAME"]),
    "host": db.get("HOST", ""),
    "pool": db.get("OPTIONS", {}).get("pool", {}),
    "health_checks": db["CONN_HEALTH_CHECKS"],
    "conn_max_age": db["CONN_MAX_AGE"],
    "debug": settings.DEBUG,
}, default=str))  # the pool's reconnect_failed hook is a function
"""


def run_with_env(
    code: str, **overrides: str | None
) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_URL", "DB_POOL", "GUNICORN_"))
    }
    env["DJANGO_SETTINGS_MODULE"] = "reliefmatch.settings"
    for key, value in overrides.items():
        if value is not None:
            env[key] = value
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_sqlite_file_in_project_folder_is_the_default_database():
    result = run_with_env(PRINT_DATABASE, DJANGO_DEBUG="1")
    assert result.returncode == 0, result.stderr
    db = json.loads(result.stdout)
    assert db["engine"] == "django.db.backends.sqlite3"
    assert db["name"] == str(BASE_DIR / "db.sqlite3")


def test_postgres_database_url_uses_psycopg_pool_sized_to_threads_with_health_checks():
    result = run_with_env(
        PRINT_DATABASE,
        DJANGO_DEBUG="1",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/reliefmatch",
        GUNICORN_THREADS="6",
    )
    assert result.returncode == 0, result.stderr
    db = json.loads(result.stdout)
    assert db["engine"] == "django.db.backends.postgresql"
    assert db["name"] == "reliefmatch"
    assert db["host"] == "127.0.0.1"
    assert db["pool"]["max_size"] == 6
    assert db["pool"]["min_size"] == 6  # all opened before a worker serves
    assert db["health_checks"] is True
    assert db["conn_max_age"] == 0


def test_refuses_to_start_without_secret_key_when_debug_is_off():
    result = run_with_env(PRINT_DATABASE, DJANGO_DEBUG=None, DJANGO_SECRET_KEY=None)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_starts_with_debug_off_when_secret_key_is_given():
    result = run_with_env(
        PRINT_DATABASE,
        DJANGO_SECRET_KEY="a-real-secret-from-the-environment-0123456789",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["debug"] is False


def test_debug_is_off_unless_explicitly_enabled():
    result = run_with_env(
        PRINT_DATABASE, DJANGO_DEBUG="false", DJANGO_SECRET_KEY="x" * 50
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["debug"] is False


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_debug_on_values_enable_debug(value):
    result = run_with_env(PRINT_DATABASE, DJANGO_DEBUG=value)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["debug"] is True
