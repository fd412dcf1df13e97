"""
Load and faults (issue 8): gunicorn as in production against PostgreSQL, both on
this machine over loopback, driven for a fixed time. Two modes:

* ``mixed``: wrk at 32 connections for 60 s sends a mix of the home page (30%),
  form submissions with consent to keep (20%), results pages of kept links (30%)
  and the API (20%: half ``POST /api/v1/match``, half ``GET /api/v1/programmes``).
* ``restart``: the same mix from 32 Python clients (bench/load.py) for 60 s, and
  PostgreSQL stopped for 3 s and started again after 15 s. Every form
  submission's outcome is recorded; afterwards every acknowledged one is looked
  up in the database.

    .venv/bin/python -m bench.reliability_bench mixed [--quick]
    .venv/bin/python -m bench.reliability_bench restart [--quick]

``--quick`` runs 10 s (mixed) or 25 s with the restart at 6 s. Each run writes
its mode's figures into bench/results/reliability.json and rewrites
docs/reliability.md from it. The database is DATABASE_URL, by default
bench/common.py's QUICK_DATABASE, seeded with 20,000 profiles when it has fewer.

The restart mode, like the outage and slow-clients modes, runs on a PostgreSQL
server of its own (bench/own_postgres.py: a throwaway cluster on a free
loopback port) and stops and starts only that one; the machine's shared server
is never touched.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench import common

MODES = ("mixed", "restart", "outage", "slow-clients")
#: Modes run on a PostgreSQL server of their own (bench/fault_runs.py).
OWN_SERVER_MODES = ("outage", "slow-clients")
CONNECTIONS = 32
PROFILES = 20_000
RESULTS_FILE = common.ROOT / "bench" / "results" / "reliability.json"
DOC_FILE = common.ROOT / "docs" / "reliability.md"

# -- the restart ----------------------------------------------------------------------
RESTART_AT = {"full": 15.0, "quick": 6.0}
RUN_SECONDS = {
    "mixed": {"full": 60, "quick": 10},
    "restart": {"full": 60, "quick": 25},
}
DOWN_SECONDS = 3.0  # how long PostgreSQL stays stopped
RECOVERY_FLOOR_SECONDS = 5.0


def log(message: str) -> None:
    common.log(message)


# -- PostgreSQL on this machine ---------------------------------------------------------


#: The restart mode's own PostgreSQL server (bench/own_postgres.py): the run
#: stops and starts it, never the machine's shared server.
SERVER: Any = None


def database_ready(timeout: int = 1) -> bool:
    from dj_database_url import parse

    db = parse(os.environ["DATABASE_URL"])
    return (
        subprocess.run(
            [
                "pg_isready",
                "-q",
                "-h",
                db["HOST"] or "127.0.0.1",
                "-p",
                str(db["PORT"] or 5432),
                "-t",
                str(timeout),
            ],
            check=False,
        ).returncode
        == 0
    )


def ensure_postgres_running() -> None:
    """Start the cluster if it is not answering (after an interrupted restart)."""
    if database_ready():
        return
    log("PostgreSQL is not answering: starting it again")
    with contextlib.suppress(subprocess.CalledProcessError):
        SERVER.start()
    deadline = time.monotonic() + 60
    while not database_ready() and time.monotonic() < deadline:
        time.sleep(0.5)


def loopback_only() -> None:
    from dj_database_url import parse

    host = parse(os.environ["DATABASE_URL"])["HOST"] or "127.0.0.1"
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise SystemExit(
            f"Refusing to restart a PostgreSQL server that is not local: {host}"
        )


class Restarter(threading.Thread):
    """Stops PostgreSQL at `at` seconds into the load, starts it DOWN_SECONDS later."""

    def __init__(self, at: float) -> None:
        super().__init__(daemon=True)
        self.at = at
        self.t0: float | None = None
        self.ready = threading.Event()
        self.events: dict[str, float] = {}
        self.skipped: list[str] = []
        self.error: str | None = None
        #: Set to end the load early: the restart was skipped, or the run is ending.
        self.abort = threading.Event()

    def begin(self, t0: float) -> None:
        """Called by the load as it starts: the restart is timed from `t0`."""
        self.t0 = t0
        self.ready.set()

    def mark(self, name: str) -> None:
        self.events[name] = round(time.monotonic() - self.t0, 3)
        log(f"  {name} at {self.events[name]} s")

    def run(self) -> None:
        if not self.ready.wait(120):
            return
        if self.abort.wait(max(0.0, self.t0 + self.at - time.monotonic())):
            return  # the run is ending before the restart was due
        stopped = False
        try:
            self.mark("stop_issued")
            SERVER.stop("fast")
            stopped = True
            self.mark("db_down")
            time.sleep(DOWN_SECONDS)
            self.mark("start_issued")
            # pg_ctl returns a while after the server accepts connections:
            # pg_isready, polled meanwhile, tells when it is back.
            start = SERVER.start(wait=False)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if database_ready(timeout=1):
                    self.mark("db_back")
                    break
                time.sleep(0.02)
            if start.wait(timeout=120) != 0:
                raise subprocess.CalledProcessError(start.returncode, start.args)
            stopped = False
            self.mark("start_returned")
        except (subprocess.SubprocessError, OSError) as error:
            self.error = f"{type(error).__name__}: {error}"
        finally:
            if stopped:
                ensure_postgres_running()


# -- what the load sends ------------------------------------------------------------------


def api_bodies(count: int) -> list[str]:
    from programs import demo

    bodies = []
    for profile in demo.synthetic_profiles(count, seed=11):
        data = {k: v for k, v in profile.to_dict().items() if v not in (None, "")}
        data["as_of"] = "2020-06-15"
        bodies.append(json.dumps(data))
    return bodies


def check_api_bodies(base: str, bodies: list[str]) -> list[str]:
    """Keep the bodies the API answers 200 (the load must not count a 422 as an error)."""
    import urllib.error
    import urllib.request

    good = []
    for body in bodies:
        request = urllib.request.Request(
            f"{base}/api/v1/match",
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        with (
            contextlib.suppress(urllib.error.HTTPError),
            urllib.request.urlopen(request, timeout=30) as response,
        ):
            if response.status == 200:
                good.append(body)
    if not good:
        raise SystemExit("The API accepted none of the generated profiles")
    return good


def retry_message(language: str) -> str:
    from django.utils import translation
    from django.utils.translation import gettext

    from reliefmatch.middleware import DATABASE_UNAVAILABLE_MESSAGE

    with translation.override(language):
        return gettext(DATABASE_UNAVAILABLE_MESSAGE)


def server_log_figures(path: Path) -> dict[str, Any]:
    """Statuses in gunicorn's access log, and tracebacks in its error log."""
    statuses: dict[str, int] = {}
    tracebacks = recycled = 0
    for line in path.read_text(errors="replace").splitlines():
        if match := re.search(r'^\S+ "[A-Z]+ [^"]*" (\d{3}) ', line):
            statuses[match.group(1)] = statuses.get(match.group(1), 0) + 1
        elif line.startswith("Traceback"):
            tracebacks += 1
        elif "Autorestarting worker" in line:  # gunicorn's max_requests
            recycled += 1
    return {
        "statuses": dict(sorted(statuses.items())),
        "tracebacks": tracebacks,
        "workers_recycled": recycled,
    }


