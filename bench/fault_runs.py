"""
Fault runs on a PostgreSQL server of their own (bench/own_postgres.py), so the
shared server on this machine and everyone's tests on it are never touched.
Two modes of bench/reliability_bench.py:

* ``outage``: 32 clients (bench/load.py) send a mix of pages that need the
  database and pages that do not, while a monitor probes ``/healthz`` every
  0.1 s; at 10 s PostgreSQL is stopped with ``pg_ctl stop -m immediate`` (every
  session cut at once, as in a crash) and started again 5 s later.
* ``slow-clients``: 8 clients each send a form's headers and then its body one
  byte every 2 s, while a monitor probes ``/healthz`` every 0.25 s with a 3 s
  timeout: first with no slow clients, then straight to gunicorn, then through
  nginx configured from deploy/ (bench/proxy.py), all in one run.

Why a stopped server and not a TCP proxy that is cut: on loopback a stopped
server is what a restart or crash looks like to the app (sessions cut, new
connections refused at once), and it needs nothing but PostgreSQL's own tools.
A network path that silently drops packets is not simulated here; the settings
bound it too (connect_timeout; the health check's own wait) and
tests/test_outage.py checks the health check against a server that accepts
connections and never answers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from bench import common

CLIENTS = 32
#: The second pass's clients: enough to keep every kind of page coming, too few
#: to saturate two cores.
LIGHT_CLIENTS = 4
OUTAGE = {
    "full": {"seconds": 30, "at": 10.0, "down": 5.0},
    "quick": {"seconds": 20, "at": 6.0, "down": 5.0},
}
OUTAGE_WEIGHTS = {
    "home": 15,
    "form_get": 10,
    "static": 10,
    "form": 15,
    "results": 30,
    "api_match": 10,
    "api_programmes": 10,
}
HEALTHZ_EVERY = 0.1
HEALTHZ_TIMEOUT = 10.0
#: The goals (the product issue "Stay up when the database blinks").
ANSWER_GOAL_SECONDS = 2.0
HEALTHZ_GOAL_SECONDS = 1.0
FIRST_SUCCESS_GOAL_SECONDS = 1.0

SLOW_CLIENTS = 8
SLOW_BYTE_EVERY = 2.0
SLOW_BODY_BYTES = 10_000
PROBE_EVERY = 0.25
PROBE_TIMEOUT = 3.0
PHASE_SECONDS = {"full": 30, "quick": 12}


def log(message: str) -> None:
    common.log(message)


# -- probing /healthz ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Probe:
    start: float  # time.monotonic()
    end: float
    status: int | None  # None: timed out or no answer
    detail: str = ""

    @property
    def ms(self) -> float:
        return (self.end - self.start) * 1000


class Prober(threading.Thread):
    """GET `path` (/healthz) every `every` s (one at a time) until stopped."""

    def __init__(
        self, port: int, every: float, timeout: float, path: str = "/healthz"
    ) -> None:
        super().__init__(daemon=True)
        self.port, self.every, self.timeout, self.path = port, every, timeout, path
        self.probes: list[Probe] = []
        self.halt = threading.Event()

    def run(self) -> None:
        next_at = time.monotonic()
        while not self.halt.is_set():
            start = time.monotonic()
            conn = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=self.timeout
            )
            status, detail = None, ""
            try:
                conn.request("GET", self.path, headers={"Connection": "close"})
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as error:
                detail = type(error).__name__
            finally:
                conn.close()
            self.probes.append(Probe(start, time.monotonic(), status, detail))
            next_at = max(next_at + self.every, time.monotonic())
            self.halt.wait(next_at - time.monotonic())

    def stop(self) -> list[Probe]:
        self.halt.set()
        self.join(self.timeout + 5)
        return self.probes


def probe_figures(probes: list[Probe], timeout: float) -> dict[str, Any]:
    from bench.load import percentile

    statuses: dict[str, int] = {}
    for p in probes:
        key = str(p.status) if p.status is not None else f"no answer ({p.detail})"
        statuses[key] = statuses.get(key, 0) + 1
    # A probe that got no answer counts at the full timeout.
    latencies = [p.ms if p.status is not None else timeout * 1000 for p in probes]
    return {
        "probes": len(probes),
        "ok": sum(p.status == 200 for p in probes),
        "no_answer": sum(p.status is None for p in probes),
        "statuses": dict(sorted(statuses.items())),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": round(max(latencies), 1) if latencies else None,
    }


# -- mode: database outage ----------------------------------------------------------------


class Outage(threading.Thread):
    """Stops the server `at` s into the load, starts it `down` s later, marks the times."""

    def __init__(self, server: Any, at: float, down: float) -> None:
        super().__init__(daemon=True)
        self.server, self.at, self.down = server, at, down
        self.t0: float | None = None
        self.ready = threading.Event()
        self.events: dict[str, float] = {}
        self.error: str | None = None

    def begin(self, t0: float) -> None:
        self.t0 = t0
        self.ready.set()

    def mark(self, name: str) -> None:
        self.events[name] = round(time.monotonic() - self.t0, 3)
        log(f"  {name} at {self.events[name]} s")

    def run(self) -> None:
        if not self.ready.wait(120):
            return
        time.sleep(max(0.0, self.t0 + self.at - time.monotonic()))
        try:
            self.mark("stop_issued")
            self.server.stop("immediate")
            self.mark("db_down")
            time.sleep(max(0.0, self.t0 + self.at + self.down - time.monotonic()))
            self.mark("start_issued")
            starting = self.server.start(wait=False)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if self.server.ready(timeout=1):
                    self.mark("db_back")
                    break
                time.sleep(0.02)
            starting.wait(timeout=60)
        except Exception as error:  # noqa: BLE001 - reported, and the run stops
            self.error = f"{type(error).__name__}: {error}"


def longest_silence(ends: list[float], start: float, stop: float) -> float:
    """The longest stretch within [start, stop] in which no answer was completed."""
    marks = [start, *sorted(t for t in ends if start < t < stop), stop]
    return round(max(b - a for a, b in zip(marks, marks[1:], strict=False)), 3)


def analyse_outage(
    outcomes: list, probes: list[Probe], t0: float, events: dict[str, float]
) -> dict[str, Any]:
    from bench.load import DATABASE_KINDS, percentile

    down, back = events["stop_issued"], events["db_back"]
    during = [o for o in outcomes if o.start < back and o.end > down]
    # The same kinds in the seconds before the outage (the first one left out:
    # warming up), to tell the outage's doing from a busy machine's.
    before = [o for o in outcomes if o.start >= 1 and o.end < down]
    baseline: dict[str, Any] = {}
    for kind in OUTAGE_WEIGHTS:
        rows = [o for o in before if o.kind == kind]
        baseline[kind] = {
            "requests": len(rows),
            "p99_ms": percentile([o.latency_ms for o in rows], 99),
            "max_ms": round(max(o.latency_ms for o in rows), 1) if rows else None,
        }
    kinds: dict[str, Any] = {}
    for kind in OUTAGE_WEIGHTS:
        rows = [o for o in during if o.kind == kind]
        statuses: dict[str, int] = {}
        for o in rows:
            key = str(o.status) if o.status is not None else f"socket:{o.detail}"
            statuses[key] = statuses.get(key, 0) + 1
        latencies = [o.latency_ms for o in rows]
        kinds[kind] = {
            "needs_database": kind in DATABASE_KINDS,
            "requests": len(rows),
            "statuses": dict(sorted(statuses.items())),
            "told_to_retry": sum(o.verdict == "retry" for o in rows),
            "failures": sum(o.verdict == "failure" for o in rows),
            "failure_details": sorted(
                {o.detail for o in rows if o.verdict == "failure"}
            ),
            "p99_ms": percentile(latencies, 99),
            "max_ms": round(max(latencies), 1) if latencies else None,
        }
    relative = [Probe(p.start - t0, p.end - t0, p.status, p.detail) for p in probes]
    probes_during = [p for p in relative if p.start < back and p.end > down]
    first_ok = min(
        (
            o.end
            for o in outcomes
            if o.kind in DATABASE_KINDS and o.verdict == "ok" and o.start >= down
        ),
        default=None,
    )
    first_healthz_ok = min(
        (p.end for p in relative if p.status == 200 and p.start >= down), default=None
    )
    other_5xx = [
        o for o in outcomes if o.status and o.status >= 500 and o.status != 503
    ]
    no_answer = [o for o in outcomes if o.status is None]
    figures: dict[str, Any] = {
        "by_kind_during_outage": kinds,
        "by_kind_before_outage": baseline,
        "requests_during_outage": len(during),
        "max_ms_during_outage": round(max(o.latency_ms for o in during), 1)
        if during
        else None,
        "longest_silence_seconds": longest_silence(
            [o.end for o in outcomes], down, back
        ),
        "healthz_during_outage": probe_figures(probes_during, HEALTHZ_TIMEOUT),
        "healthz_before_outage": probe_figures(
            [p for p in relative if p.start >= 1 and p.end < down], HEALTHZ_TIMEOUT
        ),
        "healthz_whole_run": probe_figures(relative, HEALTHZ_TIMEOUT),
        "first_db_success_at": round(first_ok, 3) if first_ok else None,
        "first_db_success_after_back_seconds": round(first_ok - back, 3)
        if first_ok
        else None,
        "first_healthz_ok_after_back_seconds": round(first_healthz_ok - back, 3)
        if first_healthz_ok
        else None,
        "server_errors_other_than_503": len(other_5xx),
        "no_answer": len(no_answer),
        "no_answer_details": sorted({o.detail for o in no_answer}),
    }
    # The goals.
    figures["goal_every_answer_within_2s"] = (
        figures["max_ms_during_outage"] is not None
        and figures["max_ms_during_outage"] <= ANSWER_GOAL_SECONDS * 1000
        and not no_answer
    )
    figures["goal_no_database_pages_normal"] = all(
        k["statuses"].keys() <= {"200"}
        for k in kinds.values()
        if not k["needs_database"]
    )
    figures["goal_database_pages_503_with_retry"] = all(
        k["failures"] == 0 for k in kinds.values() if k["needs_database"]
    )
    healthz_max = figures["healthz_during_outage"]["max_ms"]
    figures["goal_healthz_within_1s"] = (
        healthz_max is not None and healthz_max <= HEALTHZ_GOAL_SECONDS * 1000
    )
    figures["goal_first_success_within_1s"] = (
        figures["first_db_success_after_back_seconds"] is not None
        and figures["first_db_success_after_back_seconds"] <= FIRST_SUCCESS_GOAL_SECONDS
    )
    figures["goal_no_other_5xx"] = not other_5xx
    return figures


def prepare_own_database() -> dict[str, Any]:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("load_catalogue", verbosity=0)
    return {}


def static_path() -> str:
    """The URL of a collected, hashed static file (collectstatic has run)."""
    from django.contrib.staticfiles.storage import staticfiles_storage

    return staticfiles_storage.url("programs/site.css")


def outage_pass(*, server: Any, mix: Any, plan: dict, clients: int) -> dict[str, Any]:
    """Run the load with `clients` clients, stop and start the server; return the figures."""
    import psycopg
    from django.db import connections

    from bench import load
    from bench.http_bench import HEALTH_PORT, PORT
    from bench.reliability_bench import per_second, retry_message

    figures: dict[str, Any] = {"clients": clients}
    # A checkpoint now keeps the restart's crash recovery short: the outage
    # lasts the planned seconds, not also the replay of the set-up's writes.
    with psycopg.connect(
        host="127.0.0.1", port=server.port, user="postgres", autocommit=True
    ) as conn:
        conn.execute("CHECKPOINT")
    # Hold nothing of ours across the outage: a fresh pool is made on next use.
    connections.close_all()
    connections["default"].close_pool()
    outage = Outage(server, plan["at"], plan["down"])
    outage.start()
    # The monitor asks the health listener, as nginx routes /healthz in
    # production; a second one asks the app's own address, to show the queue
    # the health listener avoids.
    prober = Prober(HEALTH_PORT, HEALTHZ_EVERY, HEALTHZ_TIMEOUT)
    app_prober = Prober(PORT, HEALTHZ_EVERY, HEALTHZ_TIMEOUT)
    figures["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    log(
        f"outage run: {clients} clients, {plan['seconds']} s, PostgreSQL stopped"
        f" (immediate) at {plan['at']} s for {plan['down']} s"
    )
    prober.start()
    app_prober.start()
    t0, outcomes = load.run(
        host="127.0.0.1",
        port=PORT,
        mix=mix,
        seconds=plan["seconds"],
        clients=clients,
        retry_message=retry_message("zh-hans"),
        on_start=outage.begin,
    )
    probes = prober.stop()
    app_probes = app_prober.stop()
    outage.join(120)
    if outage.error or "db_back" not in outage.events:
        raise SystemExit(f"The outage went wrong: {outage.error or 'no db_back'}")
    connections.close_all()
    connections["default"].close_pool()
    figures["events"] = outage.events
    figures["overall"] = load.summary(outcomes, plan["seconds"])
    figures["per_second"] = per_second(outcomes, plan["seconds"])
    figures.update(analyse_outage(outcomes, probes, t0, outage.events))
    down, back = outage.events["stop_issued"], outage.events["db_back"]
    app_relative = [
        Probe(p.start - t0, p.end - t0, p.status, p.detail) for p in app_probes
    ]
    figures["healthz_app_listener_during_outage"] = probe_figures(
        [p for p in app_relative if p.start < back and p.end > down], HEALTHZ_TIMEOUT
    )
    figures["healthz_app_listener_before_outage"] = probe_figures(
        [p for p in app_relative if p.start >= 1 and p.end < down], HEALTHZ_TIMEOUT
    )
    return figures


def run_outage(
    *, quick: bool, database_url: str, server: Any, log_dir: Path
) -> dict[str, Any]:
    from bench import load
    from bench.http_bench import (
        BASE,
        csrf_pair,
        form_bodies,
        gunicorn,
        kept_links,
    )
    from bench.reliability_bench import (
        api_bodies,
        check_api_bodies,
        server_log_figures,
    )

    plan = OUTAGE["quick" if quick else "full"]
    result: dict[str, Any] = {
        "seconds": plan["seconds"],
        "clients": CLIENTS,
        "outage_at_seconds": plan["at"],
        "down_seconds": plan["down"],
        "weights": OUTAGE_WEIGHTS,
        "healthz_every_seconds": HEALTHZ_EVERY,
        "pool": pool_settings(),
    }
    log_path = log_dir / "gunicorn-reliability-outage.log"
    paths = kept_links(40)
    with gunicorn(database_url, log_path):
        cookie, token = csrf_pair()
        bodies = accepted_form_bodies(form_bodies(50, token), cookie)
        mix = load.Mix(
            form_bodies=bodies,
            csrf_cookie=cookie,
            result_paths=paths,
            api_bodies=check_api_bodies(BASE, api_bodies(50)),
            weights=dict(OUTAGE_WEIGHTS),
            static_path=static_path(),
        )
        result.update(outage_pass(server=server, mix=mix, plan=plan, clients=CLIENTS))
        # The same outage under a light load (the machine's cores not saturated):
        # what the app itself adds, without the queueing of a busy machine.
        result["light"] = outage_pass(
            server=server, mix=mix, plan=plan, clients=LIGHT_CLIENTS
        )
    result["server_log"] = server_log_figures(log_path)
    log(
        f"  max answer during the outage {result['max_ms_during_outage']} ms; /healthz max"
        f" {result['healthz_during_outage']['max_ms']} ms; first success"
        f" {result['first_db_success_after_back_seconds']} s after the database was back;"
        f" other 5xx {result['server_errors_other_than_503']}"
    )
    return result


def accepted_form_bodies(bodies: list[str], cookie: str) -> list[str]:
    """Keep the submissions the form keeps (302): a re-shown form is not an outage's doing."""
    from bench.http_bench import check_form_body

    good = []
    for body in bodies:
        with contextlib.suppress(SystemExit):
            check_form_body(body, cookie)
            good.append(body)
    if not good:
        raise SystemExit("The form kept none of the generated submissions")
    return good


