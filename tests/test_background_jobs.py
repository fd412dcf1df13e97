"""Background jobs: rule changes queue a recompute that a real worker runs.

Every test here commits (``transaction=True``): the admin queues work after
its transaction commits, and the worker (``manage.py db_worker --batch``,
run in this process) reads the queue like a worker process does.
"""

from __future__ import annotations

import datetime
import io
import signal
from collections.abc import Iterator
from http import HTTPStatus

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from programs import jobs
from programs.catalogue import loader, store
from programs.engine import contract, matching
from programs.journey import kept as kept_profiles
from programs.models import (
    BackgroundJob,
    BusinessProfile,
    Criterion,
    Programme,
    StoredResult,
)
from tests.builders import make_profile

pytestmark = pytest.mark.django_db(transaction=True)

AS_OF = datetime.date(2020, 6, 15)
REPORT = reverse("admin:programs_match_report")
JOBS = reverse("admin:programs_backgroundjob_changelist")
CHINESE = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def run_worker() -> None:
    """Run the database worker until the queue is empty, as `manage.py db_worker` does."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        call_command(
            "db_worker",
            "--batch",
            "--no-startup-delay",
            "--no-reload",
            verbosity=0,
            stdout=io.StringIO(),
        )
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)


@pytest.fixture
def kept():
    """The shipped catalogue and four kept profiles, three of them JD Spark eligible."""
    loader.load_catalogue()
    for profile in [
        make_profile(business_type="street_stall", employees=1, province="CN-HB"),
        make_profile(business_type="convenience_store", employees=3),
        make_profile(business_type="retail_shop", employees=2),
        make_profile(business_type="restaurant", employees=30),
    ]:
        kept_profiles.profile_keep(
            profile=profile,
            consent=kept_profiles.Consent(store=True),
            report=store.run_match(profile=profile, as_of=AS_OF),
            as_of=AS_OF,
            language="en",
        )


@pytest.fixture
def admin(client) -> Iterator:
    user = User.objects.create_superuser("root", "root@example.com", "x")
    client.force_login(user)
    return client


def spark() -> Programme:
    return Programme.objects.get(slug="jd-spark")


def stored(slug: str = "jd-spark") -> list[tuple[int, str]]:
    return sorted(
        StoredResult.objects.filter(programme__slug=slug).values_list(
            "profile_id", "outcome"
        )
    )


def narrow_spark_to_restaurants(admin) -> object:
    """Save JD Spark's business-type rule as "restaurants only" in the admin, in Chinese."""
    criterion = Criterion.objects.get(programme=spark(), field="business_type")
    return admin.post(
        reverse("admin:programs_criterion_change", args=[criterion.pk]),
        {
            "group": criterion.group,
            "required": "on",
            "field": "business_type",
            "operator": "one_of",
            "value": "restaurant",
            "basis": criterion.basis,
            "explanation_en": criterion.explanation_en,
            "explanation_zh_hans": criterion.explanation_zh_hans,
        },
        follow=True,
        **CHINESE,
    )


def assert_stored_results_equal_a_fresh_match() -> None:
    """Every stored result is what the matcher says now; JD Spark's carry the new version.

    Other programmes' results keep the fingerprint they were computed with:
    their rules did not change, and recomputing them is not needed.
    """
    catalogue = store.current_catalogue()
    for row in BusinessProfile.objects.all():
        profile = contract.from_columns(row)
        for result in StoredResult.objects.filter(profile=row).select_related(
            "programme"
        ):
            expected = matching.assess(
                profile, catalogue.get(result.programme.slug), as_of=row.as_of
            )
            assert (result.outcome, result.near_miss, result.availability) == (
                expected.outcome.value,
                expected.near_miss,
                expected.availability.value,
            ), (row.pk, result.programme.slug)
            if result.programme.slug == "jd-spark":
                assert result.catalogue_version == catalogue.version


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_saving_a_rule_queues_a_recompute_that_the_worker_runs(kept, admin):
    before = stored()
    response = narrow_spark_to_restaurants(admin)

    assert response.status_code == HTTPStatus.OK
    job = BackgroundJob.objects.get()
    assert (job.kind, job.programme, job.state) == (
        BackgroundJob.Kind.RECOMPUTE,
        spark(),
        BackgroundJob.State.QUEUED,
    )
    assert DBTaskResult.objects.filter(id=job.task_id).exists()
    assert stored() == before  # nothing recomputed inside the request

    run_worker()

    job.refresh_from_db()
    assert job.state == BackgroundJob.State.DONE
    assert (job.done, job.total) == (4, 4)
    assert job.finished_at is not None
    assert stored() != before
    assert_stored_results_equal_a_fresh_match()


