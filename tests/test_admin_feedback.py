"""Owners' wrong-answer reports in the admin: listed per programme, turned into a
scenario in one step that check_scenarios then runs, exported as TOML, and
kept from partners other than the programme's own."""

from __future__ import annotations

import datetime
import json
import tomllib
from http import HTTPStatus
from io import StringIO

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils.html import escape

from programs.catalogue import saved_scenarios, scenarios, store
from programs.engine import contract, matching
from programs.models import (
    Programme,
    SavedScenario,
    WrongAnswerReport,
)
from tests.builders import STALL
from tests.factories import staff_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]

AS_OF = datetime.date(2020, 6, 15)
CHANGELIST = reverse("admin:programs_wronganswerreport_changelist")
#: Two programmes of different providers, both on the stall's results page.
JD, MYBANK = "jd-spark", "mybank-contact-free-loans"


def send(
    client, slug: str, sentence: str, *, consent: bool = True
) -> WrongAnswerReport:
    data = {**STALL, "report-sentence": sentence}
    if consent:
        data["report-consent"] = "on"
    response = client.post(reverse("programs:wrong_answer_unsaved", args=[slug]), data)
    assert response.status_code == HTTPStatus.OK
    return WrongAnswerReport.objects.get(sentence=sentence)


def answered(profile: dict) -> dict:
    """A profile's answered fields, as a scenario keeps them."""
    return {k: v for k, v in profile.items() if v not in (None, "")}


def stall_tier(slug: str) -> matching.Tier:
    profile = contract.parse_profile(
        {
            k: v
            for k, v in WrongAnswerReport.objects.first().profile.items()
            if v is not None
        }
    )
    report = store.run_match(profile=profile, as_of=AS_OF)
    return next(m.tier for m in report.matches if m.programme.slug == slug)


@pytest.fixture
def reports(client):
    """Reports from an owner: two on JD's Spark plan (one without consent), one on MYbank's loans."""
    return {
        "jd": send(client, JD, "I sell on JD but it says I cannot."),
        "jd-private": send(client, JD, "The amount is wrong.", consent=False),
        "mybank": send(client, MYBANK, "MYbank turned me down."),
    }


def listed(response) -> set[str]:
    return {row.sentence for row in response.context["cl"].result_list}


def make_scenario_url(report: WrongAnswerReport) -> str:
    return reverse("admin:programs_wronganswerreport_scenario", args=[report.pk])


def scenario_form(report: WrongAnswerReport, **overrides) -> dict[str, str]:
    data = {
        "name": f"report-{report.pk}",
        "description": "A one-person Wuhan stall that sells through Alipay.",
        "as_of": report.as_of.isoformat(),
        "profile": json.dumps(report.profile),
        "expected": "eligible",
        "decided_by": "",
        "availability": "",
        "fact": "The plan is for micro businesses that sell online.",
        "source": f"wrong-answer report {report.pk}",
    }
    return {**data, **overrides}


