"""
Background jobs: long work a worker runs outside the web request.

The queue is django-tasks (the backport of Django 6's ``django.tasks``)
with its database backend: ``enqueue`` writes a row, and ``manage.py
db_worker`` (one or more, anywhere the database is reachable) runs it.
Each job also has a ``BackgroundJob`` row, written by the task as it goes,
so the admin and the match report can say what is being done, how far it
got and what it found, in the reader's language.

* ``recompute_stored_results``: one programme's stored results, recomputed
  with the database filter path in chunks of profiles, one transaction
  each, reading the programme's newest rules for every chunk. Queued by
  every save of a programme or its criteria in the admin (after the commit)
  and by the admin action.
* ``send_match_alerts``: the alert run of ``manage.py send_match_alerts``,
  queued with ``--queue``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django_tasks import task  # Django 6: from django.tasks import task

from programs.catalogue.store import current_catalogue
from programs.engine import matching, sql, text
from programs.journey import alerts
from programs.models import BackgroundJob, BusinessProfile, Programme

#: Profiles recomputed per transaction: each chunk's locks are short, and
#: progress is recorded after each.
CHUNK = 20_000

UNFINISHED = [BackgroundJob.State.QUEUED, BackgroundJob.State.RUNNING]


# -- queueing ------------------------------------------------------------------


def enqueue_recompute(
    *, programme_ids: Iterable[int], requested_by: Any = None
) -> list[tuple[BackgroundJob, bool]]:
    """Queue a recompute of each programme's stored results; return (job, new?) each.

    A programme whose recompute is still waiting for a worker gets no second
    one: the waiting job reads the programme's newest rules when it starts.
    """
    queued = []
    for pk in programme_ids:
        waiting = BackgroundJob.objects.filter(
            kind=BackgroundJob.Kind.RECOMPUTE,
            programme_id=pk,
            state=BackgroundJob.State.QUEUED,
        ).first()
        if waiting is not None:
            queued.append((waiting, False))
            continue
        job = BackgroundJob.objects.create(
            kind=BackgroundJob.Kind.RECOMPUTE,
            programme_id=pk,
            requested_by=requested_by,
        )
        result = recompute_stored_results.enqueue(job.pk)
        BackgroundJob.objects.filter(pk=job.pk).update(task_id=str(result.id))
        job.task_id = str(result.id)
        queued.append((job, True))
    return queued


def recompute_after_commit(*, programme_id: int, requested_by: Any = None) -> None:
    """Queue a recompute of the programme once the current transaction commits.

    After the commit, so the worker reads the rules just saved, and nothing
    is queued for a save that is rolled back.
    """
    transaction.on_commit(
        partial(
            enqueue_recompute, programme_ids=[programme_id], requested_by=requested_by
        )
    )


def enqueue_alerts(
    *, today: datetime.date | None = None, requested_by: Any = None
) -> BackgroundJob:
    """Queue an alert run (``send_match_alerts``) for a worker."""
    job = BackgroundJob.objects.create(
        kind=BackgroundJob.Kind.ALERTS, requested_by=requested_by
    )
    result = send_match_alerts.enqueue(job.pk, today.isoformat() if today else None)
    BackgroundJob.objects.filter(pk=job.pk).update(task_id=str(result.id))
    job.task_id = str(result.id)
    return job


# -- the tasks -------------------------------------------------------------------


def _start(job_id: int, *, total: int | None = None) -> None:
    BackgroundJob.objects.filter(pk=job_id).update(
        state=BackgroundJob.State.RUNNING, started_at=timezone.now(), total=total
    )


def _finish(job_id: int, state: BackgroundJob.State, **changes: Any) -> None:
    BackgroundJob.objects.filter(pk=job_id).update(
        state=state, finished_at=timezone.now(), **changes
    )


@task()
def recompute_stored_results(job_id: int) -> dict[str, Any]:
    """Recompute one programme's stored results in chunks; record progress and moves."""
    job = BackgroundJob.objects.get(pk=job_id)
    assert job.programme_id is not None  # a recompute is always of a programme
    profiles = BusinessProfile.objects.order_by("pk")
    _start(job_id, total=profiles.count())
    try:
        figures = _recompute(job_id, job.programme_id, profiles)
    except BaseException:
        _finish(job_id, BackgroundJob.State.FAILED)
        raise
    _finish(job_id, BackgroundJob.State.DONE, figures=figures)
    return figures


def _recompute(
    job_id: int, programme_id: int, profiles: QuerySet[BusinessProfile]
) -> dict[str, Any]:
    moves: dict[tuple[str, str], int] = {}
    added = done = 0
    last = 0
    version = ""
    while ids := list(
        profiles.filter(pk__gt=last).values_list("pk", flat=True)[:CHUNK]
    ):
        # The newest rules for every chunk: a save during the job is never
        # written over with the rules from before it (and queues a new job
        # that recomputes the chunks already done).
        catalogue = current_catalogue()
        slug = next(s for s, pk in catalogue.ids.items() if pk == programme_id)
        programme = catalogue.get(slug)
        assert programme is not None
        version = catalogue.version
        chunk_moves, chunk_added = sql.rematch_programme(
            programme,
            programme_id=programme_id,
            catalogue_version=version,
            profiles=BusinessProfile.objects.filter(pk__gt=last, pk__lte=ids[-1]),
        )
        for move, n in chunk_moves.items():
            moves[move] = moves.get(move, 0) + n
        added += chunk_added
        done += len(ids)
        last = ids[-1]
        BackgroundJob.objects.filter(pk=job_id).update(
            done=done, figures=_recompute_figures(moves, added, version)
        )
    return _recompute_figures(moves, added, version)


