"""One export in its own process, so its peak memory can be measured: FORMAT ROWS OUT."""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reliefmatch.settings")

import django  # noqa: E402

django.setup()

from programs import exports, reporting  # noqa: E402
from programs.models import StoredResult  # noqa: E402

fmt, rows, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# The same scoped, contact-withholding queryset the page and command use, as an all-providers user.
user = type(
    "BenchUser",
    (),
    {"pk": None, "is_active": True, "is_staff": True, "has_perm": lambda self, p: True},
)()
queryset = reporting.report_queryset(user=user)
if rows < StoredResult.objects.count():
    queryset = queryset.filter(
        pk__in=StoredResult.objects.order_by("pk").values("pk")[:rows]
    )
start = time.perf_counter()
if fmt == "csv":
    with open(out, "w", encoding="utf-8", newline="") as fp:
        exports.write_csv(queryset, fp)
else:
    exports.write_xlsx(queryset, out)
seconds = time.perf_counter() - start
# VmHWM is this address space's peak resident size. Unlike getrusage's
# ru_maxrss it is not inherited from the process that forked us before exec.
status = Path("/proc/self/status").read_text().splitlines()
peak_kb = int(next(line for line in status if line.startswith("VmHWM")).split()[1])
print(seconds, peak_kb)