def check_scenarios(*args: str) -> str:
    out = StringIO()
    call_command("check_scenarios", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


# -- listing per programme ------------------------------------------------------------------


def test_the_admin_lists_reports_and_filters_them_by_programme(admin_client, reports):
    everything = admin_client.get(CHANGELIST)
    assert everything.status_code == HTTPStatus.OK
    assert listed(everything) == {r.sentence for r in reports.values()}
    html = everything.content.decode()
    assert "I sell on JD but it says I cannot." in html
    assert "no answers" in html  # the report without consent
    tier = matching.Tier(reports["jd"].shown["tier"])
    assert f"answers; shown: {tier.label}" in html
    jd = Programme.objects.get(slug=JD)
    one = admin_client.get(CHANGELIST, {"programme__id__exact": jd.pk})
    assert listed(one) == {reports["jd"].sentence, reports["jd-private"].sentence}


def test_the_programme_page_counts_its_reports_and_links_to_them(admin_client, reports):
    jd = Programme.objects.get(slug=JD)
    html = admin_client.get(
        reverse("admin:programs_programme_change", args=[jd.pk])
    ).content.decode()
    assert "2 reports of a wrong answer" in html
    assert f'href="{CHANGELIST}?programme__id__exact={jd.pk}"' in html
    other = Programme.objects.get(slug="gov-state-rent-relief")
    html = admin_client.get(
        reverse("admin:programs_programme_change", args=[other.pk])
    ).content.decode()
    assert "No owner has reported a wrong answer." in html


def test_a_report_shows_the_answers_and_the_result_as_shown_with_its_sentence(
    admin_client, reports
):
    report = reports["jd"]
    html = admin_client.get(
        reverse("admin:programs_wronganswerreport_change", args=[report.pk])
    ).content.decode()
    assert report.sentence in html
    assert "<dt>Type of business</dt><dd>Street stall or market stall</dd>" in html
    assert str(matching.Tier(report.shown["tier"]).label) in html
    for reason in report.shown["reasons"]:
        assert escape(reason["text"]) in html
    assert f'href="{make_scenario_url(report)}"' in html
    private = admin_client.get(
        reverse(
            "admin:programs_wronganswerreport_change", args=[reports["jd-private"].pk]
        )
    ).content.decode()
    assert "Not kept: the owner did not consent." in private


# -- making a scenario ----------------------------------------------------------------------


def test_the_make_a_scenario_form_is_filled_in_from_the_report(admin_client, reports):
    report = reports["jd"]
    response = admin_client.get(make_scenario_url(report))
    assert response.status_code == HTTPStatus.OK
    form = response.context["form"]
    assert form["as_of"].value() == AS_OF
    assert json.loads(form["profile"].value()) == answered(report.profile)
    assert form["name"].value() == f"report-{report.pk}"
    assert form["expected"].value() in (None, "")  # the admin's choice
    choices = dict(form.fields["expected"].choices)
    assert choices["near_miss"] == "near miss"  # chosen by label


@pytest.mark.parametrize("holds", [True, False], ids=["passes", "fails"])
def test_a_scenario_made_from_a_report_becomes_a_check_that_check_scenarios_runs(
    admin_client, reports, holds
):
    report = reports["jd"]
    actual = stall_tier(JD)
    expected = actual if holds else next(t for t in matching.Tier if t is not actual)
    before = len(scenarios.load_scenarios())
    response = admin_client.post(
        make_scenario_url(report), scenario_form(report, expected=str(expected))
    )
    row = SavedScenario.objects.get()
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse(
        "admin:programs_savedscenario_change", args=[row.pk]
    )
    assert (row.programme.slug, row.as_of, row.expected, row.report) == (
        JD,
        AS_OF,
        str(expected),
        report,
    )
    assert row.profile == answered(report.profile)
    label = f"{JD}/report-{report.pk}"
    if holds:
        out = check_scenarios("-v", "2")
        assert f"ok   {label}" in out
        assert f"{before + 1} scenarios, 0 failed" in out
    else:
        out = StringIO()
        with pytest.raises(CommandError, match=rf"{before + 1} scenarios, 1 failed"):
            call_command("check_scenarios", stdout=out, stderr=StringIO())
        assert f"FAIL {label} (as of 2020-06-15)" in out.getvalue()
        assert f"expected {expected}, got {actual}" in out.getvalue()
    # The programme's change page runs it with the file's scenarios.
    html = admin_client.get(
        reverse("admin:programs_programme_change", args=[row.programme.pk])
    ).content.decode()
    assert "A one-person Wuhan stall that sells through Alipay." in html
    page = admin_client.get(
        reverse("admin:programs_savedscenario_change", args=[row.pk])
    ).content.decode()
    assert ("passes" if holds else "fails") in page


def test_the_action_opens_the_form_for_one_report_only(admin_client, reports):
    one = admin_client.post(
        CHANGELIST,
        {"action": "make_scenario", ACTION_CHECKBOX_NAME: [reports["jd"].pk]},
    )
    assert one.status_code == HTTPStatus.FOUND
    assert one["Location"] == make_scenario_url(reports["jd"])
    two = admin_client.post(
        CHANGELIST,
        {
            "action": "make_scenario",
            ACTION_CHECKBOX_NAME: [reports["jd"].pk, reports["mybank"].pk],
        },
        follow=True,
    )
    assert "Choose one report to make a scenario." in two.content.decode()
    assert SavedScenario.objects.count() == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"expected": ""}, "This field is required."),
        ({"expected": "probably"}, "Select a valid choice."),
        ({"fact": ""}, "This field is required."),
        ({"profile": "{not json"}, "Enter a valid JSON."),
        ({"profile": '{"business_type": "castle"}'}, "profile: business_type"),
        ({"as_of": "1999-01-01"}, "Choose a date between 2019 and ten years from now."),
        (
            {"name": "exporter-by-markets"},
            None,
        ),  # taken by the file, on another programme
    ],
    ids=[
        "no tier",
        "unknown tier",
        "no fact",
        "bad JSON",
        "bad answers",
        "bad date",
        "name free here",
    ],
)
def test_a_bad_scenario_is_refused_with_its_reason_and_nothing_is_saved(
    admin_client, reports, change, message
):
    report = reports["jd"]
    response = admin_client.post(
        make_scenario_url(report), scenario_form(report, **change)
    )
    if message is None:  # the file's name is another programme's: allowed here
        assert response.status_code == HTTPStatus.FOUND
        return
    assert response.status_code == HTTPStatus.OK
    assert message in response.content.decode()
    assert SavedScenario.objects.count() == 0