def pool_settings() -> dict[str, Any]:
    from django.conf import settings

    options = settings.DATABASES["default"].get("OPTIONS", {})
    return {
        "pool": options.get("pool"),
        "connect_timeout": options.get("connect_timeout"),
    }


# -- mode: slow clients, with and without nginx ---------------------------------------------


class SlowClient(threading.Thread):
    """Sends a form's headers, then its body one byte every SLOW_BYTE_EVERY s; reconnects if cut."""

    HEAD = (
        "POST /check/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {SLOW_BODY_BYTES}\r\n\r\n"
    ).encode()

    def __init__(self, port: int, halt: threading.Event) -> None:
        super().__init__(daemon=True)
        self.port, self.halt = port, halt
        self.connections = 0
        self.bytes_sent = 0

    def run(self) -> None:
        while not self.halt.is_set():
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock,
            ):
                self.connections += 1
                sock.sendall(self.HEAD)
                for _ in range(SLOW_BODY_BYTES):
                    if self.halt.wait(SLOW_BYTE_EVERY):
                        return
                    sock.sendall(b"a")
                    self.bytes_sent += 1
            self.halt.wait(0.5)  # cut by the server: come back


def slow_phase(
    *,
    name: str,
    slow_port: int | None,
    probes: dict[str, tuple[int, str]],
    seconds: int,
) -> dict[str, Any]:
    """Run slow clients against `slow_port` while each probe (port, path) asks; return figures per probe."""
    halt = threading.Event()
    clients = (
        [SlowClient(slow_port, halt) for _ in range(SLOW_CLIENTS)]
        if slow_port is not None
        else []
    )
    for client in clients:
        client.start()
    time.sleep(1.0 if clients else 0)  # let them connect and start trickling
    log(f"  phase {name}: {len(clients)} slow clients, probing for {seconds} s")
    probers = {
        label: Prober(port, PROBE_EVERY, PROBE_TIMEOUT, path)
        for label, (port, path) in probes.items()
    }
    for prober in probers.values():
        prober.start()
    time.sleep(seconds)
    done = {label: prober.stop() for label, prober in probers.items()}
    halt.set()
    for client in clients:
        client.join(5)
    figures: dict[str, Any] = {
        "slow_clients": len(clients),
        "slow_connections_opened": sum(c.connections for c in clients),
        "probes": {},
    }
    for label, answered in done.items():
        figures["probes"][label] = probe_figures(answered, PROBE_TIMEOUT)
        f = figures["probes"][label]
        log(
            f"    {label}: {f['probes']} probes, {f['no_answer']} without an answer in"
            f" {PROBE_TIMEOUT:g} s, p99 {f['p99_ms']} ms"
        )
    time.sleep(2)  # the cut slow connections leave gunicorn's threads
    return figures