# -- mode 1: mixed traffic with wrk --------------------------------------------------------

MIXED_LUA = r"""
local results = {%(paths)s}
local bodies = {%(bodies)s}
local apis = {%(apis)s}
local form_headers = {["Content-Type"] = "application/x-www-form-urlencoded",
                      ["Cookie"] = "csrftoken=%(cookie)s", ["Accept-Language"] = "zh-hans"}
local json_headers = {["Content-Type"] = "application/json", ["Accept-Language"] = "zh-hans"}
local plain = {["Accept-Language"] = "zh-hans"}
local threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(id * 7919)
  statuses = {}
  kinds = {}
end

local function pick(kind)
  kinds[kind] = (kinds[kind] or 0) + 1
end

request = function()
  local r = math.random(100)
  if r <= %(home)d then
    pick("home")
    return wrk.format("GET", "/", plain)
  elseif r <= %(form)d then
    pick("form")
    return wrk.format("POST", "/check/", form_headers, bodies[math.random(#bodies)])
  elseif r <= %(results)d then
    pick("results")
    return wrk.format("GET", results[math.random(#results)], plain)
  elseif r <= %(api_match)d then
    pick("api_match")
    return wrk.format("POST", "/api/v1/match", json_headers, apis[math.random(#apis)])
  else
    pick("api_programmes")
    return wrk.format("GET", "/api/v1/programmes", plain)
  end
end

response = function(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

local function as_json(t)
  local parts = {}
  for k, v in pairs(t) do table.insert(parts, string.format('"%%s": %%d', k, v)) end
  table.sort(parts)
  return "{" .. table.concat(parts, ", ") .. "}"
end

done = function(summary, latency, requests)
  local st, kd = {}, {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do st[k] = (st[k] or 0) + v end
    for k, v in pairs(t:get("kinds")) do kd[k] = (kd[k] or 0) + v end
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "seconds": %%.3f, "errors": {"connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d}, "p50_ms": %%.2f, "p90_ms": %%.2f, "p99_ms": %%.2f, "max_ms": %%.2f, "statuses": %%s, "sent_by_kind": %%s}\n',
    summary.requests, summary.duration / 1e6, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, as_json(st), as_json(kd)))
end
"""


def mixed_lua(paths: list[str], bodies: list[str], apis: list[str], cookie: str) -> str:
    from bench.http_bench import lua_strings
    from bench.load import WEIGHTS

    bounds, total = {}, 0
    for kind, weight in WEIGHTS.items():
        total += weight
        bounds[kind] = total
    return MIXED_LUA % {
        "paths": lua_strings(paths),
        "bodies": lua_strings(bodies),
        "apis": lua_strings(apis),
        "cookie": cookie,
        **bounds,
    }


