"""Each programme's scenarios: complete, passing, and run by a command and the admin."""

from __future__ import annotations

import datetime
import re
import tomllib
from collections import defaultdict
from decimal import Decimal
from http import HTTPStatus
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils.html import escape

from programs.catalogue import loader, scenarios, store
from programs.engine import contract
from programs.engine.matching import Tier
from programs.engine.rules import State
from programs.models import Criterion, Programme

with loader.CATALOGUE_FILE.open("rb") as _fp:
    CATALOGUE = {p["slug"]: p for p in tomllib.load(_fp)["programmes"]}

SCENARIOS = scenarios.load_scenarios(programmes=CATALOGUE)
BY_PROGRAMME: dict[str, list[scenarios.Scenario]] = defaultdict(list)
for _scenario in SCENARIOS:
    BY_PROGRAMME[_scenario.programme].append(_scenario)


def run(*args: str) -> str:
    out = StringIO()
    call_command("check_scenarios", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def break_credit_limit() -> None:
    """Lower the loan deferral's bank credit limit from RMB 10m to 5m in the database."""
    updated = Criterion.objects.filter(
        programme__slug="gov-loan-deferral", field="bank_credit_cny"
    ).update(value="5000000")
    assert updated == 1


# -- the scenario file covers every programme ------------------------------------


def can_be_possibly(programme: dict) -> bool:
    """Return whether some answer can leave the programme "possibly eligible"."""
    return bool(programme.get("discretionary_en")) or any(
        not contract.FIELDS[c["field"]].required
        for c in programme.get("criteria", [])
        if c.get("required", True)
    )


@pytest.mark.parametrize("slug", sorted(CATALOGUE))
def test_every_programme_has_a_fit_a_miss_and_a_might_fit(slug):
    programme = CATALOGUE[slug]
    expected = [s.expected for s in BY_PROGRAMME[slug]]
    assert len(expected) >= 3
    assert {Tier.NOT_ELIGIBLE, Tier.NEAR_MISS} & set(expected)
    if programme.get("discretionary_en"):
        # The provider decides: every rule met is the best a business gets.
        assert any(
            s.expected is Tier.POSSIBLY_ELIGIBLE
            and s.decided_by == scenarios.DISCRETION
            for s in BY_PROGRAMME[slug]
        )
    else:
        assert Tier.ELIGIBLE in expected
    if can_be_possibly(programme):
        assert Tier.POSSIBLY_ELIGIBLE in expected


def test_every_scenario_names_its_fact_and_source():
    assert [s.label for s in SCENARIOS if not (s.fact and s.source)] == []
    assert all(
        "catalogue-facts.md" in s.source or "seed" in s.source for s in SCENARIOS
    )


# -- every scenario passes against the shipped catalogue --------------------------


@pytest.fixture
def results(catalogue):
    return scenarios.run_scenarios(SCENARIOS, store.current_catalogue().programmes)


@pytest.mark.django_db
def test_every_scenario_passes_against_the_shipped_catalogue(results):
    failures = {r.scenario.label: r.problems for r in results if not r.passed}
    assert failures == {}


@pytest.mark.django_db
def test_each_alternative_of_a_group_is_met_alone_in_some_scenario(results):
    missing = []
    for programme in store.current_catalogue().programmes:
        mine = [r for r in results if r.scenario.programme == programme.slug]
        for group, members in programme.rules.groups:
            if len(members) < 2:
                continue
            for i in members:
                alone = any(
                    r.match.states[i] is State.MET
                    and all(
                        r.match.states[j] is not State.MET for j in members if j != i
                    )
                    for r in mine
                )
                if not alone:
                    c = programme.criteria[i]
                    missing.append(
                        f"{programme.slug} group {group}: {c.field} {c.operator}"
                    )
    assert missing == []


@pytest.mark.django_db
def test_both_sides_of_each_threshold_have_a_scenario(results):
    missing = []
    for programme in store.current_catalogue().programmes:
        mine = [r for r in results if r.scenario.programme == programme.slug]
        for i, c in enumerate(programme.criteria):
            if not c.required or str(c.operator) not in {"gte", "lte"}:
                continue
            at = any(
                r.match.states[i] is State.MET and r.match.facts.get(c.field) == c.value
                for r in mine
            )
            beyond = any(
                r.match.states[i] is State.NOT_MET
                and r.match.facts.get(c.field) is not None
                for r in mine
            )
            if not (at and beyond):
                missing.append(f"{programme.slug}: {c.field} {c.operator} {c.value}")
    assert missing == []


# -- the command ---------------------------------------------------------------------


@pytest.mark.django_db
def test_command_passes_on_the_shipped_catalogue(catalogue):
    out = run()
    assert f"{len(SCENARIOS)} scenarios, 0 failed" in out
    assert "FAIL" not in out


@pytest.mark.django_db
def test_a_raised_threshold_fails_the_command_naming_the_scenario_and_criterion(
    catalogue,
):
    break_credit_limit()
    out = StringIO()
    with pytest.raises(CommandError, match=r"scenarios, [1-9]\d* failed"):
        call_command("check_scenarios", stdout=out, stderr=StringIO())
    report = out.getvalue()
    assert "FAIL gov-loan-deferral/credit-at-limit" in report
    assert "expected eligible, got not_eligible" in report
    assert "bank_credit_cny lte 5000000 (group 3): not_met (answer: 10000000)" in report
    # Scenarios the change does not touch still pass.
    assert "FAIL gov-loan-deferral/credit-not-answered" not in report


@pytest.mark.django_db
def test_a_moved_closing_date_fails_the_scenario_about_the_window(catalogue):
    Programme.objects.filter(slug="meituan-merchant-relief").update(
        closes_on=datetime.date(2020, 6, 30)
    )
    out = StringIO()
    with pytest.raises(CommandError, match="1 failed"):
        call_command("check_scenarios", stdout=out, stderr=StringIO())
    assert "FAIL meituan-merchant-relief/after-the-relief" in out.getvalue()
    assert "expected closed on 2020-05-15, got open" in out.getvalue()


def test_a_scenario_whose_programme_is_missing_fails():
    (result,) = scenarios.run_scenarios(BY_PROGRAMME["jd-live-fee-cut"][:1], [])
    assert result.passed is False
    assert result.problems == ("programme 'jd-live-fee-cut' is not in the catalogue",)


@pytest.mark.django_db
def test_programme_option_runs_only_that_programmes_scenarios(catalogue):
    break_credit_limit()
    out = run("--programme", "jd-live-fee-cut")
    assert f"{len(BY_PROGRAMME['jd-live-fee-cut'])} scenarios, 0 failed" in out
    with pytest.raises(CommandError):
        run("--programme", "gov-loan-deferral")


@pytest.mark.django_db
def test_unknown_programme_is_refused(catalogue):
    with pytest.raises(CommandError, match="Unknown programme: no-such-programme"):
        run("--programme", "no-such-programme")


@pytest.mark.django_db
def test_an_empty_database_asks_for_the_catalogue_to_be_loaded():
    with pytest.raises(CommandError, match="No catalogue is loaded.*load_catalogue"):
        run()


# -- problems in the scenario file ---------------------------------------------------

GOOD = {
    "programme": "jd-live-fee-cut",
    "name": "jd-seller",
    "description": "An online seller on JD.com fits.",
    "as_of": datetime.date(2020, 3, 1),
    "profile": {
        "business_type": "online_seller",
        "province": "CN-BJ",
        "platforms": ["jd"],
        "needs": ["fee_relief"],
    },
    "expected": "eligible",
    "fact": "JD Live's take rate fell to 1%.",
    "source": "catalogue-facts.md §5",
}


def toml_value(value) -> str:
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
        )
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, datetime.date):
        return value.isoformat()  # a TOML date
    return '"' + value + '"'


