"""
A recompute in a background worker while owners open their results pages.

gunicorn serves kept profiles' results pages (``/r/<token>/``, rotating, in
Chinese) under wrk, first with no worker running, then while a worker
(``manage.py db_worker --batch``, a process of its own as in production)
recomputes one programme's stored results over every profile. Reported: the
recompute's time and the pages' latency percentiles in both phases.

    .venv/bin/python -m bench.run --only worker [--quick]
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, log
from bench.http_bench import (
    GET_ROTATING,
    PAUSE_SECONDS,
    environment,
    gunicorn,
    kept_links,
    lua_strings,
    wrk,
)

PROGRAMME = "jd-spark"
#: Fewer connections than the capacity runs: owners opening pages at a busy
#: but not saturating rate, so the latency says what an owner waits.
CONNECTIONS = 4


def run(*, quick: bool, database_url: str, log_dir: Path) -> dict[str, Any]:
    from programs import jobs
    from programs.models import BackgroundJob, BusinessProfile, Programme

    seconds = 5 if quick else 10
    last_before = (
        BusinessProfile.objects.order_by("-pk").values_list("pk", flat=True).first()
        or 0
    )
    paths = kept_links(40 if quick else 200)
    views = GET_ROTATING % {"paths": lua_strings(paths)}
    programme = Programme.objects.get(slug=PROGRAMME)
    results: dict[str, Any] = {
        "programme": PROGRAMME,
        "profiles": BusinessProfile.objects.count(),
        "connections": CONNECTIONS,
        "seconds_per_round": seconds,
    }
    with gunicorn(database_url, log_dir / "gunicorn-worker.log"):
        wrk(views, "/", 3, CONNECTIONS)  # warm each gunicorn worker and page
        time.sleep(PAUSE_SECONDS)
        results["idle"] = wrk(views, "/", seconds, CONNECTIONS)
        log(f"  pages, no recompute: {results['idle']}")
        [(job, _new)] = jobs.enqueue_recompute(programme_ids=[programme.pk])
        started = time.perf_counter()
        with open(log_dir / "db-worker.log", "w") as out:
            worker = subprocess.Popen(
                [
                    str(ROOT / ".venv" / "bin" / "python"),
                    "manage.py",
                    "db_worker",
                    "--batch",
                    "--no-reload",
                    "--no-startup-delay",
                ],
                cwd=ROOT,
                env=environment(database_url),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            rounds = []
            while worker.poll() is None:
                rounds.append(wrk(views, "/", seconds, CONNECTIONS))
                log(f"  pages during the recompute: {rounds[-1]}")
            worker.wait()
        wall = time.perf_counter() - started
    job.refresh_from_db()
    if job.state != BackgroundJob.State.DONE:
        raise SystemExit(f"the recompute job ended {job.state}; see db-worker.log")
    assert job.started_at is not None
    assert job.finished_at is not None
    results["recompute_seconds"] = round(
        (job.finished_at - job.started_at).total_seconds(), 1
    )
    results["worker_wall_seconds"] = round(wall, 1)
    results["rows"] = job.done
    results["during"] = {
        "rounds": rounds,
        "p50_ms": max(r["p50_ms"] for r in rounds),
        "p99_ms": max(r["p99_ms"] for r in rounds),
        "requests_per_second": round(
            sum(r["requests"] for r in rounds) / sum(r["seconds"] for r in rounds), 1
        ),
        "error_count": sum(r["error_count"] for r in rounds),
    }
    # Leave the benchmark data as it was for the next run.
    BusinessProfile.objects.filter(pk__gt=last_before).delete()
    return results


def markdown(w: dict[str, Any]) -> list[str]:
    idle, during = w["idle"], w["during"]
    return [
        "## Recompute in a background worker, results pages meanwhile",
        "",
        f"One programme ({w['programme']}) recomputed by `manage.py db_worker` over"
        f" {w['rows']:,} profiles in {w['recompute_seconds']} s, in chunks of 20,000"
        " profiles per transaction, while wrk opened kept profiles' results pages over"
        f" {w['connections']} connections (gunicorn as in production). p99 is the worst"
        " round's during the recompute.",
        "",
        "| results pages | requests/s | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|",
        f"| no recompute | {idle['requests_per_second']} | {idle['p50_ms']} | {idle['p99_ms']} | {idle['error_count']} |",
        f"| during the recompute | {during['requests_per_second']} | {during['p50_ms']} | {during['p99_ms']} | {during['error_count']} |",
        "",
    ]