def test_a_name_the_programme_already_has_is_refused(admin_client, reports):
    report = reports["jd"]
    in_file = next(s.name for s in scenarios.load_scenarios() if s.programme == JD)
    for name in (in_file, f"report-{report.pk}"):
        response = admin_client.post(
            make_scenario_url(report), scenario_form(report, name=name)
        )
        if name == in_file:
            assert response.status_code == HTTPStatus.OK
            assert "This programme already has a scenario of this name." in (
                response.content.decode()
            )
    # The second name was free once; the same name again is refused.
    again = admin_client.post(make_scenario_url(report), scenario_form(report))
    assert (
        "This programme already has a scenario of this name." in again.content.decode()
    )
    assert SavedScenario.objects.count() == 1


def test_a_report_without_answers_needs_the_admin_to_enter_them(admin_client, reports):
    report = reports["jd-private"]
    page = admin_client.get(make_scenario_url(report)).content.decode()
    assert "The owner did not consent to keeping their answers" in page
    refused = admin_client.post(
        make_scenario_url(report), scenario_form(report, profile="")
    )
    assert "This field is required." in refused.content.decode()
    assert SavedScenario.objects.count() == 0
    answers = {
        "business_type": "street_stall",
        "province": "CN-HB",
        "needs": ["financing"],
    }
    made = admin_client.post(
        make_scenario_url(report),
        scenario_form(
            report, profile=json.dumps(answers), expected="possibly_eligible"
        ),
    )
    assert made.status_code == HTTPStatus.FOUND
    assert SavedScenario.objects.get().profile == answers


# -- TOML for the file ----------------------------------------------------------------------