def static_check(port: int, path: str) -> dict[str, Any]:
    """What nginx answers for a hashed static file, asked for gzip."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
        response = conn.getresponse()
        response.read()
        return {
            "path": path,
            "status": response.status,
            "cache_control": response.getheader("Cache-Control"),
            "content_encoding": response.getheader("Content-Encoding"),
            "server": response.getheader("Server"),
        }
    finally:
        conn.close()


def run_slow_clients(
    *, quick: bool, database_url: str, server: Any, log_dir: Path
) -> dict[str, Any]:
    from bench.http_bench import HEALTH_PORT, PORT, free_port, gunicorn
    from bench.proxy import nginx_proxy

    seconds = PHASE_SECONDS["quick" if quick else "full"]
    nginx_port = free_port()
    result: dict[str, Any] = {
        "phase_seconds": seconds,
        "slow_clients": SLOW_CLIENTS,
        "byte_every_seconds": SLOW_BYTE_EVERY,
        "probe_every_seconds": PROBE_EVERY,
        "probe_timeout_seconds": PROBE_TIMEOUT,
        "nginx": nginx_version(),
    }
    log_path = log_dir / "gunicorn-reliability-slow-clients.log"
    with (
        gunicorn(database_url, log_path),
        nginx_proxy(
            port=nginx_port,
            upstream=f"127.0.0.1:{PORT}",
            health_upstream=f"127.0.0.1:{HEALTH_PORT}",
        ),
    ):
        result["static_via_nginx"] = static_check(nginx_port, static_path())
        result["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
        log(
            f"slow clients: {SLOW_CLIENTS} clients, one byte every {SLOW_BYTE_EVERY:g} s"
        )
        # What a monitor and a visitor see: /healthz on the app's own address
        # (queued with the pages) and on the health listener; through nginx,
        # /healthz (routed to the health listener) and the home page (the app).
        direct = {
            "healthz_app": (PORT, "/healthz"),
            "healthz_health": (HEALTH_PORT, "/healthz"),
            "home_app": (PORT, "/"),
        }
        result["phases"] = {
            "none": slow_phase(
                name="no slow clients", slow_port=None, probes=direct, seconds=seconds
            ),
            "direct": slow_phase(
                name="straight to gunicorn",
                slow_port=PORT,
                probes=direct,
                seconds=seconds,
            ),
            "proxy": slow_phase(
                name="through nginx",
                slow_port=nginx_port,
                probes={
                    "healthz_nginx": (nginx_port, "/healthz"),
                    "home_nginx": (nginx_port, "/"),
                },
                seconds=seconds,
            ),
        }
    return result


def nginx_version() -> str:
    import subprocess

    out = subprocess.run(["nginx", "-v"], capture_output=True, text=True, check=False)
    return (out.stderr or out.stdout).strip().split(":", 1)[-1].strip()


# -- running a mode on a server of its own -------------------------------------------------


def run(mode: str, *, quick: bool, log_dir: Path) -> dict[str, Any]:
    """Start a server of our own, point Django at it, run `mode`; return its figures."""
    from bench.own_postgres import own_postgres

    # Plain HTTP on loopback; nginx (the slow-clients run) is the trusted proxy.
    os.environ.setdefault("DJANGO_HTTPS", "0")
    os.environ.setdefault("DJANGO_TRUSTED_PROXIES", "127.0.0.1")
    with own_postgres() as server:
        os.environ["DATABASE_URL"] = server.url
        database_url = common.configure(quick=True)
        common.setup_django()
        prepare_own_database()
        result: dict[str, Any] = {
            "server": f"PostgreSQL {server.version()} on 127.0.0.1:{server.port},"
            " a server of the run's own, fsync off",
            "versions": common.versions(),
        }
        runner = run_outage if mode == "outage" else run_slow_clients
        result.update(
            runner(
                quick=quick, database_url=database_url, server=server, log_dir=log_dir
            )
        )
        from django.db import connections

        connections.close_all()
        for alias in connections:
            with contextlib.suppress(Exception):
                connections[alias].close_pool()
    return result


# -- the report ---------------------------------------------------------------------------

KIND_NAMES = {
    "home": "home page `/`",
    "form_get": "form's first step `GET /check/`",
    "static": "static file (whitenoise)",
    "form": "form submission `POST /check/`",
    "results": "results page `/r/<token>/`",
    "api_match": "API `POST /api/v1/match`",
    "api_programmes": "API `GET /api/v1/programmes`",
}


def outage_section(r: dict[str, Any] | None) -> list[str]:
    from bench.reliability_bench import fmt, run_header

    lines = ["## 3. Database outage, on a server of its own", ""]
    if not r:
        return [
            *lines,
            "Not run yet: `.venv/bin/python -m bench.reliability_bench outage`.",
            "",
        ]
    e, back = r["events"], r["events"]["db_back"]
    pool = r["pool"]["pool"] or {}
    weights = ", ".join(f"{k} {v}%" for k, v in r["weights"].items())
    h = r["healthz_during_outage"]

    def since_back(key: str) -> str:
        value = r.get(key)
        return (
            "–" if value is None else f"{fmt(round(back + value, 3))} (+{fmt(value)} s)"
        )

    lines += [
        f"{r['clients']} Python clients (bench/load.py, a new connection per request, no pause"
        f" between requests) send a mix for {r['seconds']} s: {weights}; meanwhile a monitor"
        f" asks `/healthz` every {fmt(r['healthz_every_seconds'])} s. At"
        f" {fmt(r['outage_at_seconds'])} s PostgreSQL ({r['server']}) is stopped"
        " with `pg_ctl stop -m immediate` (every session cut at once, as in a crash; new"
        f" connections refused) and started again {fmt(r['down_seconds'])} s later. A stopped"
        " server rather than a cut TCP proxy: on loopback that is what a restart or a crash"
        " looks like to the app, and it needs only PostgreSQL's own tools; a network path that"
        " silently drops packets is not simulated (see *What bounds the waits*).",
        "",
        *run_header(r),
        f"- Pool (settings.DB_POOL_OPTIONS): min/max {pool.get('min_size')}/{pool.get('max_size')}"
        f" connections per worker, wait {fmt(pool.get('timeout'))} s (0.1 s once a reconnection"
        f" was given up), reconnection given up after {fmt(pool.get('reconnect_timeout'))} s;"
        f" connect_timeout {r['pool'].get('connect_timeout')} s",
        "",
        "Before these changes the issue measured, with a 5 s outage: no answer at all for"
        " 6.4 s, pages needing no database queued behind those that do, and `/healthz` took"
        " 10 s (the pool's wait) to say 503. Not measured again here.",
        "",
        "The same outage was made twice in the run: under the full load, which keeps both"
        " cores busy (requests already queue for a second or two before the outage, see the"
        " *before* column below), and under a light load of"
        f" {fmt((r.get('light') or {}).get('clients'))} clients, which shows what the app"
        " itself adds.",
        "",
        f"| goal | {r['clients']} clients: measured | verdict |"
        f" {fmt((r.get('light') or {}).get('clients'))} clients: measured | verdict |",
        "|---|---|---|---|---|",
        *goal_rows(r, r.get("light") or {}),
        "",
        "The monitor asks gunicorn's health listener (`GUNICORN_HEALTH_BIND`; nginx sends"
        " `/healthz` there), whose connections have a thread of their own in each worker"
        " (reliefmatch/gunicorn_worker.py), so its wait is the pool's (0.5 s, then 0.1 s once"
        " the database is known down), not gunicorn's queue. A second monitor asked the"
        " app's own address, where `/healthz` waits in the queue like every request: under"
        " the full load its p99 was"
        f" {fmt((r.get('healthz_app_listener_before_outage') or {}).get('p99_ms'))} ms before"
        " the outage and"
        f" {fmt((r.get('healthz_app_listener_during_outage') or {}).get('p99_ms'))} ms"
        " during it.",
        "",
        "The full-load pass in detail. Timeline (seconds since the load began):",
        "",
        "| event | at |",
        "|---|---|",
        f"| stop issued (`pg_ctl stop -m immediate`) | {fmt(e.get('stop_issued'))} |",
        f"| stop returned | {fmt(e.get('db_down'))} |",
        f"| start issued | {fmt(e.get('start_issued'))} |",
        f"| database back (first `pg_isready` success; crash recovery included) | {fmt(back)} |",
        f"| first successful answer needing the database | {since_back('first_db_success_after_back_seconds')} |",
        f"| first `/healthz` 200 | {since_back('first_healthz_ok_after_back_seconds')} |",
        f"| longest stretch with no answer completed, while down | {fmt(r['longest_silence_seconds'], ' s')} |",
        "",
        "Requests in flight while the database was down (from the stop to the database back),"
        " by kind; the last column is the same kind in the seconds before the outage, to tell"
        " the outage's doing from a busy machine's:",
        "",
        "| kind | needs the database | requests | answers | p99 / max | before: p99 / max |",
        "|---|---|---|---|---|---|",
    ]
    before = r.get("by_kind_before_outage", {})
    hb = r.get("healthz_before_outage", {})
    for kind, k in r["by_kind_during_outage"].items():
        answers = ", ".join(f"{s}: {fmt(n)}" for s, n in k["statuses"].items())
        b = before.get(kind, {})
        lines.append(
            f"| {KIND_NAMES.get(kind, kind)} | {'yes' if k['needs_database'] else 'no'} |"
            f" {fmt(k['requests'])} | {answers} | {fmt(k['p99_ms'])} / {fmt(k['max_ms'])} ms |"
            f" {fmt(b.get('p99_ms'))} / {fmt(b.get('max_ms'))} ms |"
        )
    lines.append(
        f"| `/healthz` on the health listener (the monitor) | yes | {fmt(h['probes'])} |"
        f" {', '.join(f'{s}: {fmt(n)}' for s, n in h['statuses'].items())} |"
        f" {fmt(h['p99_ms'])} / {fmt(h['max_ms'])} ms |"
        f" {fmt(hb.get('p99_ms'))} / {fmt(hb.get('max_ms'))} ms |"
    )
    ha = r.get("healthz_app_listener_during_outage") or {}
    hab = r.get("healthz_app_listener_before_outage") or {}
    if ha:
        lines.append(
            f"| `/healthz` on the app's own address | yes | {fmt(ha['probes'])} |"
            f" {', '.join(f'{s}: {fmt(n)}' for s, n in ha['statuses'].items())} |"
            f" {fmt(ha['p99_ms'])} / {fmt(ha['max_ms'])} ms |"
            f" {fmt(hab.get('p99_ms'))} / {fmt(hab.get('max_ms'))} ms |"
        )
    o = r["overall"]
    lines += [
        "",
        f"Whole run: {fmt(o['requests'])} requests, statuses"
        f" {', '.join(f'{k}: {fmt(n)}' for k, n in o['statuses'].items())}; gunicorn's log:"
        f" {r['server_log']['statuses']} (both passes and the set-up),"
        f" {r['server_log']['tracebacks']} tracebacks.",
        "",
    ]
    window = [
        row
        for row in r["per_second"]
        if e["stop_issued"] - 2 <= row["second"] <= back + 3
    ]
    if window:
        lines += [
            "Answers per second around the outage (by the second they ended in):",
            "",
            "| second | ok | ok needing the database | 503 try again | other |",
            "|---|---|---|---|---|",
            *(
                f"| {row['second']} | {row['ok']} | {row['db_ok']} | {row['retry']} | {row['failure']} |"
                for row in window
            ),
            "",
        ]
    lines += [
        "**What bounds the waits.** gunicorn has 8 threads; what made the site freeze was"
        " threads waiting for the database. Now: each worker opens its pool's 4 connections"
        " before it serves (`post_worker_init` in gunicorn.conf.py), so no thread waits for one"
        f" in normal running; a request waits at most {fmt(pool.get('timeout'))} s for a"
        " connection (`DB_POOL_TIMEOUT`), then gets the 503 page; the pool gives up a failed"
        f" reconnection after {fmt(pool.get('reconnect_timeout'))} s instead of backing off 1,"
        " 2, 4… s, and once it has, requests wait only 0.1 s (reliefmatch/database.py), so requests that need the database are told to try"
        " again at once and the threads stay free for pages that need none (the home page, the"
        " form's first step and static files touch no database: the session is read only when"
        " used). Each request that waits starts a new connection attempt, so the pool tries"
        " several times a second while requests come in, and one soon after the database"
        " returns gets through; the first connection made puts the usual wait back. `/healthz`"
        " borrows a connection straight from the pool with its own 0.5 s wait (0.1 s once the"
        " database is known down). A database that accepts connections and never answers is"
        " bounded by `connect_timeout` (2 s, libpq's smallest) in the pool's own threads, and"
        " `/healthz` still answers within its wait (tests/test_outage.py checks both a refused"
        " and a silent server). Not done: a `statement_timeout` (migrations and the task worker"
        " share the settings, and a stopped server fails queries at once) and `max_waiting`"
        " (psycopg_pool 3.3.3 keeps counting waiters that timed out, so after two it refused"
        " every request and never reconnected, measured while trying it). The same pool"
        " keeps a record of each request that timed out until a connection comes back, a few"
        " hundred bytes each: noticeable only in an outage of hours under load.",
        "",
    ]
    return lines


def goal_rows(full: dict[str, Any], light: dict[str, Any]) -> list[str]:
    """The goals table's rows: each goal, measured under both loads."""
    from bench.reliability_bench import fmt, verdict

    def cells(r: dict[str, Any], goal: str, text: str) -> str:
        return f"{text} | {verdict(r[goal])}" if goal in r else "– | –"

    def answers(r: dict[str, Any]) -> str:
        return (
            f"slowest {fmt(r.get('max_ms_during_outage'))} ms,"
            f" {fmt(r.get('no_answer'))} without an answer"
        )

    def healthz(r: dict[str, Any]) -> str:
        h = r.get("healthz_during_outage") or {}
        return (
            f"p99 {fmt(h.get('p99_ms'))} ms, max {fmt(h.get('max_ms'))} ms"
            f" ({fmt(h.get('probes'))} probes)"
        )

    rows = [
        (
            "every request answered within 2 s while the database is down",
            "goal_every_answer_within_2s",
            answers,
        ),
        (
            "pages that need no database: the normal page (200)",
            "goal_no_database_pages_normal",
            lambda r: "see the table",
        ),
        (
            "pages that need it: 503 with `Retry-After` and the try-again message",
            "goal_database_pages_503_with_retry",
            lambda r: "see the table",
        ),
        ("`/healthz` says 503 within 1 s", "goal_healthz_within_1s", healthz),
        (
            "first success within 1 s of the database returning",
            "goal_first_success_within_1s",
            lambda r: fmt(r.get("first_db_success_after_back_seconds"), " s"),
        ),
        (
            "no 5xx but 503 (whole pass)",
            "goal_no_other_5xx",
            lambda r: fmt(r.get("server_errors_other_than_503")),
        ),
    ]
    return [
        f"| {name} | {cells(full, goal, text(full))} | {cells(light, goal, text(light))} |"
        for name, goal, text in rows
    ]