def write_scenario(path, **changes) -> None:
    entry = {**GOOD, **changes}
    body = "\n".join(
        f"{key} = {toml_value(value)}"
        for key, value in entry.items()
        if value is not None
    )
    path.write_text("[[scenarios]]\n" + body + "\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"programme": "no-such-programme"}, "unknown programme 'no-such-programme'"),
        (
            {"profile": {**GOOD["profile"], "staff": 3}},
            "profile: staff: Unknown field.",
        ),
        (
            {"profile": {**GOOD["profile"], "business_type": "spaceport"}},
            "profile: business_type: Choose from the list.",
        ),
        (
            {"profile": {**GOOD["profile"], "employees": -1}},
            "profile: employees: Enter 0 or more.",
        ),
        ({"expected": "eligable"}, "expected 'eligable' is not one of eligible"),
        ({"decided_by": "staff"}, "decided_by 'staff' is not a field"),
        ({"availability": "opened"}, "availability 'opened' is not one of open"),
        ({"as_of": "1 March 2020"}, "as_of must be a date"),
        ({"as_of": datetime.date(2018, 6, 1)}, "as_of 2018-06-01: Choose a date"),
        ({"fact": None}, "missing fact"),
        ({"expect": "eligible"}, "unknown keys: expect"),
    ],
)
def test_a_scenario_file_problem_is_an_error_naming_the_scenario(
    tmp_path, changes, problem
):
    path = tmp_path / "scenarios.toml"
    write_scenario(path, **changes)
    with pytest.raises(scenarios.ScenarioError) as raised:
        scenarios.load_scenarios(path, programmes=CATALOGUE)
    (message,) = raised.value.problems
    programme = changes.get("programme", GOOD["programme"])
    assert message.startswith(f"Scenario 1 ({programme}/jd-seller): ")
    assert problem in message