def _recompute_figures(
    moves: dict[tuple[str, str], int], added: int, version: str
) -> dict[str, Any]:
    return {
        "moves": [[before, after, n] for (before, after), n in sorted(moves.items())],
        "added": added,
        "catalogue_version": version,
    }


@task()
def send_match_alerts(job_id: int, today: str | None = None) -> dict[str, Any]:
    """Run ``alerts.send_alerts`` as a job; record what was sent."""
    _start(job_id)
    try:
        run = alerts.send_alerts(
            today=datetime.date.fromisoformat(today) if today else None
        )
    except BaseException:
        _finish(job_id, BackgroundJob.State.FAILED)
        raise
    figures = {
        "emails": run.emails,
        "alerts": run.alerts,
        "fits": run.by_kind["fits"],
        "deadline": run.by_kind["deadline"],
    }
    _finish(job_id, BackgroundJob.State.DONE, figures=figures, done=run.emails)
    return figures


# -- what the admin and the match report say ----------------------------------------


def outcome_label(value: str) -> str:
    return str(matching.OUTCOME_LABELS[matching.Outcome(value)])


def describe_result(job: BackgroundJob) -> str:
    """Return what a job found, in the active language; empty while unfinished."""
    if job.state == BackgroundJob.State.FAILED:
        return gettext(
            "The job stopped with an error; the worker's log has it. Start it again "
            "from the programme list."
        )
    if job.state != BackgroundJob.State.DONE:
        return ""
    figures = job.figures
    if job.kind == BackgroundJob.Kind.ALERTS:
        return gettext(
            "Sent %(emails)s emails with %(alerts)s alerts (%(fits)s newly fitting, "
            "%(deadline)s closing soon)."
        ) % {k: figures.get(k, 0) for k in ("emails", "alerts", "fits", "deadline")}
    parts = [
        ngettext(
            "%(n)s result changed from “%(before)s” to “%(after)s”",
            "%(n)s results changed from “%(before)s” to “%(after)s”",
            n,
        )
        % {"n": n, "before": outcome_label(before), "after": outcome_label(after)}
        for before, after, n in figures.get("moves", [])
    ]
    if added := figures.get("added", 0):
        parts.append(
            ngettext("%(n)s result added", "%(n)s results added", added) % {"n": added}
        )
    if not parts:
        return gettext("No stored result changed.")
    return gettext("%(changes)s.") % {"changes": text.together(parts)}


def describe_progress(job: BackgroundJob) -> str:
    """Return how far a job got: "done of total", or its state when that is unknown."""
    if job.total is None:
        return "—" if job.state != BackgroundJob.State.DONE else str(job.done)
    return gettext("%(done)s of %(total)s") % {
        "done": text.format_number(job.done),
        "total": text.format_number(job.total),
    }


def percent_done(job: BackgroundJob) -> int:
    if not job.total:
        return 0
    return min(100, job.done * 100 // job.total)


def quoted(name: object) -> str:
    """Return a programme's name in quotation marks, unless it has its own.

    京东“星火计划” reads as a name already; quoting it again would nest quotes.
    """
    name = str(name)
    return name if "“" in name else f"“{name}”"


def programme_names(programmes: Iterable[Programme]) -> str:
    """Return programmes named as a reader reads them: “A”, “B” and “C”."""
    return text.together([quoted(p) for p in programmes])


def unfinished_recomputes(
    programmes: QuerySet[Programme] | None = None,
) -> list[BackgroundJob]:
    """Return the recomputes queued or running (of those programmes), oldest first."""
    jobs = BackgroundJob.objects.filter(
        kind=BackgroundJob.Kind.RECOMPUTE, state__in=UNFINISHED
    )
    if programmes is not None:
        jobs = jobs.filter(programme__in=programmes)
    return list(jobs.select_related("programme").order_by("enqueued_at", "pk"))


def recompute_notices(jobs: list[BackgroundJob]) -> list[str]:
    """Return the match report's sentences about recomputes still under way."""
    notices = []
    for job in jobs:
        assert job.programme is not None
        remaining = (job.total - job.done) if job.total is not None else None
        since = timezone.localtime(job.enqueued_at).strftime("%Y-%m-%d %H:%M")
        sentence = gettext(
            "The counts of %(programme)s are being recomputed with its new rules: "
            "%(percent)s%% done."
        ) % {"programme": quoted(job.programme), "percent": percent_done(job)}
        if remaining is None:
            sentence += " " + gettext(
                "Until the recompute has run, its results describe the rules before "
                "%(time)s."
            ) % {"time": since}
        else:
            sentence += " " + ngettext(
                "%(n)s result still describes the rules before %(time)s.",
                "%(n)s results still describe the rules before %(time)s.",
                remaining,
            ) % {"n": text.format_number(remaining), "time": since}
        notices.append(sentence)
    return notices