def run_wrk(script: str, seconds: int, connections: int) -> dict[str, Any]:
    from bench.http_bench import wrk

    # The mixed script has its own done hook (counts by kind and status).
    figures = wrk(script, "/", seconds, connections, done="")
    figures["socket_errors"] = sum(
        v for k, v in figures["errors"].items() if k != "status"
    )
    figures["error_count"] = sum(figures["errors"].values())
    figures["error_rate"] = (
        round(figures["error_count"] / figures["requests"], 6)
        if figures["requests"]
        else None
    )
    return figures


def run_mixed(*, quick: bool, database_url: str, log_dir: Path) -> dict[str, Any]:
    from bench.http_bench import (
        BASE,
        check_form_body,
        csrf_pair,
        form_bodies,
        gunicorn,
        kept_links,
    )
    from programs.models import BusinessProfile

    seconds = RUN_SECONDS["mixed"]["quick" if quick else "full"]
    last_before = (
        BusinessProfile.objects.order_by("-pk").values_list("pk", flat=True).first()
        or 0
    )
    paths = kept_links(40 if quick else 200)
    result: dict[str, Any] = {"seconds": seconds, "connections": CONNECTIONS}
    log_path = log_dir / "gunicorn-reliability-mixed.log"
    try:
        with gunicorn(database_url, log_path):
            cookie, token = csrf_pair()
            bodies = form_bodies(50, token)
            for body in bodies[:2]:
                check_form_body(body, cookie)
            apis = check_api_bodies(BASE, api_bodies(50))
            script = mixed_lua(paths, bodies, apis, cookie)
            run_wrk(script, 2, CONNECTIONS)  # warm every worker and its pool
            before = BusinessProfile.objects.count()
            result["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
            log(f"mixed traffic: wrk, {CONNECTIONS} connections, {seconds} s")
            result.update(run_wrk(script, seconds, CONNECTIONS))
            stored = BusinessProfile.objects.count() - before
        result["server_log"] = server_log_figures(log_path)
        result["profiles_stored"] = stored
        result["kept_links"] = len(paths)
        result["form_redirects"] = result["statuses"].get("302", 0)
        result["api_bodies"] = len(apis)
        result["floor_met"] = result["error_count"] == 0
    finally:
        BusinessProfile.objects.filter(pk__gt=last_before).delete()
    log(
        f"  {result['requests']} requests, {result['requests_per_second']} req/s, "
        f"{result['error_count']} errors, p99 {result['p99_ms']} ms"
    )
    return result


# -- mode 2: PostgreSQL restarted under load ----------------------------------------------


def per_second(outcomes: list, seconds: int) -> list[dict[str, Any]]:
    rows = []
    for second in range(seconds + 25):
        ended = [o for o in outcomes if second <= o.end < second + 1]
        if not ended and second >= seconds:
            break
        rows.append(
            {
                "second": second,
                "ok": sum(o.verdict == "ok" for o in ended),
                "retry": sum(o.verdict == "retry" for o in ended),
                "failure": sum(o.verdict == "failure" for o in ended),
                "db_ok": sum(o.verdict == "ok" and o.kind != "home" for o in ended),
            }
        )
    return rows


def full_throughput_at(
    rows: list[dict[str, Any]], events: dict[str, float]
) -> tuple[float | None, int | None]:
    """The first second after the database is back with ≥ 80% of the usual successes.

    Returns (usual successes needing the database per second before the restart,
    that second). The first second of the load is left out (warming up).
    """
    before = [
        row["db_ok"] for row in rows if 1 <= row["second"] < int(events["stop_issued"])
    ]
    if not before:
        return None, None
    usual = sum(before) / len(before)
    for row in rows:
        if row["second"] >= int(events["db_back"]) and row["db_ok"] >= 0.8 * usual:
            return round(usual, 1), row["second"]
    return round(usual, 1), None


def analyse_restart(
    outcomes: list, events: dict[str, float], rows: list[dict[str, Any]]
) -> dict[str, Any]:
    from bench.load import DATABASE_KINDS

    db = [o for o in outcomes if o.kind in DATABASE_KINDS]
    down, back = events["db_down"], events["db_back"]
    first_ok = min(
        (o.end for o in db if o.verdict == "ok" and o.end > down), default=None
    )
    unsuccessful = [o for o in db if o.verdict != "ok"]
    last_bad = max((o.end for o in unsuccessful), default=None)
    first_bad = min((o.end for o in unsuccessful), default=None)
    after = [o for o in outcomes if first_ok is not None and o.start >= first_ok]
    figures: dict[str, Any] = {
        "first_unsuccessful_at": round(first_bad, 3) if first_bad is not None else None,
        "first_db_success_after_outage_at": round(first_ok, 3) if first_ok else None,
        "last_unsuccessful_at": round(last_bad, 3) if last_bad is not None else None,
        "recovery_seconds": round(first_ok - back, 2) if first_ok else None,
        "all_good_after_db_back_seconds": (
            round(max(0.0, last_bad - back), 2) if last_bad is not None else 0.0
        ),
        "server_errors_500": sum(o.status == 500 for o in outcomes),
        "server_errors_500_after_recovery": sum(o.status == 500 for o in after),
        "failures_after_recovery": sum(o.verdict == "failure" for o in after),
        "retries_after_recovery": sum(o.verdict == "retry" for o in after),
    }
    figures["recovery_floor_met"] = (
        figures["recovery_seconds"] is not None
        and figures["recovery_seconds"] <= RECOVERY_FLOOR_SECONDS
    )
    usual, second = full_throughput_at(rows, events)
    figures["usual_db_successes_per_second"] = usual
    figures["full_throughput_second"] = second
    figures["full_throughput_within_seconds"] = (
        round(second + 1 - back, 2) if second is not None else None
    )
    return figures


def verify_tokens(tokens: list[str]) -> int:
    from programs.journey import kept
    from programs.models import BusinessProfile

    digests = [kept.token_digest(t) for t in tokens]
    found = 0
    for i in range(0, len(digests), 500):
        found += BusinessProfile.objects.filter(
            token_hash__in=digests[i : i + 500]
        ).count()
    return found


def run_restart(*, quick: bool, database_url: str, log_dir: Path) -> dict[str, Any]:
    from django.conf import settings
    from django.db import DatabaseError, connections

    from bench import load
    from bench.http_bench import (
        BASE,
        PORT,
        check_form_body,
        csrf_pair,
        form_bodies,
        gunicorn,
        kept_links,
    )
    from programs.models import BusinessProfile

    loopback_only()
    size = "quick" if quick else "full"
    seconds, at = RUN_SECONDS["restart"][size], RESTART_AT[size]
    last_before = latest_pk()
    result: dict[str, Any] = {
        "seconds": seconds,
        "clients": CONNECTIONS,
        "restart_at_seconds": at,
        "down_seconds": DOWN_SECONDS,
        "cluster": f"own server, PostgreSQL {SERVER.version()} on port {SERVER.port}",
        "pool_timeout_seconds": settings.DATABASES["default"]["OPTIONS"]["pool"][
            "timeout"
        ],
    }
    log_path = log_dir / "gunicorn-reliability-restart.log"
    message = retry_message("zh-hans")
    restarter: Restarter | None = None
    try:
        paths = kept_links(40 if quick else 200)
        result["kept_links"] = len(paths)
        with gunicorn(database_url, log_path):
            cookie, token = csrf_pair()
            bodies = form_bodies(50, token)
            for body in bodies[:2]:
                check_form_body(body, cookie)
            mix = load.Mix(
                form_bodies=bodies,
                csrf_cookie=cookie,
                result_paths=paths,
                api_bodies=check_api_bodies(BASE, api_bodies(50)),
            )
            for attempt in range(1, 4):
                last_loaded = latest_pk()
                # Hold no connection of our own across the restart.
                connections.close_all()
                restarter = Restarter(at)
                restarter.start()
                result["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
                log(
                    f"restart run (attempt {attempt}): {CONNECTIONS} clients, {seconds} s, "
                    f"PostgreSQL stopped at {at} s for {DOWN_SECONDS} s"
                )
                _t0, outcomes = load.run(
                    host="127.0.0.1",
                    port=PORT,
                    mix=mix,
                    seconds=seconds,
                    clients=CONNECTIONS,
                    retry_message=message,
                    on_start=restarter.begin,
                    stop=restarter.abort,
                )
                restarter.join(120)
                if not restarter.skipped:
                    break
                log(
                    "  a pytest run started: PostgreSQL was not restarted; trying again"
                )
                BusinessProfile.objects.filter(pk__gt=last_loaded).delete()
            else:
                raise SystemExit("pytest kept starting: no restart was done")
        if restarter.error:
            raise SystemExit(f"The restart failed: {restarter.error}")
        if "db_back" not in restarter.events:
            raise SystemExit("PostgreSQL did not answer within 60 s of being started")
        # Our pooled connections did not survive the restart: a new pool.
        connections.close_all()
        for alias in connections:
            with contextlib.suppress(Exception):
                connections[alias].close_pool()
        events = restarter.events
        result["events"] = events
        result["overall"] = load.summary(outcomes, seconds)
        result["per_second"] = per_second(outcomes, seconds)
        result.update(analyse_restart(outcomes, events, result["per_second"]))
        forms = [o for o in outcomes if o.kind == "form"]
        tokens = [o.token for o in forms if o.verdict == "ok" and o.token]
        found = verify_tokens(tokens)
        stored = BusinessProfile.objects.filter(pk__gt=last_loaded).count()
        result["forms"] = {
            "sent": len(forms),
            "acknowledged": len(tokens),
            "acknowledged_found": found,
            "all_acknowledged_found": found == len(tokens),
            "told_to_retry": sum(o.verdict == "retry" for o in forms),
            "failed": sum(o.verdict == "failure" for o in forms),
            "failure_details": sorted(
                {o.detail for o in forms if o.verdict == "failure"}
            ),
            "stored_during_load": stored,
            "stored_without_acknowledgement": stored - found,
        }
    finally:
        if restarter is not None and restarter.is_alive():
            restarter.abort.set()
            restarter.join(120)
        ensure_postgres_running()
        connections.close_all()
        # Leave the benchmark data as it was: the run's links and submissions go.
        with contextlib.suppress(DatabaseError):
            BusinessProfile.objects.filter(pk__gt=last_before).delete()
    result["told_to_retry"] = result["overall"]["retry"]
    result["server_log"] = server_log_figures(log_path)
    result["floors_met"] = bool(
        result["recovery_floor_met"]
        and result["server_errors_500_after_recovery"] == 0
        and result["forms"]["all_acknowledged_found"]
    )
    f = result["forms"]
    log(
        f"  db back at {events.get('db_back')} s, first success "
        f"{result['first_db_success_after_outage_at']} s (recovery "
        f"{result['recovery_seconds']} s); 500s after recovery: "
        f"{result['server_errors_500_after_recovery']}; acknowledged {f['acknowledged']}, "
        f"found {f['acknowledged_found']}, told to retry {result['told_to_retry']}"
    )
    return result


def latest_pk() -> int:
    from programs.models import BusinessProfile

    return (
        BusinessProfile.objects.order_by("-pk").values_list("pk", flat=True).first()
        or 0
    )


# -- the report ---------------------------------------------------------------------------


def fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        value = f"{value:,.2f}".rstrip("0").rstrip(".")
    elif isinstance(value, int):
        value = f"{value:,}"
    return f"{value}{unit}"


def verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def run_header(r: dict[str, Any]) -> list[str]:
    m, v = r["machine"], r.get("versions", {})
    return [
        f"- Run: {r['date']}, {'quick' if r['quick'] else 'full'} run; load average at the start"
        f" {r.get('load_average_at_start')} (1, 5, 15 min; other work shares the machine)",
        f"- Machine: {m['cores']} cores ({m.get('cpu', '')}), {m['memory_gb']} GB memory, {m['platform']}",
        f"- Versions: Python {v.get('python')}, Django {v.get('django')}, PostgreSQL"
        f" {v.get('postgresql')}, {v.get('wrk', 'wrk')}; gunicorn.conf.py as in production"
        f" (2 workers × 4 threads, a pool of 4 connections per worker)",
    ]


def mixed_section(r: dict[str, Any] | None) -> list[str]:
    lines = ["## 1. Mixed traffic", ""]
    if not r:
        return [
            *lines,
            "Not run yet: `.venv/bin/python -m bench.reliability_bench mixed`.",
            "",
        ]
    kinds = ", ".join(
        f"{k} {fmt(n)}" for k, n in sorted(r.get("sent_by_kind", {}).items())
    )
    statuses = ", ".join(f"{k}: {fmt(n)}" for k, n in r.get("statuses", {}).items())
    lines += [
        f"wrk, {r['connections']} connections for {round(r['seconds'])} s: the home page (30%), form"
        " submissions with consent to keep (20%, `POST /check/` with the CSRF cookie and token),"
        f" results pages of {r.get('kept_links', 200)} kept links (30%), and the API (20%: `POST /api/v1/match` with a"
        " JSON profile, `GET /api/v1/programmes`). Requests are in Chinese (`Accept-Language:"
        " zh-hans`); the rate limits are raised for the run (every request comes from one address).",
        "",
        *run_header(r),
        "",
        "| figure | value |",
        "|---|---|",
        f"| requests in all | {fmt(r['requests'])} |",
        f"| requests per second | {fmt(r['requests_per_second'])} |",
        f"| errors (non-2xx/3xx answers and socket errors) | {fmt(r['error_count'])}"
        f" (status {r['errors']['status']}, connect {r['errors']['connect']}, read {r['errors']['read']},"
        f" write {r['errors']['write']}, timeout {r['errors']['timeout']}) |",
        f"| latency p50 / p90 / p99 / max | {fmt(r['p50_ms'])} / {fmt(r['p90_ms'])} / {fmt(r['p99_ms'])}"
        f" / {fmt(r['max_ms'])} ms |",
        f"| answers by status | {statuses} |",
        f"| requests sent by kind | {kinds} |",
        f"| form submissions answered 302 / profiles stored | {fmt(r['form_redirects'])} /"
        f" {fmt(r['profiles_stored'])} |",
        f"| server's access log (setup and warm-up included): statuses; tracebacks |"
        f" {r['server_log']['statuses']}; {r['server_log']['tracebacks']} |",
        f"| gunicorn workers recycled (max_requests) while it ran, warm-up included |"
        f" {r['server_log'].get('workers_recycled', '–')} |",
        "",
        f"Floor: error rate 0, p99 recorded: {verdict(r['floor_met'])}"
        f" ({fmt(r['error_count'])} errors, p99 {fmt(r['p99_ms'])} ms).",
        "",
        "What the figures mean: *requests per second* is everything answered divided by the"
        " run's length, all kinds together, with the load generator on the same two cores;"
        " *errors* are answers other than 2xx/3xx plus connections that failed or timed out"
        " (10 s); latencies are wrk's, per request, over all kinds."
        + (
            " gunicorn.conf.py recycled a worker (max_requests) in this run: the second or"
            " two a new worker takes to start (requests queue meanwhile) shows in the p99"
            " and max."
            if r["server_log"].get("workers_recycled")
            else ""
        )
        + " A form submission is"
        " answered 302 to its new private link and stores one profile; a few more profiles than"
        " 302s are stored when requests still in flight as wrk stops complete uncounted (the"
        " profiles made by the run are deleted afterwards).",
        "",
    ]
    return lines


def restart_section(r: dict[str, Any] | None) -> list[str]:
    lines = ["## 2. PostgreSQL restarted under load", ""]
    if not r:
        return [
            *lines,
            "Not run yet: `.venv/bin/python -m bench.reliability_bench restart`.",
            "",
        ]
    e, o, f = r["events"], r["overall"], r["forms"]
    back = e.get("db_back")

    def since_back(t: float | None) -> str:
        return (
            ""
            if t is None or back is None
            else f" ({t - back:+.2f} s from the database back)"
        )

    if r.get("pool_timeout_seconds", 10) > 1:
        lines += [
            f"*Made before the pool changes of 2026-12-03 (a {fmt(r['pool_timeout_seconds'])} s"
            " wait for a connection, one connection opened at start, the pool's default"
            " reconnection backoff): the pause it shows is what section 3 removes.*",
            "",
        ]
    lines += [
        f"{r['clients']} Python clients (bench/load.py, a new connection per request) send the"
        f" same mix as above for {r['seconds']} s. At {fmt(r['restart_at_seconds'])} s PostgreSQL"
        f" ({r['cluster']}) is stopped (`pg_ctlcluster … stop`, fast mode: open sessions are"
        f" cut), left down {fmt(r['down_seconds'])} s and started again. Every request's outcome"
        " is recorded: *ok* (200; 302 to `/r/<token>/` for a form, its token kept), *told to"
        ' retry* (503 with `Retry-After` and the "try again in a moment" message), or'
        " *failure* (anything else, socket errors and timeouts included). Afterwards every"
        " acknowledged submission is looked up by its token's digest.",
        "",
        *run_header(r),
        "",
        "Runs from 2026-12-03 on restart a PostgreSQL server of the run's own"
        " (bench/own_postgres.py); earlier runs restarted the machine's shared cluster.",
        "",
        "Timeline (seconds since the load began):",
        "",
        "| event | at |",
        "|---|---|",
        "| load starts | 0 |",
        f"| stop issued | {fmt(e.get('stop_issued'))} |",
        f"| PostgreSQL stopped (stop returned) | {fmt(e.get('db_down'))} |",
        f"| first unsuccessful answer (database needed) | {fmt(r['first_unsuccessful_at'])} |",
        f"| start issued | {fmt(e.get('start_issued'))} |",
        f"| start returned | {fmt(e.get('start_returned'))} |",
        f"| database back (first `pg_isready` success) | {fmt(back)} |",
        f"| first successful answer needing the database | {fmt(r['first_db_success_after_outage_at'])}"
        f"{since_back(r['first_db_success_after_outage_at'])} |",
        f"| last unsuccessful answer | {fmt(r['last_unsuccessful_at'])}{since_back(r['last_unsuccessful_at'])} |",
        f"| first whole second with ≥ 80% of the usual successes needing the database"
        f" ({fmt(r.get('usual_db_successes_per_second'))}/s before the restart) |"
        f" {fmt(r.get('full_throughput_second'))}–{fmt((r.get('full_throughput_second') or 0) + 1)}"
        f" (within {fmt(r.get('full_throughput_within_seconds'), ' s')} of the database back) |",
        f"| load ends | {fmt(r['seconds'])} |",
        "",
        "| figure | value | floor | verdict |",
        "|---|---|---|---|",
        f"| recovery: database back → first successful answer | {fmt(r['recovery_seconds'], ' s')} |"
        f" ≤ {fmt(RECOVERY_FLOOR_SECONDS)} s | {verdict(r['recovery_floor_met'])} |",
        f"| 500s after recovery | {fmt(r['server_errors_500_after_recovery'])} | 0 |"
        f" {verdict(r['server_errors_500_after_recovery'] == 0)} |",
        f"| acknowledged submissions found in the database | {fmt(f['acknowledged_found'])} of"
        f" {fmt(f['acknowledged'])} | all | {verdict(f['all_acknowledged_found'])} |",
        f"| 500s in the whole run | {fmt(r['server_errors_500'])} | | |",
        f"| told to retry (503 with the message), all kinds | {fmt(r['told_to_retry'])} | | |",
        f"| failures, all kinds (in the whole run / after recovery) | {fmt(o['failure'])} /"
        f" {fmt(r['failures_after_recovery'])} | | |",
        f"| form submissions: sent / acknowledged / told to retry / failed | {fmt(f['sent'])} /"
        f" {fmt(f['acknowledged'])} / {fmt(f['told_to_retry'])} / {fmt(f['failed'])} | | |",
        f"| profiles stored without an acknowledgement | {fmt(f['stored_without_acknowledgement'])} | | |",
        f"| requests in all, per second | {fmt(o['requests'])}, {fmt(o['requests_per_second'])} | | |",
        f"| latency p50 / p90 / p99 / max (all requests) | {fmt(o['p50_ms'])} / {fmt(o['p90_ms'])} /"
        f" {fmt(o['p99_ms'])} / {fmt(o['max_ms'])} ms | | |",
        f"| answers by status | {', '.join(f'{k}: {fmt(n)}' for k, n in o['statuses'].items())} | | |",
        f"| server's access log: statuses; tracebacks; workers recycled |"
        f" {r['server_log']['statuses']}; {r['server_log']['tracebacks']};"
        f" {r['server_log'].get('workers_recycled', '–')} | | |",
        "",
    ]
    if f.get("failure_details"):
        lines += [f"Form failures: {', '.join(f['failure_details'])}.", ""]
    window = [
        row
        for row in r["per_second"]
        if e.get("stop_issued") is not None
        and e["stop_issued"] - 3 <= row["second"] <= (back or e["stop_issued"]) + 8
    ]
    if window:
        lines += [
            "Answers per second around the restart (by the second they ended in; *ok needing"
            " the database* leaves out the home page, which needs none):",
            "",
            "| second | ok | ok needing the database | told to retry | failure |",
            "|---|---|---|---|---|",
            *(
                f"| {row['second']} | {row['ok']} | {row['db_ok']} | {row['retry']} | {row['failure']} |"
                for row in window
            ),
            "",
        ]
    lines += [
        "What the figures mean: *recovery* is from the first `pg_isready` success to the end of"
        " the first request that needed the database (form, results page or API) and succeeded"
        " after PostgreSQL had gone down (slightly negative when the app's pool reconnected before"
        " the next `pg_isready` poll saw the server); a request waiting for a pool connection"
        f" (up to DB_POOL_TIMEOUT, {fmt(r['pool_timeout_seconds'])} s here) may be that request."
        " *After recovery* counts requests that started after that moment. While PostgreSQL is"
        " down, a request that needs a connection waits for the pool (which keeps trying to"
        " reconnect, backing off 1 s, 2 s, 4 s…) rather than failing at once: an outage shorter"
        " than DB_POOL_TIMEOUT mostly shows as a pause, with 503s only for requests whose query"
        " was cut by the shutdown; with all of gunicorn's 8 threads waiting, even the home page"
        " (no database) waits in the queue. A submission is"
        " *acknowledged* when the form answered 302 to its private link: the owner was told"
        " it is kept, so it must be in the database. *Stored without an acknowledgement* are"
        " submissions committed whose answer was lost or never came (the owner, told to retry,"
        " may send them again).",
        "",
    ]
    return lines


STATIC = """\
## Other reliability mechanisms

- **The database is down** (sections 2 and 3): `reliefmatch.middleware.DatabaseUnavailableMiddleware`
  turns `OperationalError`/`InterfaceError` (a pool that cannot lend a connection within
  `DB_POOL_TIMEOUT`, 1 s, raises one too) into 503 with `Retry-After: 5` and a translated "try
  again in a moment" page (`templates/503.html`), JSON under `/api/`; `/healthz` answers 503
  itself within a second (`reliefmatch/database.py`). PostgreSQL runs through Django's psycopg
  pool with `CONN_HEALTH_CHECKS` on, so connections cut by a restart are tested and replaced,
  never lent out; the pool's options (`DB_POOL_OPTIONS` in settings) and why: section 3.
  Tests: `tests/test_outage.py`.
- **Slow clients** (section 4): nginx in front (`deploy/`, see deploy/README.md) reads each
  whole request before gunicorn's threads see it.
- **Rate limits** per client address, counted in the database so every gunicorn process
  shares them: the API (`API_RATE_LIMIT`, `API_SCREENING_RATE_LIMIT`, `programs/api/endpoints.py`) and the
  public form's POSTs (`FORM_RATE_LIMIT`, default 30/min, `programs/ratelimit.py`; 429 with
  `Retry-After` and `templates/429.html`, nothing stored). X-Forwarded-For counts only from
  `DJANGO_TRUSTED_PROXIES`. Tests: `tests/test_ratelimit.py`, `tests/api/test_screening.py`.
- **Request body limit**: a body over `REQUEST_MAX_BODY_BYTES` (3 MB) gets 413 before it is read
  (`reliefmatch.middleware.RequestBodyLimitMiddleware`).
- **Admin login lockouts** (django-axes): `AXES_FAILURE_LIMIT` failed logins for one username
  from one address lock it out for `AXES_COOLOFF_MINUTES` (429, `lockout_response`).
- **Two admins editing one programme**: optimistic concurrency in the admin, so the second
  save does not silently overwrite the first; see `tests/test_admin_concurrency.py`.
"""


def markdown(results: dict[str, Any]) -> str:
    from bench import fault_runs

    lines = [
        "# Reliability: load and faults",
        "",
        "Written by `bench/reliability_bench.py` from its latest run of each mode; the figures are",
        "replaced by each run and kept in `bench/results/reliability.json`. Nothing here runs in",
        "the test suite. gunicorn (production settings, DEBUG off) and PostgreSQL run on this",
        "machine and are reached over loopback; the load generator shares the same cores, so",
        "figures are noisy: the load average at the start of each run is given.",
        "",
        "How to run (each stops by itself; `--quick` for a short run):",
        "",
        "    .venv/bin/python -m bench.reliability_bench mixed         # about 1.5 minutes",
        "    .venv/bin/python -m bench.reliability_bench restart       # about 2.5 minutes, a server of its own",
        "    .venv/bin/python -m bench.reliability_bench outage        # about 1.5 minutes, a server of its own",
        "    .venv/bin/python -m bench.reliability_bench slow-clients  # about 2 minutes, a server of its own, nginx",
        "",
        "The restart, outage and slow-clients runs make a PostgreSQL server of their own in a",
        "temporary folder (initdb, a free port; bench/own_postgres.py) and stop, start or",
        "load only that one, never the machine's shared server; the slow-clients run needs",
        "Debian's nginx (`apt-get install nginx`). Results:",
        "`bench/results/reliability.json`; gunicorn's log: `/tmp/gunicorn-reliability-<mode>.log`.",
        "",
        *mixed_section(results.get("mixed")),
        *restart_section(results.get("restart")),
        *fault_runs.outage_section(results.get("outage")),
        *fault_runs.slow_clients_section(results.get("slow-clients")),
        fault_runs.LOST_ACKNOWLEDGEMENT,
        STATIC,
    ]
    return "\n".join(lines)


def write_results(mode: str, result: dict[str, Any]) -> None:
    RESULTS_FILE.parent.mkdir(exist_ok=True)
    results = json.loads(RESULTS_FILE.read_text()) if RESULTS_FILE.exists() else {}
    results[mode] = result
    RESULTS_FILE.write_text(json.dumps(results, indent=2, default=str) + "\n")
    DOC_FILE.write_text(markdown(results))


def prepare_data() -> dict[str, Any]:
    from django.core.management import call_command

    from bench import data
    from programs.models import BusinessProfile

    call_command("migrate", verbosity=0)
    if BusinessProfile.objects.count() < PROFILES:
        log(f"seeding {PROFILES:,} profiles (once)")
        data.seed(PROFILES)
    return {"profiles": BusinessProfile.objects.count()}


def stop_on_signal(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def run_on_own_server(mode: str, *, quick: bool) -> None:
    from bench import fault_runs

    started = time.perf_counter()
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "quick": quick,
        "machine": common.machine(),
        "load_average_before_setup": [round(x, 2) for x in os.getloadavg()],
    }
    result.update(
        fault_runs.run(mode, quick=quick, log_dir=Path(tempfile.gettempdir()))
    )
    result["bench_seconds"] = round(time.perf_counter() - started, 1)
    write_results(mode, result)
    log(
        f"done in {result['bench_seconds']} s; wrote {RESULTS_FILE.relative_to(common.ROOT)}"
        f" and {DOC_FILE.relative_to(common.ROOT)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("--quick", action="store_true", help="a short run")
    args = parser.parse_args()
    # SIGTERM ends the run through the finally blocks (PostgreSQL started again).
    signal.signal(signal.SIGTERM, stop_on_signal)
    if args.mode in OWN_SERVER_MODES:
        run_on_own_server(args.mode, quick=args.quick)
        return
    if args.mode == "restart":
        from bench.own_postgres import own_postgres

        global SERVER
        os.environ.setdefault("DJANGO_HTTPS", "0")
        with own_postgres() as SERVER:
            os.environ["DATABASE_URL"] = SERVER.url
            run_here(args.mode, quick=args.quick)
        return
    run_here(args.mode, quick=args.quick)


def run_here(mode: str, *, quick: bool) -> None:
    database_url = common.configure(quick=True)
    common.ensure_database()
    common.setup_django()
    started = time.perf_counter()
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "quick": quick,
        "machine": common.machine(),
        "load_average_before_setup": [round(x, 2) for x in os.getloadavg()],
    }
    result["data"] = prepare_data()
    result["versions"] = common.versions()
    log_dir = Path(tempfile.gettempdir())
    runner = run_mixed if mode == "mixed" else run_restart
    result.update(runner(quick=quick, database_url=database_url, log_dir=log_dir))
    result["bench_seconds"] = round(time.perf_counter() - started, 1)
    write_results(mode, result)
    log(
        f"done in {result['bench_seconds']} s; wrote {RESULTS_FILE.relative_to(common.ROOT)}"
        f" and {DOC_FILE.relative_to(common.ROOT)}"
    )


if __name__ == "__main__":
    main()
