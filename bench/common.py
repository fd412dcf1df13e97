"""Shared parts of the benchmarks: the database, the machine, medians, timing."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: The benchmark database; the quick run has its own so the two never mix sizes.
FULL_DATABASE = "postgres://postgres@127.0.0.1:5432/reliefmatch_bench_full"
QUICK_DATABASE = "postgres://postgres@127.0.0.1:5432/reliefmatch_bench_quick"
SECRET_KEY = "benchmark-only-secret-key-0123456789abcdef-not-for-production"


def configure(quick: bool) -> str:
    """Point Django at the benchmark database (unless DATABASE_URL says otherwise)."""
    os.environ.setdefault("DATABASE_URL", QUICK_DATABASE if quick else FULL_DATABASE)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reliefmatch.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", SECRET_KEY)
    # Debug is off but nothing here speaks HTTPS: plain HTTP, no redirect.
    os.environ.setdefault("DJANGO_HTTPS", "0")
    return os.environ["DATABASE_URL"]


def ensure_database() -> None:
    """Create the benchmark database if it does not exist yet."""
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
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


def setup_django() -> None:
    import django

    django.setup()


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kb = int(next(x for x in meminfo if x.startswith("MemTotal")).split()[1])
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "platform": platform.platform(),
    }


def versions() -> dict[str, str]:
    import django
    from django.db import connection

    pg = connection.cursor().connection.info.server_version
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return {
        "python": platform.python_version(),
        "django": django.get_version(),
        "postgresql": f"{pg // 10000}.{pg % 10000}",
        "wrk": (wrk.stdout or wrk.stderr).split("[")[0].strip(),
    }


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def median_seconds(fn: Callable[[], Any], runs: int) -> tuple[float, list[float]]:
    """Run fn `runs` times; return the median and every time, in seconds."""
    times = [timed(fn)[0] for _ in range(runs)]
    return statistics.median(times), times


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)
