"""The staff match report: permission, filters, summary, exports, partner scoping."""

from __future__ import annotations

import csv
import datetime
import io
from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from programs.catalogue import loader
from programs.models import BackgroundJob, StoredResult
from tests.builders import make_profile
from tests.factories import kept_profile, report_viewer, staff_user

pytestmark = pytest.mark.django_db

AS_OF = datetime.date(2020, 6, 15)
REPORT = reverse("admin:programs_match_report")


def export_url(fmt: str) -> str:
    return reverse("admin:programs_match_report_export", args=[fmt])


def keep(profile, **consent):
    return kept_profile(profile, as_of=AS_OF, **consent)


@pytest.fixture
def data():
    loader.load_catalogue()
    sharing = keep(
        make_profile(
            business_type="street_stall",
            employees=1,
            province="CN-HB",
            needs={"stock_sourcing", "financing"},
        ),
        share_contact=True,
        email="stall@example.com",
        contact_phone="13800000000",
    )
    private = keep(
        make_profile(
            business_type="convenience_store",
            employees=2,
            province="CN-GD",
            needs={"stock_sourcing"},
        ),
        email="private@example.com",
    )
    restaurant = keep(
        make_profile(
            business_type="restaurant",
            employees=20,
            annual_revenue_cny=2_000_000,
            province="CN-SH",
            platforms={"meituan"},
            needs={"fee_relief"},
        ),
    )
    return {"sharing": sharing, "private": private, "restaurant": restaurant}


def csv_rows(response) -> list[dict[str, str]]:
    content = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(content)))


# -- access ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", [REPORT, export_url("csv"), export_url("xlsx"), export_url("pdf")]
)
def test_anonymous_users_are_sent_to_log_in(client, data, url):
    response = client.get(url)
    assert response.status_code == HTTPStatus.FOUND
    assert "/admin/login/" in response["Location"]


@pytest.mark.parametrize(
    "url", [REPORT, export_url("csv"), export_url("xlsx"), export_url("pdf")]
)
def test_staff_without_the_report_permission_are_refused(client, data, url):
    client.force_login(staff_user("plain"))
    assert client.get(url).status_code == HTTPStatus.FORBIDDEN


@pytest.mark.parametrize("who", ["analyst", "superuser", "partner"])
def test_permitted_users_see_the_report_with_charts(client, data, who):
    user = {
        "analyst": lambda: report_viewer("analyst"),
        "superuser": lambda: staff_user("root", superuser=True),
        "partner": lambda: report_viewer("jd-team", partner="jd"),
    }[who]()
    client.force_login(user)
    response = client.get(REPORT)
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert html.count("<svg") >= 2
    assert "2,349" in html


def test_unknown_export_format_is_404(client, data):
    client.force_login(report_viewer("analyst"))
    assert client.get(export_url("docx")).status_code == HTTPStatus.NOT_FOUND


# -- filters and summary --------------------------------------------------------------------------


def test_filters_narrow_rows_and_summary(client, data):
    client.force_login(report_viewer("analyst"))
    everything = client.get(REPORT).context["summary"]
    assert everything.rows == 3 * 16
    assert everything.profiles == 3
    hubei = client.get(REPORT, {"province": "CN-HB"}).context["summary"]
    assert hubei.profiles == 1
    eligible_spark = client.get(
        REPORT, {"programme": "jd-spark", "tier": "eligible"}
    ).context["summary"]
    assert (
        eligible_spark.rows
        == StoredResult.objects.filter(
            programme__slug="jd-spark", outcome="eligible"
        ).count()
    )
    assert eligible_spark.rows >= 1
    near = client.get(REPORT, {"tier": "near_miss"}).context["summary"]
    assert near.rows == StoredResult.objects.filter(near_miss=True).count()
    catering = client.get(
        REPORT, {"business_type": "restaurant", "size_class": "small"}
    ).context["summary"]
    assert catering.profiles == 1
    future = client.get(REPORT, {"submitted_from": "2099-01-01"}).context["summary"]
    assert future.rows == 0


@pytest.mark.parametrize(
    "query",
    [
        {"province": "CN-XX"},
        {"submitted_from": "2020-13-45"},
        {"tier": "<script>"},
        {"programme": "x" * 5000},
    ],
)
def test_bad_filter_values_are_reported_and_ignored(client, data, query):
    client.force_login(report_viewer("analyst"))
    response = client.get(REPORT, query)
    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].errors
    assert response.context["summary"].rows == 3 * 16


def test_csv_export_follows_the_filters(client, data):
    client.force_login(report_viewer("analyst"))
    rows = csv_rows(client.get(export_url("csv"), {"province": "CN-SH"}))
    assert len(rows) == 16
    assert {row["Province"] for row in rows} == {"Shanghai"}


# -- partners ---------------------------------------------------------------------------------------


def test_partner_sees_only_their_providers_programmes(client, data):
    client.force_login(report_viewer("jd-team", partner="jd"))
    summary = client.get(REPORT).context["summary"]
    jd = set(
        StoredResult.objects.filter(programme__provider__slug="jd").values_list(
            "programme__slug", flat=True
        )
    )
    assert {slug for slug, _name, _counts in summary.per_programme} == jd
    assert (
        summary.rows
        == StoredResult.objects.filter(programme__provider__slug="jd").count()
    )


