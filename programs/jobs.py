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
* ``export_match_rows``: a staff export of more rows than
  ``settings.EXPORT_QUEUE_ROWS`` allows within a request, written as the
  requester (their partner scope, filters, language) to the ``job_files``
  storage.
* ``screen_csv_file``: a screening CSV of more than
  ``screening.MAX_SCREENING_ROWS`` rows, uploaded on the staff screening page;
  the upload is deleted once screened, the result file kept.

A job's file is downloaded only by the staff member who asked for it, from
its job page, and deleted after ``settings.JOB_FILES_KEEP_DAYS`` days by
``purge_job_files`` (run by ``manage.py purge_stale_profiles``).
"""

from __future__ import annotations

import datetime
import io
import secrets
import tempfile
from collections.abc import Callable, Iterable
from functools import partial
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext
from django_tasks import task  # Django 6: from django.tasks import task

from programs.api import screening
from programs.catalogue.store import current_catalogue
from programs.engine import matching, sql, text
from programs.journey import alerts
from programs.models import (
    BackgroundJob,
    BusinessProfile,
    Programme,
    RecomputedRules,
    StoredResult,
)
from programs.staff import exports, match_report
from programs.staff.forms import report_filter_form

#: Profiles recomputed per transaction: each chunk's locks are short, and
#: progress is recorded after each.
CHUNK = 20_000

UNFINISHED = [BackgroundJob.State.QUEUED, BackgroundJob.State.RUNNING]
#: The jobs that write a file for the staff member who asked for it.
FILE_KINDS = [BackgroundJob.Kind.EXPORT, BackgroundJob.Kind.SCREENING]


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
        queued.append((_enqueue(job, recompute_stored_results), True))
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
    return _enqueue(job, send_match_alerts, today.isoformat() if today else None)


def enqueue_export(
    *, user: Any, fmt: str, query: dict[str, str], filename: str
) -> BackgroundJob:
    """Queue an export of the match report's rows (filters ``query``) as ``user``."""
    job = BackgroundJob.objects.create(
        kind=BackgroundJob.Kind.EXPORT,
        requested_by=user,
        filename=filename,
        params={"format": fmt, "query": query, "language": translation.get_language()},
    )
    return _enqueue(job, export_match_rows)


def enqueue_screening(
    *, user: Any, upload: File[bytes], as_of: datetime.date, rows: int, filename: str
) -> BackgroundJob:
    """Keep an uploaded screening CSV and queue its screening as of a day."""
    job = BackgroundJob.objects.create(
        kind=BackgroundJob.Kind.SCREENING,
        requested_by=user,
        filename=filename,
        total=rows,
        params={"as_of": as_of.isoformat(), "language": translation.get_language()},
    )
    upload.seek(0)
    job.params["upload"] = job_files().save(
        f"screening/{job.pk}-{secrets.token_hex(8)}-upload.csv", upload
    )
    BackgroundJob.objects.filter(pk=job.pk).update(params=job.params)
    return _enqueue(job, screen_csv_file)


def _enqueue(job: BackgroundJob, work: Any, *args: Any) -> BackgroundJob:
    """Queue ``work(job.pk, *args)`` and note its task's id on the job."""
    result = work.enqueue(job.pk, *args)
    BackgroundJob.objects.filter(pk=job.pk).update(task_id=str(result.id))
    job.task_id = str(result.id)
    return job


# -- the files jobs write ---------------------------------------------------------


def job_files() -> Storage:
    """Return the storage of the files background jobs write (settings.STORAGES)."""
    return storages["job_files"]


def _keep_file(job_id: int, folder: str, suffix: str, source: IO[bytes]) -> str:
    """Save a job's finished file under an unguessable name; return the name."""
    source.seek(0)
    return job_files().save(
        f"{folder}/{job_id}-{secrets.token_hex(8)}.{suffix}", File(source)
    )


def purge_job_files(*, now: datetime.datetime | None = None) -> int:
    """Delete the files (results, and uploads left by a failed screening) of jobs
    finished over JOB_FILES_KEEP_DAYS ago; return how many files."""
    cutoff = (now or timezone.now()) - datetime.timedelta(
        days=settings.JOB_FILES_KEEP_DAYS
    )
    # A failed screening still holds its upload: that goes too.
    old = BackgroundJob.objects.filter(finished_at__lt=cutoff).filter(
        Q(file__gt="") | Q(params__has_key="upload")
    )
    purged = 0
    for job in old.only("pk", "file", "params"):
        for name in (job.file, job.params.pop("upload", "")):
            if name:
                job_files().delete(name)
                purged += 1
        BackgroundJob.objects.filter(pk=job.pk).update(file="", params=job.params)
    return purged


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
    rules_used: set[str] = set()
    while ids := list(
        profiles.filter(pk__gt=last).values_list("pk", flat=True)[:CHUNK]
    ):
        # The newest rules for every chunk: a save during the job is never
        # written over with the rules from before it (and queues a new job
        # that recomputes the chunks already done).
        version, programme = _programme(programme_id)
        rules_used.add(matching.catalogue_version([programme]))
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
    if not rules_used:  # no profile at all: nothing describes older rules
        rules_used.add(matching.catalogue_version([_programme(programme_id)[1]]))
    if len(rules_used) == 1:
        # Every chunk followed the same rules; after a save mid-run, the job
        # that save queued records its rules instead.
        RecomputedRules.record(programme_id, rules_used.pop())
    return _recompute_figures(moves, added, version)


