"""
Export benchmark (issues 5 and 7): 1,000,000 stored results to CSV and 100,000
to XLSX on PostgreSQL, with rows per second and peak memory of the exporting
process; beside the CSV export, in the same run, PostgreSQL's bare
``COPY (<the same SELECT>) TO STDOUT (FORMAT csv)`` of the same rows, drained
from psycopg, and the ratio of the two speeds (floor: one third).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/reliefmatch_bench \\
        .venv/bin/python bench/exports_bench.py [--runs 3] [--no-docs]

Seeds its own data with a fixed seed (synthetic profiles x the shipped
catalogue's 16 programmes; results inserted by the database filter path) and
reuses it on later runs. Writes bench/results/exports.json and, unless
--no-docs, docs/benchmarks.md. ``run()`` does it all and returns the results;
``measure_exports()`` only measures, on an already seeded database.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault(
    "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/reliefmatch_bench"
)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reliefmatch.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-secret-key-0123456789abcdef")

from bench.common import ensure_database  # noqa: E402 - needs ROOT on sys.path


def seed(results_wanted: int) -> int:
    import django
    from django.core.management import call_command

    django.setup()
    from programs import demo
    from programs.catalogue import store
    from programs.engine import contract, sql
    from programs.models import BusinessProfile, StoredResult

    call_command("migrate", verbosity=0)
    call_command("load_catalogue", verbosity=0)
    programmes = len(store.current_catalogue().programmes)
    profiles_wanted = results_wanted // programmes
    have = BusinessProfile.objects.count()
    if have < profiles_wanted:
        start = time.perf_counter()
        batch = []
        for profile in demo.synthetic_profiles(
            profiles_wanted - have, seed=2020 + have
        ):
            batch.append(BusinessProfile(**contract.to_columns(profile)))
            if len(batch) == 5000:
                BusinessProfile.objects.bulk_create(batch)
                batch = []
        BusinessProfile.objects.bulk_create(batch)
        print(
            f"seeded {profiles_wanted - have:,} profiles in {time.perf_counter() - start:.1f}s",
            flush=True,
        )
    start = time.perf_counter()
    report = sql.rematch()
    print(
        f"rematch: {report.total_created():,} results added in {time.perf_counter() - start:.1f}s",
        flush=True,
    )
    vacuum_analyze()
    return StoredResult.objects.count()


def vacuum_analyze() -> None:
    """VACUUM and ANALYZE the exported tables, as autovacuum would after seeding.

    Without statistics the planner guesses: freshly seeded tables got a
    parallel hash join and a sort of every row before the first came out,
    rather than the index scan in primary-key order that real data gets.
    """
    from django.db import connection

    from programs.models import BusinessProfile, Programme, Provider, StoredResult

    tables = [
        m._meta.db_table for m in (StoredResult, BusinessProfile, Programme, Provider)
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")


def run_worker(mode: str, rows: int) -> tuple[float, float]:
    """Return (seconds, peak RSS in MB) of one worker run in a fresh process.

    mode: csv or xlsx (an export), copy or copy-lookups (a bare COPY); see
    _export_worker.py.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"export.{mode}"
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "_export_worker.py"),
                mode,
                str(rows),
                str(out),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        output, _ = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"{mode} worker failed with status {proc.returncode}")
        seconds, peak_kb = output.split()
        return float(seconds), int(peak_kb) / 1024


def run_export(fmt: str, rows: int) -> tuple[float, float]:
    """Return (seconds, peak RSS in MB) of one export in a fresh process."""
    return run_worker(fmt, rows)


def figures(runs: list[tuple[float, float]], rows: int) -> dict:
    """Summarise (seconds, peak MB) runs: the median time, the highest peak."""
    seconds = statistics.median(s for s, _ in runs)
    return {
        "rows": rows,
        "runs": len(runs),
        "median_seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
        "peak_rss_mb": round(max(m for _, m in runs), 1),
    }


#: The CSV export must run at no less than this share of the bare COPY's speed.
COPY_RATIO_FLOOR = 1 / 3
#: Time limit of the XLSX export of XLSX rows (issue 7), in seconds.
XLSX_LIMIT_SECONDS = 15


def measure_exports(csv_rows: int, xlsx_rows: int, runs: int = 3) -> dict:
    """Measure the exports on the configured (seeded) database; return the figures.

    The CSV export and the bare COPYs it is compared with run side by side,
    one after the other in each round, so they see the same machine load:

    * copy: COPY of the CSV export's own SELECT (the floor's yardstick);
    * copy_lookups: COPY of the same rows and joins with the columns'
      plain lookups, no formatting in SQL (for reference).
    """
    rounds: dict[str, list[tuple[float, float]]] = {
        "csv": [],
        "copy": [],
        "copy-lookups": [],
    }
    for _ in range(runs):
        for mode, measured in rounds.items():
            measured.append(run_worker(mode, csv_rows))
    results = {
        "csv": figures(rounds["csv"], csv_rows),
        "copy": figures(rounds["copy"], csv_rows),
        "copy_lookups": figures(rounds["copy-lookups"], csv_rows),
    }
    for name in ("copy", "copy_lookups"):
        ratio = results["csv"]["rows_per_second"] / results[name]["rows_per_second"]
        results[f"csv_vs_{name}"] = round(ratio, 3)
    results["csv_vs_copy_floor"] = round(COPY_RATIO_FLOOR, 3)
    results["csv_vs_copy_met"] = results["csv_vs_copy"] >= COPY_RATIO_FLOOR
    results["xlsx"] = figures(
        [run_worker("xlsx", xlsx_rows) for _ in range(runs)], xlsx_rows
    )
    results["xlsx"]["limit_seconds"] = XLSX_LIMIT_SECONDS
    results["xlsx"]["met"] = results["xlsx"]["median_seconds"] <= XLSX_LIMIT_SECONDS
    return results


