"""One export in its own process, so its peak memory can be measured: MODE ROWS OUT.

MODE is csv or xlsx (the export itself, as ``manage.py export_matches`` runs
it), or a bare COPY drained from psycopg into OUT, for comparison:

* copy: ``COPY (<the CSV export's own SELECT>) TO STDOUT (FORMAT csv)``;
* copy-lookups: the same rows and joins, the columns' plain lookups
  (codes, raw timestamps: no formatting in SQL).

Prints the seconds taken and the peak resident size in kB.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reliefmatch.settings")

import django  # noqa: E402

django.setup()

from django.db import connections  # noqa: E402

from programs.models import StoredResult  # noqa: E402
from programs.staff import exports, match_report  # noqa: E402

MODES = ("csv", "xlsx", "copy", "copy-lookups")


def bare_copy(queryset, expressions, out: str) -> int:
    """Drain COPY (SELECT expressions of queryset) TO STDOUT into out; return rows."""
    statement = exports.copy_statement(exports.select_sql(queryset, expressions))
    connection = connections[queryset.db]
    rows = 0
    with (
        open(out, "wb") as fp,
        connection.cursor() as cursor,
        cursor.cursor.copy(statement) as copy,
    ):
        for data in copy:
            fp.write(data)
            rows += 1
    return rows


def main() -> None:
    mode, rows, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if mode not in MODES:
        raise SystemExit(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    # The same scoped, contact-withholding queryset the page and command use,
    # as an all-providers user.
    user = type(
        "BenchUser",
        (),
        {
            "pk": None,
            "is_active": True,
            "is_staff": True,
            "has_perm": lambda self, p: True,
        },
    )()
    queryset = match_report.report_queryset(user=user)
    if rows < StoredResult.objects.count():
        queryset = queryset.filter(
            pk__in=StoredResult.objects.order_by("pk").values("pk")[:rows]
        )
    start = time.perf_counter()
    if mode == "csv":
        with open(out, "w", encoding="utf-8", newline="") as fp:
            exports.write_csv(queryset, fp)
    elif mode == "xlsx":
        exports.write_xlsx(queryset, out)
    else:
        spec = exports.columns()
        if mode == "copy":
            expressions = [column.sql() for column in spec]
        else:
            expressions = [column.lookup for column in spec]
        bare_copy(queryset, expressions, out)
    seconds = time.perf_counter() - start
    # VmHWM is this address space's peak resident size. Unlike getrusage's
    # ru_maxrss it is not inherited from the process that forked us before exec.
    status = Path("/proc/self/status").read_text().splitlines()
    peak_kb = int(next(line for line in status if line.startswith("VmHWM")).split()[1])
    print(seconds, peak_kb)


if __name__ == "__main__":
    main()