@pytest.mark.parametrize(
    "query", [{"provider": "mybank"}, {"programme": "mybank-contact-free-loans"}]
)
def test_partner_cannot_filter_their_way_to_other_providers(client, data, query):
    client.force_login(report_viewer("jd-team", partner="jd"))
    summary = client.get(REPORT, query).context["summary"]
    assert {slug for slug, _name, _counts in summary.per_programme} <= {
        "jd-spark",
        "jd-retail-digitisation",
        "jd-live-fee-cut",
    }
    rows = csv_rows(client.get(export_url("csv"), query))
    assert rows
    assert {row["Programme"] for row in rows} <= {
        "jd-spark",
        "jd-retail-digitisation",
        "jd-live-fee-cut",
    }


def test_partner_exports_withhold_contacts_of_businesses_that_did_not_consent(
    client, data
):
    client.force_login(report_viewer("jd-team", partner="jd"))
    rows = csv_rows(client.get(export_url("csv")))
    emails = {row["Contact email"] for row in rows}
    assert emails == {"stall@example.com", ""}
    assert "private@example.com" not in b"".join(
        client.get(export_url("csv")).streaming_content
    ).decode("utf-8-sig")
    xlsx = client.get(export_url("xlsx"))
    content = b"".join(xlsx.streaming_content) if xlsx.streaming else xlsx.content
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(content), read_only=True).active
    values = [cell for row in sheet.iter_rows(values_only=True) for cell in row]
    assert "private@example.com" not in values
    assert "stall@example.com" in values
    assert "mybank-contact-free-loans" not in values


def test_partner_cannot_open_other_providers_rows_in_the_admin_lists(client, data):
    partner = report_viewer("jd-team", partner="jd")
    partner.user_permissions.add(Permission.objects.get(codename="view_storedresult"))
    partner.user_permissions.add(
        Permission.objects.get(codename="view_businessprofile")
    )
    client.force_login(User.objects.get(pk=partner.pk))
    changelist = client.get(reverse("admin:programs_storedresult_changelist"))
    assert changelist.status_code == HTTPStatus.OK
    assert {r.programme.provider.slug for r in changelist.context["cl"].queryset} == {
        "jd"
    }
    other = StoredResult.objects.exclude(programme__provider__slug="jd").first()
    response = client.get(
        reverse("admin:programs_storedresult_change", args=[other.pk])
    )
    assert response.status_code in {HTTPStatus.FOUND, HTTPStatus.NOT_FOUND}
    assert (
        client.get(reverse("admin:programs_businessprofile_changelist")).status_code
        == HTTPStatus.FORBIDDEN
    )
    profile = data["private"]
    assert client.get(
        reverse("admin:programs_businessprofile_change", args=[profile.pk])
    ).status_code in {
        HTTPStatus.FORBIDDEN,
        HTTPStatus.FOUND,
    }


def test_admin_action_exports_selected_results_with_the_same_columns(client, data):
    user = staff_user("root", superuser=True)
    client.force_login(user)
    selected = StoredResult.objects.filter(profile=data["sharing"]).values_list(
        "pk", flat=True
    )[:3]
    response = client.post(
        reverse("admin:programs_storedresult_changelist"),
        {"action": "export_csv", "_selected_action": [str(pk) for pk in selected]},
    )
    rows = csv_rows(response)
    assert len(rows) == 3
    assert {row["Contact email"] for row in rows} == {"stall@example.com"}


@pytest.mark.parametrize("action", ["export_csv", "export_xlsx"])
def test_an_admin_action_over_too_many_rows_points_to_the_queued_export(
    client, data, settings, action
):
    settings.EXPORT_QUEUE_ROWS = {"csv": 2, "xlsx": 2}
    client.force_login(staff_user("root", superuser=True))
    selected = StoredResult.objects.values_list("pk", flat=True)[:3]
    response = client.post(
        reverse("admin:programs_storedresult_changelist"),
        {"action": action, "_selected_action": [str(pk) for pk in selected]},
        follow=True,
        headers={"accept-language": "zh-hans"},
    )
    assert "Content-Disposition" not in response
    [message] = [str(m) for m in response.context["messages"]]
    assert message.startswith("所选记录有 3 行结果")


def test_programme_admin_action_queues_a_recompute_of_stored_results(client, data):
    client.force_login(staff_user("root", superuser=True))
    response = client.post(
        reverse("admin:programs_programme_changelist"),
        {
            "action": "rematch_selected",
            "_selected_action": [
                str(pk)
                for pk in StoredResult.objects.values_list(
                    "programme_id", flat=True
                ).distinct()[:2]
            ],
        },
        follow=True,
    )
    assert response.status_code == HTTPStatus.OK
    assert any(
        "Started recomputing the stored results" in str(m)
        for m in response.context["messages"]
    )
    # A worker recomputes them: tests/test_background_jobs.py runs one.
    assert BackgroundJob.objects.filter(state=BackgroundJob.State.QUEUED).count() == 2
