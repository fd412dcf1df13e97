"""Large exports and screening files: a worker writes them; their owner downloads them.

Every test commits (``transaction=True``) and runs the real database worker,
as in ``test_background_jobs``.
"""

from __future__ import annotations

import csv
import datetime
import io
from http import HTTPStatus

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from programs import jobs
from programs.api import screening
from programs.models import BackgroundJob, StoredResult
from tests.factories import report_viewer

# kept: the shipped catalogue and four kept profiles, a fixture every test uses.
from tests.test_background_jobs import kept, run_worker  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("kept")]

AS_OF = datetime.date(2020, 6, 15)
REPORT = reverse("admin:programs_match_report")
SCREENING = reverse("screening")
CHINESE = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
#: Every export is "large": the worker writes it.
QUEUE_ALL = {"csv": 0, "xlsx": 0}
#: No export is large: the request writes it.
QUEUE_NONE = {"csv": 10**9, "xlsx": 10**9}


def export_url(fmt: str, query: str = "") -> str:
    url = reverse("admin:programs_match_report_export", args=[fmt])
    return f"{url}?{query}" if query else url


@pytest.fixture
def adviser(client):
    client.force_login(report_viewer("adviser"))
    return client


def queue_export(client, fmt: str, query: str = "") -> BackgroundJob:
    """Ask for an export, confirm it on the page offered, and return the job."""
    offer = client.get(export_url(fmt, query), **CHINESE)
    assert offer.status_code == HTTPStatus.OK
    assert "export-queue-form" in offer.content.decode()
    response = client.post(export_url(fmt, query), **CHINESE)
    job = BackgroundJob.objects.get(kind=BackgroundJob.Kind.EXPORT)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("admin:programs_job_file", args=[job.pk])
    return job


def download(client, job: BackgroundJob) -> bytes:
    response = client.get(reverse("admin:programs_job_file_download", args=[job.pk]))
    assert response.status_code == HTTPStatus.OK
    assert job.filename in response["Content-Disposition"]
    return b"".join(response.streaming_content)


# -- exports ---------------------------------------------------------------------------


def test_a_large_csv_export_is_offered_then_written_by_the_worker_as_the_request_would(
    adviser,
):
    with override_settings(EXPORT_QUEUE_ROWS=QUEUE_NONE):
        in_request = b"".join(
            adviser.get(export_url("csv"), **CHINESE).streaming_content
        )

    with override_settings(EXPORT_QUEUE_ROWS=QUEUE_ALL):
        offer = adviser.get(export_url("csv"), **CHINESE).content.decode()
        assert not BackgroundJob.objects.exists()  # asking queues nothing
        job = queue_export(adviser, "csv")
    rows = StoredResult.objects.count()
    assert f"这些筛选条件得到 {rows} 行" in offer
    waiting = adviser.get(
        reverse("admin:programs_job_file", args=[job.pk]), **CHINESE
    ).content.decode()
    assert "等待后台进程" in waiting
    assert 'http-equiv="refresh"' in waiting

    run_worker()

    job.refresh_from_db()
    assert job.state == BackgroundJob.State.DONE
    assert (job.done, job.total) == (rows, rows)
    page = adviser.get(
        reverse("admin:programs_job_file", args=[job.pk]), **CHINESE
    ).content.decode()
    assert f"已写入 {rows} 行。" in page
    assert 'http-equiv="refresh"' not in page
    assert download(adviser, job) == in_request


def test_a_large_xlsx_export_keeps_the_filters_and_the_language(adviser):
    with override_settings(EXPORT_QUEUE_ROWS=QUEUE_ALL):
        job = queue_export(adviser, "xlsx", "tier=eligible")
    run_worker()

    sheet = openpyxl.load_workbook(io.BytesIO(download(adviser, job))).active
    headings, *rows = list(sheet.values)
    assert "项目" in headings  # the requester's language, not the worker's
    assert rows
    assert all("符合条件" in row for row in rows)
    assert len(rows) == StoredResult.objects.filter(outcome="eligible").count()


def test_a_partners_queued_export_has_only_their_providers_rows(client):
    client.force_login(report_viewer("meituan-partner", partner="meituan"))
    with override_settings(EXPORT_QUEUE_ROWS=QUEUE_ALL):
        job = queue_export(client, "csv")
    run_worker()

    text = download(client, job).decode("utf-8-sig")
    programmes = {row["项目"] for row in csv.DictReader(io.StringIO(text))}
    assert programmes
    assert all(slug.startswith("meituan") for slug in programmes)


def test_only_the_requester_sees_or_downloads_a_jobs_file(adviser, client):
    with override_settings(EXPORT_QUEUE_ROWS=QUEUE_ALL):
        job = queue_export(adviser, "csv")
    run_worker()

    client.force_login(report_viewer("colleague"))
    for name in ("admin:programs_job_file", "admin:programs_job_file_download"):
        assert client.get(reverse(name, args=[job.pk])).status_code == 404