SLOW_PHASES = {
    "none": "no slow clients",
    "direct": "8 slow clients straight to gunicorn",
    "proxy": "8 slow clients through nginx",
}
SLOW_PROBES = {
    "healthz_app": "`/healthz` on gunicorn's app address",
    "healthz_health": "`/healthz` on gunicorn's health listener",
    "home_app": "home page on gunicorn's app address",
    "healthz_nginx": "`/healthz` through nginx (to the health listener)",
    "home_nginx": "home page through nginx (to the app address)",
}


def slow_clients_section(r: dict[str, Any] | None) -> list[str]:
    from bench.reliability_bench import fmt, run_header

    lines = ["## 4. Slow clients, with and without nginx", ""]
    if not r:
        return [
            *lines,
            "Not run yet: `.venv/bin/python -m bench.reliability_bench slow-clients`.",
            "",
        ]
    st = r["static_via_nginx"]
    lines += [
        f"{r['slow_clients']} clients each open a connection, send a form's headers"
        f" (`POST /check/`, `Content-Length: {SLOW_BODY_BYTES:,}`) and then its body one byte"
        f" every {fmt(r['byte_every_seconds'])} s (reconnecting if cut); meanwhile monitors"
        f" ask `/healthz` and the home page every {fmt(r['probe_every_seconds'])} s, each"
        f" giving up on an answer after {fmt(r['probe_timeout_seconds'])} s. Three phases of"
        f" {r['phase_seconds']} s in one run, against one gunicorn (as in production, 2 × 4"
        f" threads) and one nginx ({r['nginx']}) running `deploy/nginx/reliefmatch.conf` with"
        " the run's ports and paths (bench/proxy.py). A probe without an answer counts at 3 s.",
        "",
        *run_header(r),
        f"- Database: {r['server']}",
        "",
        "| phase | asked | probes | 200 | no answer within 3 s | p50 / p99 / max |",
        "|---|---|---|---|---|---|",
    ]
    for key, name in SLOW_PHASES.items():
        for label, p in r["phases"][key]["probes"].items():
            share = f" ({p['no_answer'] / p['probes']:.0%})" if p["probes"] else ""
            lines.append(
                f"| {name} | {SLOW_PROBES.get(label, label)} | {fmt(p['probes'])} |"
                f" {fmt(p['ok'])} | {fmt(p['no_answer'])}{share} |"
                f" {fmt(p['p50_ms'])} / {fmt(p['p99_ms'])} / {fmt(p['max_ms'])} ms |"
            )
    lines += [
        "",
        "Straight to gunicorn, each slow client holds one of its 8 threads while the body"
        " trickles in (Django reads the form before the view runs), so requests to the app's"
        " address wait behind them; probes are fewer there because each waited up to 3 s."
        " The health listener has a thread of its own in each worker"
        " (reliefmatch/gunicorn_worker.py), so `/healthz` there does not wait, but pages do."
        " Through nginx the slow bodies are read by nginx, which passes a request on only"
        " once it is whole (`proxy_request_buffering on`), and gunicorn never sees them;"
        " nginx cuts a client only after 10 s without a byte (`client_body_timeout`).",
        "",
        f"Static files through nginx: `{st['path']}` answered {st['status']}, `Cache-Control:"
        f" {st['cache_control']}`, `Content-Encoding: {st['content_encoding']}` (the .gz file"
        " collectstatic wrote), served by nginx itself.",
        "",
    ]
    return lines


