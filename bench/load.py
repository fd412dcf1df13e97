"""
A small load generator that records the outcome of every request.

wrk counts errors but cannot say which form submission was acknowledged. Here
each of `clients` threads sends requests one after the other, a new loopback
connection each (so a restarting server never leaves a stale keep-alive socket
behind), for a fixed time, and records every request: its kind, when it
started and ended, the status and what it meant:

* ``ok``: the expected answer (200; for a form submission, 302 to ``/r/<token>/``,
  the token is kept so the run can check that it really was stored);
* ``retry``: 503 with ``Retry-After`` and the "try again in a moment" message;
* ``failure``: anything else, a socket error or a timeout included.

Only the standard library: http.client and threads.
"""

from __future__ import annotations

import dataclasses
import html
import http.client
import json
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

#: The mix of the "mixed traffic" load, in percent of requests (wrk uses the same).
WEIGHTS: dict[str, int] = {
    "home": 30,
    "form": 20,
    "results": 30,
    "api_match": 10,
    "api_programmes": 10,
}
#: Kinds whose answer needs the database (the home page, the form's first step
#: and static files do not).
DATABASE_KINDS = frozenset({"form", "results", "api_match", "api_programmes"})
LOCATION = re.compile(r"/r/([^/?#]+)/")
TIMEOUT_SECONDS = 20.0  # above the pool's 10 s wait for a connection


@dataclasses.dataclass(frozen=True)
class Mix:
    """What the load sends: form bodies with their CSRF cookie, links, API bodies."""

    form_bodies: Sequence[str]
    csrf_cookie: str
    result_paths: Sequence[str]
    api_bodies: Sequence[str]
    language: str = "zh-hans"
    weights: dict[str, int] = dataclasses.field(default_factory=lambda: dict(WEIGHTS))
    #: For the "static" kind: a collected static file's URL.
    static_path: str = "/static/programs/site.css"

    def request(
        self, kind: str, rng: random.Random
    ) -> tuple[str, str, bytes | None, dict]:
        headers = {"Accept-Language": self.language, "Connection": "close"}
        if kind == "home":
            return "GET", "/", None, headers
        if kind == "form_get":  # the form's first step, as an owner opens it
            return "GET", "/check/", None, headers
        if kind == "static":
            return "GET", self.static_path, None, headers
        if kind == "results":
            return "GET", rng.choice(self.result_paths), None, headers
        if kind == "form":
            headers |= {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"csrftoken={self.csrf_cookie}",
            }
            return "POST", "/check/", rng.choice(self.form_bodies).encode(), headers
        if kind == "api_match":
            headers["Content-Type"] = "application/json"
            return (
                "POST",
                "/api/v1/match",
                rng.choice(self.api_bodies).encode(),
                headers,
            )
        if kind == "api_programmes":
            return "GET", "/api/v1/programmes", None, headers
        raise ValueError(kind)


@dataclasses.dataclass
class Outcome:
    kind: str
    start: float  # seconds since the load began
    end: float
    status: int | None  # None: no HTTP answer (socket error, timeout)
    verdict: str  # ok, retry, failure
    token: str | None = None
    detail: str = ""

    @property
    def latency_ms(self) -> float:
        return (self.end - self.start) * 1000


def classify(
    kind: str,
    status: int,
    headers: http.client.HTTPMessage,
    body: bytes,
    retry_message: str,
) -> tuple[str, str | None, str]:
    """Return (verdict, token, detail) for one answer."""
    if kind == "form" and status == 302:
        match = LOCATION.fullmatch(headers.get("Location", ""))
        if match:
            return "ok", match.group(1), ""
        return "failure", None, "302 elsewhere"
    if kind != "form" and status == 200:
        return "ok", None, ""
    if status == 503:
        text = body.decode("utf-8", "replace")
        if kind.startswith("api_"):
            try:
                told = retry_message in json.loads(text)["errors"]["__all__"]
            except (ValueError, KeyError, TypeError):
                told = False
        else:
            told = html.escape(retry_message) in text or retry_message in text
        if told and headers.get("Retry-After"):
            return "retry", None, ""
        return "failure", None, "503 without the retry message"
    return "failure", None, f"status {status}"


def run(
    *,
    host: str,
    port: int,
    mix: Mix,
    seconds: float,
    clients: int,
    retry_message: str,
    seed: int = 8,
    on_start: Callable[[float], None] | None = None,
    stop: threading.Event | None = None,
) -> tuple[float, list[Outcome]]:
    """Send the mix from `clients` threads for `seconds`; return (start, outcomes).

    `start` is the ``time.monotonic()`` the load began at; every outcome's
    times are seconds since then. Stops by itself: no request starts after
    `seconds` (or once `stop` is set), and none waits longer than TIMEOUT_SECONDS.
    """
    stop = stop or threading.Event()
    kinds = list(mix.weights)
    weights = [mix.weights[k] for k in kinds]
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    t0 = time.monotonic()
    deadline = t0 + seconds

    def client(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        mine: list[Outcome] = []
        while (now := time.monotonic()) < deadline and not stop.is_set():
            kind = rng.choices(kinds, weights)[0]
            method, path, body, headers = mix.request(kind, rng)
            start = now - t0
            conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT_SECONDS)
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                verdict, token, detail = classify(
                    kind, response.status, response.headers, data, retry_message
                )
                status: int | None = response.status
            except (OSError, http.client.HTTPException) as error:
                verdict, token, detail, status = (
                    "failure",
                    None,
                    type(error).__name__,
                    None,
                )
            finally:
                conn.close()
            mine.append(
                Outcome(
                    kind,
                    start,
                    time.monotonic() - t0,
                    status,
                    verdict,
                    token,
                    detail,
                )
            )
        with lock:
            outcomes.extend(mine)

    threads = [
        threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)
    ]
    for thread in threads:
        thread.start()
    if on_start:
        on_start(t0)
    for thread in threads:
        thread.join(seconds + TIMEOUT_SECONDS + 10)
    outcomes.sort(key=lambda o: o.start)
    return t0, outcomes


def percentile(values: Sequence[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[index], 1)


def summary(outcomes: Sequence[Outcome], seconds: float) -> dict[str, Any]:
    """Totals, rates and latency percentiles of a list of outcomes."""
    latencies = [o.latency_ms for o in outcomes]
    by_kind: dict[str, dict[str, int]] = {}
    statuses: dict[str, int] = {}
    for o in outcomes:
        counts = by_kind.setdefault(o.kind, {"ok": 0, "retry": 0, "failure": 0})
        counts[o.verdict] += 1
        key = str(o.status) if o.status is not None else f"socket:{o.detail}"
        statuses[key] = statuses.get(key, 0) + 1
    return {
        "requests": len(outcomes),
        "requests_per_second": round(len(outcomes) / seconds, 1) if seconds else None,
        "ok": sum(o.verdict == "ok" for o in outcomes),
        "retry": sum(o.verdict == "retry" for o in outcomes),
        "failure": sum(o.verdict == "failure" for o in outcomes),
        "server_errors_500": sum(o.status == 500 for o in outcomes),
        "statuses": dict(sorted(statuses.items())),
        "by_kind": by_kind,
        "p50_ms": percentile(latencies, 50),
        "p90_ms": percentile(latencies, 90),
        "p99_ms": percentile(latencies, 99),
        "max_ms": round(max(latencies), 1) if latencies else None,
    }