def test_the_match_report_lists_the_users_recent_files(adviser):
    with override_settings(EXPORT_QUEUE_ROWS=QUEUE_ALL):
        job = queue_export(adviser, "csv")
    page = adviser.get(REPORT, **CHINESE).content.decode()
    assert reverse("admin:programs_job_file", args=[job.pk]) in page
    assert job.filename in page


def test_files_are_purged_after_the_keeping_period_and_the_page_says_so(adviser):
    with override_settings(EXPORT_QUEUE_ROWS=QUEUE_ALL):
        job = queue_export(adviser, "csv")
    run_worker()
    job.refresh_from_db()
    assert jobs.job_files().exists(job.file)

    assert jobs.purge_job_files() == 0  # not old yet
    later = timezone.now() + datetime.timedelta(days=8)
    assert jobs.purge_job_files(now=later) == 1

    assert not jobs.job_files().exists(job.file)
    job.refresh_from_db()
    assert job.file == ""
    page = adviser.get(
        reverse("admin:programs_job_file", args=[job.pk]), **CHINESE
    ).content.decode()
    assert "文件已在写入 7 天后删除" in page
    response = adviser.get(reverse("admin:programs_job_file_download", args=[job.pk]))
    assert response.status_code == HTTPStatus.FOUND


def test_the_purge_command_deletes_old_job_files(adviser):
    with override_settings(EXPORT_QUEUE_ROWS=QUEUE_ALL):
        job = queue_export(adviser, "csv")
    run_worker()
    BackgroundJob.objects.filter(pk=job.pk).update(
        finished_at=timezone.now() - datetime.timedelta(days=30)
    )
    out = io.StringIO()
    call_command("purge_stale_profiles", stdout=out)
    assert "Deleted 1 export and screening files older than 7 days." in out.getvalue()
    job.refresh_from_db()
    assert job.file == ""


# -- screening files ---------------------------------------------------------------------

ROWS = (
    b"business_type,province,employees,needs,platforms\n"
    b"street_stall,CN-HB,1,financing;stock_sourcing,alipay_merchant\n"
    b"castle,CN-HB,-1,financing,\n"
    b"restaurant,CN-SH,,rent_relief,meituan\n"
    b"convenience_store,CN-GD,3,stock_sourcing,\n"
)


def screen(client, action: str):
    return client.post(
        SCREENING,
        {
            "as_of": AS_OF.isoformat(),
            "action": action,
            "file": SimpleUploadedFile("shops.csv", ROWS, content_type="text/csv"),
        },
        **CHINESE,
    )


def test_a_screening_file_over_the_in_request_limit_is_screened_by_the_worker(
    adviser, monkeypatch
):
    in_request = screen(adviser, "download").content

    monkeypatch.setattr(screening, "MAX_SCREENING_ROWS", 2)
    monkeypatch.setattr(jobs, "SCREENING_CHUNK", 3)  # two parts: rows 1-3 and 4
    response = screen(adviser, "summary")
    job = BackgroundJob.objects.get(kind=BackgroundJob.Kind.SCREENING)
    assert response["Location"] == reverse("admin:programs_job_file", args=[job.pk])
    upload = job.params["upload"]
    assert jobs.job_files().exists(upload)

    run_worker()

    job.refresh_from_db()
    assert job.state == BackgroundJob.State.DONE
    assert (job.done, job.total) == (4, 4)
    assert not jobs.job_files().exists(upload)  # the upload is not kept
    page = adviser.get(
        reverse("admin:programs_job_file", args=[job.pk]), **CHINESE
    ).content.decode()
    assert "共 4 行：3 行已核对，1 行有错误。" in page
    assert "京东“星火计划”" in page  # counts per programme, by name
    assert download(adviser, job) == in_request


def test_a_screening_file_over_the_queued_limit_is_refused_and_nothing_is_kept(
    adviser, monkeypatch
):
    monkeypatch.setattr(screening, "MAX_SCREENING_ROWS", 1)
    monkeypatch.setattr(screening, "MAX_QUEUED_SCREENING_ROWS", 3)
    page = screen(adviser, "summary").content.decode()
    assert "一次最多 3 行。" in page
    assert not BackgroundJob.objects.exists()


def test_a_failed_screenings_upload_is_purged_with_the_old_files(adviser, monkeypatch):
    monkeypatch.setattr(screening, "MAX_SCREENING_ROWS", 2)

    def broken(*args, **kwargs):
        raise RuntimeError("the worker fell over")

    monkeypatch.setattr(screening, "screen", broken)
    screen(adviser, "summary")
    run_worker()  # the worker records the failure and goes on
    job = BackgroundJob.objects.get()
    assert job.state == BackgroundJob.State.FAILED
    upload = job.params["upload"]
    assert jobs.job_files().exists(upload)

    later = timezone.now() + datetime.timedelta(days=8)
    assert jobs.purge_job_files(now=later) == 1
    assert not jobs.job_files().exists(upload)
    job.refresh_from_db()
    assert "upload" not in job.params
    assert jobs.purge_job_files(now=later) == 0  # nothing left to purge