def _programme(programme_id: int) -> tuple[str, matching.Programme]:
    """Return the catalogue's version and the programme's newest rules."""
    catalogue = current_catalogue()
    slug = next(s for s, pk in catalogue.ids.items() if pk == programme_id)
    programme = catalogue.get(slug)
    assert programme is not None
    return catalogue.version, programme


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


def _write_file(
    job_id: int, work: Callable[[BackgroundJob], dict[str, Any]]
) -> dict[str, Any]:
    """Do a file job's work in its requester's language; record its figures and file."""
    job = BackgroundJob.objects.select_related("requested_by").get(pk=job_id)
    try:
        with translation.override(job.params.get("language")):
            figures = work(job)
    except BaseException:
        _finish(job_id, BackgroundJob.State.FAILED)
        raise
    _finish(job_id, BackgroundJob.State.DONE, figures=figures, file=figures["file"])
    return figures


@task()
def export_match_rows(job_id: int) -> dict[str, Any]:
    """Write the match report's rows as the requester sees them, to a job file."""
    return _write_file(job_id, _export)


def _export(job: BackgroundJob) -> dict[str, Any]:
    user = job.requested_by
    if user is None:
        raise PermissionError("The export's requester was deleted.")
    # Access and scope as they are now, not as they were when it was queued.
    match_report.check_access(user)
    filters = report_filter_form(user, job.params.get("query")).to_filters()
    queryset = match_report.report_queryset(user=user, filters=filters)
    _start(job.pk, total=queryset.count())

    def progress(rows: int) -> None:
        BackgroundJob.objects.filter(pk=job.pk).update(done=rows)

    fmt = job.params["format"]
    with tempfile.TemporaryFile() as out:
        if fmt == "xlsx":
            rows = exports.write_xlsx(queryset, out, progress=progress)
        else:
            wrapper = io.TextIOWrapper(out, encoding="utf-8", newline="")
            wrapper.write(exports.BOM)
            rows = exports.write_csv(queryset, wrapper, progress=progress)
            wrapper.flush()
            wrapper.detach()
        name = _keep_file(job.pk, "exports", fmt, out)
    return {"rows": rows, "file": name}


#: Rows screened between two progress updates.
SCREENING_CHUNK = 500


@task()
def screen_csv_file(job_id: int) -> dict[str, Any]:
    """Screen an uploaded CSV in parts, write the result file, delete the upload."""
    return _write_file(job_id, _screen)


def _screen(job: BackgroundJob) -> dict[str, Any]:
    upload = job.params["upload"]
    with job_files().open(upload, "rb") as fp:
        rows, problem = screening.read_screening_csv(
            File(fp), max_rows=screening.MAX_QUEUED_SCREENING_ROWS
        )
    if problem:  # checked when it was uploaded; only a changed file gets here
        raise ValueError(problem)
    as_of = datetime.date.fromisoformat(job.params["as_of"])
    _start(job.pk, total=len(rows))
    parts = []
    for start in range(0, len(rows), SCREENING_CHUNK):
        parts.append(
            screening.screen(
                rows[start : start + SCREENING_CHUNK], as_of, first_row=start + 1
            )
        )
        BackgroundJob.objects.filter(pk=job.pk).update(
            done=min(len(rows), start + SCREENING_CHUNK)
        )
    result = {
        **parts[0],
        "rows": sum(p["rows"] for p in parts),
        "errors": sum(p["errors"] for p in parts),
        "results": [row for p in parts for row in p["results"]],
    }
    text_out = io.StringIO(newline="")
    text_out.write(exports.BOM)
    screening.write_result_csv(result, text_out)
    name = _keep_file(
        job.pk, "screening", "csv", io.BytesIO(text_out.getvalue().encode())
    )
    job_files().delete(upload)
    summary = screening.summarise(result)
    return {
        "rows": summary.rows,
        "errors": summary.errors,
        "as_of": summary.as_of,
        "per_programme": [
            [slug, counts] for slug, _name, counts in summary.per_programme
        ],
        "file": name,
    }


# -- what the admin and the match report say ----------------------------------------


def outcome_label(value: str) -> str:
    return str(matching.OUTCOME_LABELS[matching.Outcome(value)])


