"""manage.py load_catalogue, match and setup_demo, and every command on a database
that is not ready."""

from __future__ import annotations

import io
import json
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from axes.apps import AppConfig as AxesConfig
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings

from tests.builders import SMALL_CATALOGUE

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(tmp_path):
    path = tmp_path / "catalogue.toml"
    path.write_text(SMALL_CATALOGUE, encoding="utf-8")
    call_command("load_catalogue", str(path), stdout=io.StringIO())
    return path


def run_match(*args, stdin: str | None = None, monkeypatch=None) -> str:
    out = io.StringIO()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    call_command("match", *args, stdout=out)
    return out.getvalue()


def test_load_catalogue_reports_what_it_did(tmp_path, catalogue):
    out = io.StringIO()
    call_command("load_catalogue", str(catalogue), stdout=out)
    assert (
        out.getvalue().strip() == "Catalogue test-1: 0 created, 0 updated, 1 unchanged."
    )


def test_load_catalogue_refuses_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="No catalogue file"):
        call_command("load_catalogue", str(tmp_path / "nope.toml"))


def test_match_json_has_ranked_results_with_every_criterion(tmp_path, catalogue):
    profile = tmp_path / "p.json"
    profile.write_text(
        json.dumps(
            {
                "business_type": "street_stall",
                "province": "CN-HB",
                "employees": 2,
                "needs": ["financing"],
            }
        )
    )
    data = json.loads(
        run_match(str(profile), "--format", "json", "--as-of", "2020-04-01")
    )
    assert data["as_of"] == "2020-04-01"
    assert len(data["catalogue_version"]) == 12
    assert data["derived"] == {
        "industry": "retail",
        "size_class": "micro",
        "urgency": None,
        "cash_runway_months": None,
    }
    [result] = data["results"]
    assert result["slug"] == "acme-loans"
    assert result["outcome"] == "eligible"
    assert result["near_miss"] is False
    assert result["availability"] == "open"
    assert result["score"] == 10
    assert [
        (c["field"], c["operator"], c["expected"], c["actual"], c["state"])
        for c in result["criteria"]
    ] == [
        ("size_class", "one_of", ["micro", "small"], "micro", "met"),
        ("province", "equals", "CN-HB", "CN-HB", "met"),
        ("platforms", "contains_any", ["alipay_merchant"], None, "unknown"),
    ]
    assert result["criteria"][0]["reason"] == "Your size class is micro."


def test_match_reads_standard_input_and_prints_text(monkeypatch, catalogue):
    text = run_match(
        "-",
        "--as-of",
        "2020-07-01",
        stdin='{"business_type": "manufacturer", "province": "CN-GD", "needs": ["financing"]}',
        monkeypatch=monkeypatch,
    )
    assert "As of 2020-07-01" in text
    assert "acme-loans" in text
    assert "possibly_eligible" in text
    assert "closed" in text
    assert "questions: employees, annual_revenue_cny" in text


def test_match_reports_every_problem_by_field_and_fails(tmp_path, catalogue):
    profile = tmp_path / "bad.json"
    profile.write_text(json.dumps({"business_type": "castle", "employees": -3}))
    with pytest.raises(CommandError) as caught:
        run_match(str(profile))
    message = str(caught.value)
    for name in ("business_type", "province", "employees", "needs"):
        assert f"{name}:" in message


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.json"], "Cannot read missing.json"),
        (["-", "--as-of", "2020-13-01"], "--as-of must be a date"),
    ],
)
def test_match_refuses_bad_arguments_clearly(monkeypatch, catalogue, args, message):
    monkeypatch.setattr("sys.stdin", io.StringIO("{}"))
    with pytest.raises(CommandError, match=message):
        call_command("match", *args, stdout=io.StringIO())


def test_match_refuses_invalid_json(monkeypatch, catalogue):
    monkeypatch.setattr("sys.stdin", io.StringIO("{not json"))
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("match", "-", stdout=io.StringIO())


# -- a database that is not ready, and what every command prints -----------------------

BASE_DIR = Path(__file__).resolve().parent.parent
PROFILE = json.dumps(
    {"business_type": "street_stall", "province": "CN-HB", "needs": ["financing"]}
)


def manage(
    *args: str, database_url: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run manage.py in a fresh interpreter, as a new user would, on `database_url`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_URL", "AXES_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="reliefmatch.settings",
        DJANGO_DEBUG="1",
        DATABASE_URL=database_url,
    )
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["match", "-"],
        ["export_matches", "--out", "{tmp}/matches.csv"],
        ["load_catalogue"],
        ["check_scenarios"],
        ["rematch"],
    ],
    ids=lambda args: args[0],
)
def test_commands_on_a_database_never_migrated_say_to_migrate_and_change_nothing(
    tmp_path, args
):
    database = tmp_path / "fresh.sqlite3"
    args = [arg.format(tmp=tmp_path) for arg in args]
    result = manage(*args, database_url=f"sqlite:///{database}", stdin=PROFILE)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "Run `python manage.py migrate` first" in result.stderr
    assert "AXES" not in result.stdout + result.stderr  # no start-up banner either
    assert not (tmp_path / "matches.csv").exists()
    tables = (
        sqlite3.connect(database).execute("SELECT name FROM sqlite_master").fetchall()
    )
    assert tables == []


def test_a_database_behind_the_code_is_named_as_such(catalogue):
    recorder = MigrationRecorder(connection)
    applied = sorted(
        key for key in recorder.applied_migrations() if key[0] == "programs"
    )
    assert applied, "the test database is migrated"
    recorder.record_unapplied(*applied[-1])
    with pytest.raises(CommandError, match="1 migration not applied.*migrate` first"):
        call_command("match", "-", stdout=io.StringIO())


def test_an_unreachable_database_is_named_with_what_to_check(tmp_path):
    result = manage(
        "match", "-", database_url=f"sqlite:///{tmp_path}/no/such/dir/db.sqlite3"
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "Cannot reach the database" in result.stderr
    assert "DATABASE_URL" in result.stderr


def test_match_prints_its_report_and_nothing_from_the_login_lockouts(
    monkeypatch, catalogue, capsys, caplog
):
    # The lockouts' start-up banner is logged once per process, when Django
    # starts; start it again here so this command's output would include it.
    monkeypatch.setattr(AxesConfig, "initialized", False)
    caplog.set_level(logging.INFO)
    apps.get_app_config("axes").ready()
    monkeypatch.setattr("sys.stdin", io.StringIO(PROFILE))
    out, err = io.StringIO(), io.StringIO()
    call_command("match", "-", stdout=out, stderr=err)
    assert "Counts:" in out.getvalue()
    printed = capsys.readouterr()
    for text in (out.getvalue(), err.getvalue(), printed.out, printed.err, caplog.text):
        assert "AXES" not in text


@override_settings(DEBUG=True, SITE_URL="http://127.0.0.1:8101")
def test_setup_demo_prints_the_address_the_server_runs_on(monkeypatch, catalogue):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "demo-password-for-tests")
    out = io.StringIO()
    call_command("setup_demo", "--profiles", "3", stdout=out)
    printed = out.getvalue()
    assert "http://127.0.0.1:8101/" in printed
    assert "http://127.0.0.1:8101/admin/" in printed
    assert ":8000" not in printed