def test_the_toml_export_reads_back_as_the_same_scenarios(admin_client, reports):
    for key in ("jd", "mybank"):
        report = reports[key]
        admin_client.post(
            make_scenario_url(report),
            scenario_form(
                report,
                description='A stall says: "it is wrong" \\ 武汉\tstall',
                expected=str(stall_tier(report.programme.slug)),
            ),
        )
    assert SavedScenario.objects.count() == 2
    response = admin_client.post(
        reverse("admin:programs_savedscenario_changelist"),
        {
            "action": "export_toml",
            ACTION_CHECKBOX_NAME: list(
                SavedScenario.objects.values_list("pk", flat=True)
            ),
        },
    )
    assert response.status_code == HTTPStatus.OK
    text = response.context["toml"]
    read = scenarios.parse_scenarios(tomllib.loads(text))
    saved = saved_scenarios.load_saved_scenarios()
    assert read == saved
    assert read[0].description == 'A stall says: "it is wrong" \\ 武汉\tstall'
    # Pasted into the file, the file's copy runs instead of the row.
    assert {s.label for s in read} <= {s.label for s in saved_scenarios.all_scenarios()}
    assert len(saved_scenarios.all_scenarios()) == len(scenarios.load_scenarios()) + 2


def test_a_saved_scenario_also_in_the_file_runs_once(admin_client, reports, tmp_path):
    report = reports["jd"]
    admin_client.post(
        make_scenario_url(report),
        scenario_form(report, expected=str(stall_tier(JD))),
    )
    pasted = tmp_path / "scenarios.toml"
    pasted.write_text(
        scenarios.SCENARIOS_FILE.read_text(encoding="utf-8")
        + "\n"
        + saved_scenarios.toml_text(SavedScenario.objects.all()),
        encoding="utf-8",
    )
    loaded = saved_scenarios.all_scenarios(pasted)
    labels = [s.label for s in loaded]
    assert labels.count(f"{JD}/report-{report.pk}") == 1
    assert len(loaded) == len(scenarios.load_scenarios()) + 1


# -- who sees what ---------------------------------------------------------------------------


def test_a_partner_sees_only_their_providers_reports_and_no_answers(client, reports):
    client.force_login(staff_user("jd-partner", "view_wronganswerreport", partner="jd"))
    response = client.get(CHANGELIST)
    assert response.status_code == HTTPStatus.OK
    assert listed(response) == {reports["jd"].sentence, reports["jd-private"].sentence}
    html = response.content.decode()
    assert "MYbank turned me down." not in html
    assert "answers; shown:" not in html
    own = client.get(
        reverse("admin:programs_wronganswerreport_change", args=[reports["jd"].pk])
    )
    assert own.status_code == HTTPStatus.OK
    assert reports["jd"].sentence in own.content.decode()
    assert "Street stall or market stall" not in own.content.decode()
    assert "make_scenario" not in own.content.decode()
    other = client.get(
        reverse("admin:programs_wronganswerreport_change", args=[reports["mybank"].pk])
    )
    assert other.status_code == HTTPStatus.FORBIDDEN


def test_a_partner_can_neither_make_nor_see_scenarios_nor_delete_reports(
    client, reports
):
    partner = staff_user(
        "jd-partner",
        "view_wronganswerreport",
        "delete_wronganswerreport",
        "add_savedscenario",
        "view_savedscenario",
        partner="jd",
    )
    client.force_login(partner)
    report = reports["jd"]
    assert client.get(make_scenario_url(report)).status_code == HTTPStatus.FORBIDDEN
    posted = client.post(make_scenario_url(report), scenario_form(report))
    assert posted.status_code == HTTPStatus.FORBIDDEN
    assert (
        client.get(reverse("admin:programs_savedscenario_changelist")).status_code
        == HTTPStatus.FORBIDDEN
    )
    client.post(
        CHANGELIST,
        {"action": "delete_selected", ACTION_CHECKBOX_NAME: [report.pk], "post": "yes"},
    )
    assert SavedScenario.objects.count() == 0
    assert WrongAnswerReport.objects.filter(pk=report.pk).exists()


def test_staff_without_the_permission_see_no_reports(client, reports):
    client.force_login(staff_user("plain"))
    assert client.get(CHANGELIST).status_code == HTTPStatus.FORBIDDEN