def describe_result(job: BackgroundJob) -> str:
    """Return what a job found, in the active language; empty while unfinished."""
    if job.state == BackgroundJob.State.FAILED:
        if job.kind in FILE_KINDS:
            return gettext(
                "The job stopped with an error; the worker's log has it. Make the "
                "file again from the same page."
            )
        return gettext(
            "The job stopped with an error; the worker's log has it. Start it again "
            "from the programme list."
        )
    if job.state != BackgroundJob.State.DONE:
        return ""
    figures = job.figures
    if job.kind == BackgroundJob.Kind.EXPORT:
        return ngettext(
            "%(n)s row written.", "%(n)s rows written.", figures.get("rows", 0)
        ) % {"n": text.format_number(figures.get("rows", 0))}
    if job.kind == BackgroundJob.Kind.SCREENING:
        return gettext(
            "%(rows)s rows: %(screened)s screened, %(errors)s with errors."
        ) % {
            "rows": text.format_number(figures.get("rows", 0)),
            "screened": text.format_number(
                figures.get("rows", 0) - figures.get("errors", 0)
            ),
            "errors": text.format_number(figures.get("errors", 0)),
        }
    if job.kind == BackgroundJob.Kind.ALERTS:
        return gettext(
            "Sent %(emails)s emails with %(alerts)s alerts (%(fits)s newly fitting, "
            "%(deadline)s closing soon)."
        ) % {k: figures.get(k, 0) for k in ("emails", "alerts", "fits", "deadline")}
    return describe_moves(figures.get("moves", []), figures.get("added", 0))


def describe_moves(moves: Iterable[Iterable[Any]], added: int) -> str:
    """Return how a recompute moved stored results between outcomes, by their labels.

    ``moves`` are (outcome before, outcome after, how many) triples.
    """
    parts = [
        ngettext(
            "%(n)s result changed from “%(before)s” to “%(after)s”",
            "%(n)s results changed from “%(before)s” to “%(after)s”",
            n,
        )
        % {
            "n": text.format_number(n),
            "before": outcome_label(before),
            "after": outcome_label(after),
        }
        for before, after, n in moves
    ]
    if added:
        parts.append(
            ngettext("%(n)s result added", "%(n)s results added", added)
            % {"n": text.format_number(added)}
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


def screening_counts(job: BackgroundJob) -> list[tuple[str, list[int]]]:
    """Return a finished screening's rows per programme and tier: (name, counts)."""
    if (
        job.kind != BackgroundJob.Kind.SCREENING
        or job.state != BackgroundJob.State.DONE
    ):
        return []
    catalogue = current_catalogue()
    counted = []
    for slug, counts in job.figures.get("per_programme", []):
        programme = catalogue.get(slug)
        counted.append(
            (
                str(programme.name) if programme else slug,
                [counts.get(tier.value, 0) for tier in matching.SHOWN_TIERS],
            )
        )
    return counted


def recent_file_jobs(user: Any, *, limit: int = 5) -> list[BackgroundJob]:
    """Return the user's newest export and screening jobs whose files are not purged."""
    cutoff = timezone.now() - datetime.timedelta(days=settings.JOB_FILES_KEEP_DAYS)
    return list(
        BackgroundJob.objects.filter(
            kind__in=FILE_KINDS, requested_by=user, enqueued_at__gte=cutoff
        ).order_by("-enqueued_at", "-pk")[:limit]
    )


def stale_programmes(programmes: QuerySet[Programme]) -> list[Programme]:
    """Return the programmes whose stored results follow older rules, with no recompute under way.

    ``RecomputedRules`` names the rules a programme's stored results were
    last recomputed with in full; a programme without a record (never
    recomputed since records were kept) counts as unknown, not as stale. A
    programme with no stored result is never stale.
    """
    catalogue = current_catalogue()
    busy = {job.programme_id for job in unfinished_recomputes(programmes)}
    recorded = dict(
        RecomputedRules.objects.filter(programme__in=programmes).values_list(
            "programme_id", "rules"
        )
    )
    stale = []
    for row in programmes.order_by("slug"):
        rules = catalogue.get(row.slug)
        if rules is None or row.pk in busy or row.pk not in recorded:
            continue
        if (
            recorded[row.pk] != matching.catalogue_version([rules])
            and StoredResult.objects.filter(programme_id=row.pk).exists()
        ):
            stale.append(row)
    return stale


def stale_notices(programmes: list[Programme]) -> list[str]:
    """Return the match report's sentences about stored results that follow older rules."""
    return [
        gettext(
            "The rules of %(programme)s changed after its stored results were last "
            "recomputed, and no recompute is under way: its counts and rows describe "
            "the older rules. Start one from the programme list (“Recompute stored "
            "results”)."
        )
        % {"programme": quoted(programme)}
        for programme in programmes
    ]
