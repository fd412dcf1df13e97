"""
Pages over HTTP: gunicorn with the production settings (gunicorn.conf.py,
DEBUG off, the psycopg pool), PostgreSQL, and wrk at 16 connections, all on
this machine over loopback. In one run, one after the other:

(c) a trivial view of the same app: ``/healthz`` (one ``SELECT 1``);
(a) the results page of kept profiles: ``/r/<token>/``, rotating over 200
    private links made for the run;
(b) a form submission that matches and stores: ``POST /check/`` with consent
    to keep, answered with a redirect to the new private link.

wrk's own Lua ``done`` hook reports requests, errors and latency percentiles.
Requests go out in Chinese (``Accept-Language: zh-hans``), as most users' do.
"""

from __future__ import annotations

import contextlib
import datetime
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .common import ROOT, log


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PORT = int(os.environ.get("BENCH_PORT", "0")) or free_port()
BASE = f"http://127.0.0.1:{PORT}"
CONNECTIONS = 16

DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, "p50_ms": %.2f, "p90_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f}\n',
    summary.requests, summary.duration / 1e6, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
"""

GET_ROTATING = r"""
local paths = {%(paths)s}
local i = 0
wrk.headers["Accept-Language"] = "zh-hans"
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""

POST_FORM = r"""
local bodies = {%(bodies)s}
local i = 0
wrk.headers["Accept-Language"] = "zh-hans"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "csrftoken=%(cookie)s"
request = function()
  i = i + 1
  return wrk.format("POST", "/check/", nil, bodies[(i %% #bodies) + 1])
end
"""


def lua_strings(items: list[str]) -> str:
    return ", ".join(json.dumps(item) for item in items)


def environment(database_url: str) -> dict[str, str]:
    from .common import SECRET_KEY

    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "GUNICORN_BIND": f"127.0.0.1:{PORT}",
        # The benchmark measures capacity, not the per-address limiters:
        # every request here comes from one address.
        "API_RATE_LIMIT": "1000000/min",
        "API_SCREENING_RATE_LIMIT": "1000000/min",
        "FORM_RATE_LIMIT": "1000000/min",
        "DJANGO_DEBUG": "0",
    }


@contextlib.contextmanager
def gunicorn(database_url: str, log_path: Path) -> Iterator[subprocess.Popen]:
    """Collect static files, start gunicorn as in production, wait until it answers."""
    env = environment(database_url)
    python = str(ROOT / ".venv" / "bin" / "python")
    subprocess.run(
        [python, "manage.py", "collectstatic", "--no-input", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    with open(log_path, "w") as out:
        proc = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "gunicorn"),
                "-c",
                "gunicorn.conf.py",
                "reliefmatch.wsgi",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until_up(proc)
            yield proc
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def wait_until_up(proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with status {proc.returncode}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{BASE}/healthz", timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /healthz within 30 s")


def wrk(
    script: str, path: str, seconds: int, connections: int = CONNECTIONS
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fp:
        fp.write(script + DONE)
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{min(2, connections)}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                fp.name,
                BASE + path,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(fp.name)
    figures = json.loads(out.strip().splitlines()[-1])
    figures["requests_per_second"] = round(figures["requests"] / figures["seconds"], 1)
    figures["error_count"] = sum(figures["errors"].values())
    return figures


# -- what the load needs: private links, the form's CSRF pair, realistic answers ------


def kept_links(count: int) -> list[str]:
    """Keep `count` synthetic profiles as owners would; return their result paths."""
    from programs import demo, services

    paths = []
    as_of = datetime.date(2020, 6, 15)
    for profile in demo.synthetic_profiles(count, seed=99):
        report = services.run_match(profile=profile, as_of=as_of)
        _row, token = services.profile_keep(
            profile=profile,
            consent=services.Consent(store=True),
            report=report,
            as_of=as_of,
            language="zh-hans",
        )
        paths.append(f"/r/{token}/")
    return paths


def form_bodies(count: int, csrf: str) -> list[str]:
    """Return urlencoded form submissions of synthetic profiles, with consent to keep."""
    from programs import demo
    from programs.forms import ProfileForm

    bodies = []
    as_of = datetime.date(2020, 6, 15)
    for profile in demo.synthetic_profiles(count, seed=7):
        answers = ProfileForm.initial_from_profile(profile, as_of)
        pairs = [("csrfmiddlewaretoken", csrf), ("consent_store", "on")]
        bodies.append(urllib.parse.urlencode([*pairs, *answers.items()], doseq=True))
    return bodies


def csrf_pair() -> tuple[str, str]:
    """GET the form once; return (cookie secret, form token)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(f"{BASE}/check/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    cookie = next(c.value for c in jar if c.name == "csrftoken")
    return cookie, token


def check_form_body(body: str, cookie: str) -> None:
    """POST one body and require the redirect to a private link, or stop the run."""
    request = urllib.request.Request(
        f"{BASE}/check/",
        data=body.encode(),
        headers={
            "Cookie": f"csrftoken={cookie}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(request)
    except urllib.error.HTTPError as error:
        if error.code == 302 and error.headers["Location"].startswith("/r/"):
            return
        raise SystemExit(f"The form did not keep a submission: {error.code}") from None
    raise SystemExit("The form answered 200: the submission was not valid")


def run(*, quick: bool, database_url: str, log_dir: Path) -> dict[str, Any]:
    from programs.models import BusinessProfile, StoredResult

    seconds = 5 if quick else 30
    last_before = (
        BusinessProfile.objects.order_by("-pk").values_list("pk", flat=True).first()
        or 0
    )
    paths = kept_links(40 if quick else 200)
    results: dict[str, Any] = {"connections": CONNECTIONS, "seconds": seconds}
    with gunicorn(database_url, log_dir / "gunicorn-http.log"):
        cookie, token = csrf_pair()
        bodies = form_bodies(50, token)
        for body in bodies[:3]:
            check_form_body(body, cookie)
        warm = GET_ROTATING % {"paths": lua_strings(paths)}
        wrk(warm, "/", 2)  # warm every worker and its pool
        results["trivial"] = wrk(
            GET_ROTATING % {"paths": '"/healthz"'}, "/healthz", seconds
        )
        log(f"  trivial view: {results['trivial']}")
        results["results_page"] = wrk(warm, "/", seconds)
        log(f"  results page: {results['results_page']}")
        before = (BusinessProfile.objects.count(), StoredResult.objects.count())
        post = POST_FORM % {"bodies": lua_strings(bodies), "cookie": cookie}
        results["form_submit"] = wrk(post, "/check/", seconds)
        after = (BusinessProfile.objects.count(), StoredResult.objects.count())
        log(f"  form submission: {results['form_submit']}")
    results["form_submit"]["profiles_stored"] = after[0] - before[0]
    results["form_submit"]["results_stored"] = after[1] - before[1]
    # Leave the benchmark data as it was for the next run.
    BusinessProfile.objects.filter(pk__gt=last_before).delete()
    trivial = results["trivial"]["requests_per_second"]
    results["results_vs_trivial"] = round(
        results["results_page"]["requests_per_second"] / trivial, 2
    )
    results["form_vs_trivial"] = round(
        results["form_submit"]["requests_per_second"] / trivial, 2
    )
    return results