def test_admin_messages_are_chinese_and_name_the_programme(kept, admin):
    messages = messages_of(narrow_spark_to_restaurants(admin))

    assert any(
        m.startswith("京东“星火计划”对 4 份已存商户资料的影响") for m in messages
    ), messages
    assert any(
        "正在后台按新规则重新计算京东“星火计划”的已存结果" in m for m in messages
    ), messages
    # Django's own "changed successfully" names the criterion as its rule reads.
    assert any("条件“<a href=" in m and "经营类型需要是餐馆" in m for m in messages)
    assert not any("eligible" in m or "_" in m or "one_of" in m for m in messages)


def test_admin_action_queues_instead_of_recomputing_in_the_request(kept, admin):
    Criterion.objects.filter(programme=spark(), field="business_type").update(
        value=["restaurant"]
    )
    before = stored()

    response = admin.post(
        reverse("admin:programs_programme_changelist"),
        {"action": "rematch_selected", "_selected_action": [str(spark().pk)]},
        follow=True,
        **CHINESE,
    )

    assert response.status_code == HTTPStatus.OK
    assert messages_of(response) == [
        "已开始在后台重新计算京东“星火计划”的已存结果，进度见“后台任务”列表。"
    ]
    assert stored() == before
    assert BackgroundJob.objects.get().state == BackgroundJob.State.QUEUED

    run_worker()

    assert stored() != before
    assert_stored_results_equal_a_fresh_match()


def test_queuing_twice_while_waiting_makes_one_job(kept, admin):
    for _ in range(2):
        response = admin.post(
            reverse("admin:programs_programme_changelist"),
            {"action": "rematch_selected", "_selected_action": [str(spark().pk)]},
            follow=True,
        )
    assert BackgroundJob.objects.count() == 1
    assert "already waiting to be recomputed" in messages_of(response)[0]


def test_job_list_shows_state_progress_and_what_moved_by_label(kept, admin):
    Criterion.objects.filter(programme=spark(), field="business_type").update(
        value=["restaurant"]
    )
    [(job, _new)] = jobs.enqueue_recompute(programme_ids=[spark().pk])

    waiting = admin.get(JOBS, **CHINESE).content.decode()
    assert "京东“星火计划”" in waiting
    assert "等待后台进程" in waiting

    run_worker()

    done = admin.get(JOBS, **CHINESE).content.decode()
    assert "已完成" in done
    assert "4 / 4" in done
    assert "3 个结果从“符合条件”变为“不符合条件”" in done
    job.refresh_from_db()
    assert ["eligible", "not_eligible", 3] in job.figures["moves"]


def test_recompute_in_chunks_records_progress_and_uses_the_newest_rules(
    kept, admin, monkeypatch
):
    monkeypatch.setattr(jobs, "CHUNK", 1)
    seen = []
    original = jobs.sql.rematch_programme

    def rematch_and_watch(*args, **kwargs):
        running = BackgroundJob.objects.filter(state=BackgroundJob.State.RUNNING)
        seen.append(running.values_list("done", flat=True).get())
        if len(seen) == 2:  # a rule saved halfway through the job
            Criterion.objects.filter(programme=spark(), field="business_type").update(
                value=["restaurant"]
            )
        return original(*args, **kwargs)

    monkeypatch.setattr(jobs.sql, "rematch_programme", rematch_and_watch)
    jobs.enqueue_recompute(programme_ids=[spark().pk])
    run_worker()

    assert seen == [0, 1, 2, 3]
    assert stored()[1] == (stored()[1][0], "eligible")  # done before the change
    # The chunks after the change used it; the chunk before it is put right
    # by the next recompute, which a save in the admin queues.
    jobs.enqueue_recompute(programme_ids=[spark().pk])
    run_worker()
    assert seen[4:] == [0, 1, 2, 3]
    assert_stored_results_equal_a_fresh_match()