def machine() -> dict:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kb = int(
        next(line for line in meminfo if line.startswith("MemTotal")).split()[1]
    )
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def run(csv_rows: int = 1_000_000, xlsx_rows: int = 100_000, runs: int = 3) -> dict:
    """Seed the benchmark database if needed, measure the exports; return the results."""
    ensure_database()
    total = seed(csv_rows)
    import django
    from django.db import connection

    pg_version = connection.cursor().connection.info.server_version
    results = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "postgresql": pg_version,
        "stored_results": total,
    }
    measured = measure_exports(min(csv_rows, total), xlsx_rows, runs)
    for name in ("csv", "copy", "copy_lookups", "xlsx"):
        print(name, measured[name], flush=True)
    print(
        f"csv/copy {measured['csv_vs_copy']} (floor {measured['csv_vs_copy_floor']}), "
        f"csv/copy of plain lookups {measured['csv_vs_copy_lookups']}",
        flush=True,
    )
    results.update(measured)
    results["django"] = django.get_version()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--csv-rows", type=int, default=1_000_000)
    parser.add_argument("--xlsx-rows", type=int, default=100_000)
    parser.add_argument(
        "--no-docs",
        action="store_true",
        help="Write only bench/results/exports.json, not docs/benchmarks.md.",
    )
    args = parser.parse_args()
    results = run(args.csv_rows, args.xlsx_rows, args.runs)
    out = ROOT / "bench" / "results" / "exports.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")
    if not args.no_docs:
        docs = ROOT / "docs" / "benchmarks.md"
        docs.write_text(markdown(results))
        print(f"wrote {docs}")


def markdown(r: dict) -> str:
    m = r["machine"]
    pg = r["postgresql"]
    lines = [
        "# Benchmarks",
        "",
        "Figures from real runs on this project's machines, written by the scripts in `bench/`;",
        "never timed in unit tests. Re-run to refresh: numbers below are replaced by each run.",
        "",
        "## Exports of stored results (issues 5 and 7)",
        "",
        "`DATABASE_URL=postgres://postgres@127.0.0.1:5432/reliefmatch_bench .venv/bin/python bench/exports_bench.py`",
        "",
        f"Run on {r['date']}: {m['cores']} cores, {m['memory_gb']} GB memory, Python {m['python']}, "
        f"Django {r['django']}, PostgreSQL {pg // 10000}.{pg % 10000}; {r['stored_results']:,} stored results "
        "(synthetic profiles from a fixed seed x the 16 shipped programmes, inserted by `rematch`).",
        "Each export runs in a fresh process through the same scoped, contact-withholding queryset and",
        "column specification as the admin's exports; peak memory is that process's peak resident set",
        f"(VmHWM, including Python and Django themselves); time is the median of {r['csv']['runs']} runs.",
        "",
        "| export | rows | median time | rows per second | peak memory | target |",
        "|---|---:|---:|---:|---:|---|",
        f"| CSV | {r['csv']['rows']:,} | {r['csv']['median_seconds']} s | {r['csv']['rows_per_second']:,} "
        f"| {r['csv']['peak_rss_mb']} MB | peak memory under 150 MB: "
        f"{'met' if r['csv']['peak_rss_mb'] < 150 else 'MISSED'} |",
        f"| bare COPY of the CSV export's SELECT | {r['copy']['rows']:,} | {r['copy']['median_seconds']} s "
        f"| {r['copy']['rows_per_second']:,} | {r['copy']['peak_rss_mb']} MB | CSV at one third of its speed "
        f"or more: {'met' if r['csv_vs_copy_met'] else 'MISSED'} (CSV/COPY: {r['csv_vs_copy']}) |",
        f"| bare COPY, plain lookups | {r['copy_lookups']['rows']:,} | {r['copy_lookups']['median_seconds']} s "
        f"| {r['copy_lookups']['rows_per_second']:,} | {r['copy_lookups']['peak_rss_mb']} MB "
        f"| (reference; CSV/COPY: {r['csv_vs_copy_lookups']}) |",
        f"| XLSX | {r['xlsx']['rows']:,} | {r['xlsx']['median_seconds']} s | {r['xlsx']['rows_per_second']:,} "
        f"| {r['xlsx']['peak_rss_mb']} MB | (issue 7: within 15 s: "
        f"{'met' if r['xlsx']['median_seconds'] <= 15 else 'missed'}) |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
