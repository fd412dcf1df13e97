"""manage.py load_catalogue and manage.py match."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

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