LOST_ACKNOWLEDGEMENT = """\
## A stored profile whose link was lost

In an earlier fault run a gunicorn worker killed mid-request lost one owner's answer: the profile
was stored, but the owner never got the private link. What happens then:

- **What the owner sees.** Their form submission gets no answer: the browser reports a
  connection error (reset, or an empty response), or nginx's "502 Bad Gateway" page when it
  runs behind nginx. No link is shown. `kept.profile_keep` stores the profile and its results
  in one transaction, so they were stored together; the email with the link (if the owner gave
  an address) is sent after that commit in the same request, so it went out only if the worker
  got that far.
- **Their answers are kept but unreachable.** Only the SHA-256 of the link's token is stored,
  so the owner cannot open, edit or delete the profile, and no one can make the link again.
  Internal staff see it in the admin among the stored profiles, but nothing marks it as
  unclaimed or says whose it is (unless it holds an email address). One way back: if the owner also asked for alerts, each later alert email carries a signed
  link that opens the same profile. Sending the form again makes a second, separate profile
  with its own link.
- **Retention.** `manage.py purge_stale_profiles` (daily) deletes kept profiles whose last
  change (`updated_at`) is older than `PROFILE_RETENTION_DAYS` (365 days by default). Nobody
  can change an unclaimed profile, so it goes exactly that long after it was stored, with its
  results and alert records; like every purged profile, it is first folded into the anonymous
  monthly tallies.
- **Staff counts.** It counts in the staff match report like any kept profile: its stored
  results are rows of `report_queryset`, its business is counted by province, urgency and cash
  runway, it appears in row-level exports while it lives, and in the tallies after the purge.
  If the owner sent the form again, that business is counted twice. It would be better left out
  of the counts, but nothing tells it apart today: the server cannot know that its answer never
  arrived. Telling it apart would need a "first opened" time written when the private link is
  first used, and the report filtering on it (a new column and migration, and a write on the
  first view); not done here.
"""