def test_match_report_says_while_counts_are_being_recomputed(kept, admin):
    job = BackgroundJob.objects.create(
        kind=BackgroundJob.Kind.RECOMPUTE,
        programme=spark(),
        state=BackgroundJob.State.RUNNING,
        done=1,
        total=4,
        enqueued_at=datetime.datetime(
            2026, 1, 5, 9, 30, tzinfo=timezone.get_current_timezone()
        ),
    )
    checked_on = store.current_catalogue().programmes
    edition = max(p.last_verified_on for p in checked_on if p.last_verified_on)

    page = admin.get(REPORT, **CHINESE).content.decode()

    assert "正在按新规则重新计算京东“星火计划”的统计，已完成 25%。" in page
    assert "3 个结果仍按 2026-01-05 09:30 之前的规则计算。" in page
    version = store.current_catalogue().version
    assert f"统计依据 {edition.isoformat()} 版资料的规则（版本号 {version}）。" in page

    job.state = BackgroundJob.State.DONE
    job.save()
    assert "正在按新规则重新计算" not in admin.get(REPORT, **CHINESE).content.decode()


def test_alert_run_is_queued_by_the_command_and_sent_by_the_worker(kept):
    out = io.StringIO()
    call_command("send_match_alerts", "--queue", "--today", "2020-06-15", stdout=out)

    job = BackgroundJob.objects.get()
    assert job.kind == BackgroundJob.Kind.ALERTS
    assert f"#{job.pk}" in out.getvalue()
    assert job.state == BackgroundJob.State.QUEUED

    run_worker()

    job.refresh_from_db()
    assert job.state == BackgroundJob.State.DONE
    assert set(job.figures) == {"emails", "alerts", "fits", "deadline"}


def test_a_failing_job_is_marked_failed(kept, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(jobs.sql, "rematch_programme", broken)
    [(job, _new)] = jobs.enqueue_recompute(programme_ids=[spark().pk])

    run_worker()

    job.refresh_from_db()
    assert job.state == BackgroundJob.State.FAILED
    assert DBTaskResult.objects.get(id=job.task_id).status == "FAILED"
    assert "worker's log" in jobs.describe_result(job)


def test_match_report_says_when_stored_results_follow_older_rules_with_no_recompute(
    kept, admin
):
    call_command("rematch", stdout=io.StringIO())
    assert spark().recomputed_rules.rules == matching.catalogue_version(
        [store.current_catalogue().get("jd-spark")]
    )
    assert 'id="report-stale"' not in admin.get(REPORT).content.decode()

    # A rule changed without the admin (a shell, a data fix): nothing is queued.
    Criterion.objects.filter(programme=spark(), field="business_type").update(
        value=["restaurant"]
    )
    page = admin.get(REPORT, **CHINESE).content.decode()
    assert (
        "京东“星火计划”的规则在已存结果上次重新计算之后改过，而现在没有正在进行的"
        "重新计算：它的统计和明细仍按旧规则。"
    ) in page

    jobs.enqueue_recompute(programme_ids=[spark().pk])
    assert 'id="report-stale"' not in admin.get(REPORT).content.decode()  # under way
    run_worker()

    assert 'id="report-stale"' not in admin.get(REPORT).content.decode()
    assert spark().recomputed_rules.rules == matching.catalogue_version(
        [store.current_catalogue().get("jd-spark")]
    )


def test_the_admin_lists_background_jobs_and_not_the_queues_own_rows(kept, admin):
    page = admin.get(reverse("admin:index"), **CHINESE).content.decode()
    assert JOBS in page
    assert "dbtaskresult" not in page