def test_two_scenarios_of_a_programme_may_not_share_a_name(tmp_path):
    path = tmp_path / "scenarios.toml"
    write_scenario(path)
    path.write_text(path.read_text(encoding="utf-8") * 2, encoding="utf-8")
    with pytest.raises(scenarios.ScenarioError, match="Scenario 2 .*another scenario"):
        scenarios.load_scenarios(path)


@pytest.mark.django_db
def test_command_reports_file_problems_and_runs_nothing(catalogue, tmp_path):
    path = tmp_path / "scenarios.toml"
    write_scenario(path, expected="eligable")
    with pytest.raises(CommandError, match=r"Scenario 1 \(jd-live-fee-cut/jd-seller\)"):
        run("--file", str(path))


# -- the admin -----------------------------------------------------------------------


def change_page(admin_client, slug: str, **headers) -> str:
    programme = Programme.objects.get(slug=slug)
    response = admin_client.get(
        reverse("admin:programs_programme_change", args=[programme.pk]), **headers
    )
    assert response.status_code == HTTPStatus.OK
    return response.content.decode()


@pytest.mark.django_db
def test_admin_change_page_lists_the_programmes_scenarios_as_passing(
    admin_client, catalogue
):
    html = change_page(admin_client, "alibaba-spring-thunder-export")
    mine = BY_PROGRAMME["alibaba-spring-thunder-export"]
    assert f"{len(mine)} of {len(mine)} scenarios pass." in html
    for scenario in mine:
        assert escape(scenario.description) in html
    assert html.count('class="scenario-passed"') == len(mine)
    assert "scenario-failed" not in html
    assert escape(BY_PROGRAMME["jd-live-fee-cut"][0].description) not in html


@pytest.mark.django_db
def test_admin_change_page_shows_a_broken_rule_failing_its_scenario(
    admin_client, catalogue
):
    break_credit_limit()
    html = change_page(admin_client, "gov-loan-deferral")
    row = 'class="scenario-failed"><td>A small factory with a bank loan and exactly RMB 10m'
    failed = html[html.index(row) :]
    assert "fails" in failed[: failed.index("</tr>")]
    assert "must be at most" in failed[: failed.index("</tr>")]


def test_every_scenario_has_its_description_and_fact_in_chinese():
    missing = [
        s.label for s in SCENARIOS if not (s.description_zh_hans and s.fact_zh_hans)
    ]
    assert missing == []
    latin_words = re.compile(r"[A-Za-z]{3,}")
    for scenario in SCENARIOS:
        # Brands may stay as written; field codes and English sentences may not.
        words = set(
            latin_words.findall(scenario.description_zh_hans + scenario.fact_zh_hans)
        )
        assert words <= ALLOWED_LATIN, (scenario.label, words - ALLOWED_LATIN)


#: Latin words a Chinese scenario text may hold: brands without a Chinese name.
ALLOWED_LATIN = {"Lazada", "Tmall", "World", "App", "Alipay", "WeChat", "JD", "CSV"}


@pytest.mark.django_db
def test_the_chinese_admin_shows_the_scenarios_in_chinese(admin_client, catalogue):
    html = change_page(
        admin_client, "gov-loan-deferral", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    for scenario in BY_PROGRAMME["gov-loan-deferral"]:
        assert escape(scenario.description_zh_hans) in html
        assert escape(scenario.description) not in html
