"""
Export benchmark (issue 5): 1,000,000 stored results to CSV and 100,000 to XLSX
on PostgreSQL, with rows per second and peak memory of the exporting process.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/reliefmatch_bench \\
        .venv/bin/python bench/exports_bench.py [--runs 3]

Seeds its own data with a fixed seed (synthetic profiles x the shipped
catalogue's 16 programmes; results inserted by the database filter path) and
reuses it on later runs. Writes bench/results/exports.json.
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


def ensure_database() -> None:
    import psycopg
    from dj_database_url import parse

    db = parse(os.environ["DATABASE_URL"])
    with psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or 5432,
        user=db["USER"],
        dbname="postgres",
        autocommit=True,
    ) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]
        ).fetchone():
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


def seed(results_wanted: int) -> int:
    import django
    from django.core.management import call_command

    django.setup()
    from programs import demo, services
    from programs.models import BusinessProfile, StoredResult

    call_command("migrate", verbosity=0)
    call_command("load_catalogue", verbosity=0)
    programmes = len(services.current_catalogue().programmes)
    profiles_wanted = results_wanted // programmes
    have = BusinessProfile.objects.count()
    if have < profiles_wanted:
        start = time.perf_counter()
        batch = []
        for profile in demo.synthetic_profiles(
            profiles_wanted - have, seed=2020 + have
        ):
            batch.append(BusinessProfile(**services.profile_model_fields(profile)))
            if len(batch) == 5000:
                BusinessProfile.objects.bulk_create(batch)
                batch = []
        BusinessProfile.objects.bulk_create(batch)
        print(
            f"seeded {profiles_wanted - have:,} profiles in {time.perf_counter() - start:.1f}s",
            flush=True,
        )
    start = time.perf_counter()
    report = services.rematch()
    print(
        f"rematch: {report.total_created():,} results added in {time.perf_counter() - start:.1f}s",
        flush=True,
    )
    return StoredResult.objects.count()


def run_export(fmt: str, rows: int) -> tuple[float, float]:
    """Return (seconds, peak RSS in MB) of one export in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"export.{fmt}"
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "_export_worker.py"),
                fmt,
                str(rows),
                str(out),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        output, _ = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"export worker failed with status {proc.returncode}")
        seconds, peak_kb = output.split()
        return float(seconds), int(peak_kb) / 1024


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--csv-rows", type=int, default=1_000_000)
    parser.add_argument("--xlsx-rows", type=int, default=100_000)
    args = parser.parse_args()
    ensure_database()
    total = seed(args.csv_rows)
    import django
    from django.db import connection

    pg_version = connection.cursor().connection.info.server_version
    results = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "postgresql": pg_version,
        "stored_results": total,
    }
    for fmt, rows in (("csv", min(args.csv_rows, total)), ("xlsx", args.xlsx_rows)):
        runs = [run_export(fmt, rows) for _ in range(args.runs)]
        seconds = statistics.median(s for s, _ in runs)
        results[fmt] = {
            "rows": rows,
            "runs": args.runs,
            "median_seconds": round(seconds, 2),
            "rows_per_second": round(rows / seconds),
            "peak_rss_mb": round(max(m for _, m in runs), 1),
        }
        print(fmt, results[fmt], flush=True)
    results["django"] = django.get_version()
    out = ROOT / "bench" / "results" / "exports.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    docs = ROOT / "docs" / "benchmarks.md"
    docs.write_text(markdown(results))
    print(f"wrote {out} and {docs}")


def markdown(r: dict) -> str:
    m = r["machine"]
    pg = r["postgresql"]
    lines = [
        "# Benchmarks",
        "",
        "Figures from real runs on this project's machines, written by the scripts in `bench/`;",
        "never timed in unit tests. Re-run to refresh: numbers below are replaced by each run.",
        "",
        "## Exports of stored results (issue 5)",
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
        f"| XLSX | {r['xlsx']['rows']:,} | {r['xlsx']['median_seconds']} s | {r['xlsx']['rows_per_second']:,} "
        f"| {r['xlsx']['peak_rss_mb']} MB | (issue 7: within 15 s: "
        f"{'met' if r['xlsx']['median_seconds'] <= 15 else 'missed'}) |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
