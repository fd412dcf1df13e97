"""
nginx in front of gunicorn, from the site file that ships in deploy/.

``nginx_proxy()`` renders deploy/nginx/reliefmatch.conf with the run's own
port, gunicorn's address and this checkout's STATIC_ROOT (each replaced value
must be found, so a change to the site file cannot silently escape the run),
wraps it in a minimal nginx.conf with its pid, logs and temporary files in a
temporary folder, and runs Debian's nginx on it (``nginx -c <file> -p <prefix>``)
as the current user, in the foreground, until the block ends.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from bench.common import ROOT

SITE = ROOT / "deploy" / "nginx" / "reliefmatch.conf"
#: What the site file says for a standard install, and what the run puts instead.
INSTALL_ROOT = "/srv/reliefmatch"
UPSTREAM = "127.0.0.1:8000"
HEALTH_UPSTREAM = "127.0.0.1:8001"

MAIN_CONF = """\
%(user)s
worker_processes 1;
daemon off;
pid %(prefix)s/nginx.pid;
error_log %(prefix)s/error.log warn;
events { worker_connections 512; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log %(prefix)s/access.log;
    client_body_temp_path %(prefix)s/client_body;
    proxy_temp_path %(prefix)s/proxy;
    fastcgi_temp_path %(prefix)s/fastcgi;
    uwsgi_temp_path %(prefix)s/uwsgi;
    scgi_temp_path %(prefix)s/scgi;
    include %(prefix)s/site.conf;
}
"""


def render_site(*, port: int, upstream: str, health_upstream: str) -> str:
    """Return the deploy/ site file with the run's port, upstreams and paths."""
    text = SITE.read_text()
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{port};",
        "listen [::]:80;": "",
        f"server {UPSTREAM};": f"server {upstream};",
        f"server {HEALTH_UPSTREAM};": f"server {health_upstream};",
        f"{INSTALL_ROOT}/staticfiles/": f"{ROOT}/staticfiles/",
    }
    for old, new in replacements.items():
        if old not in text:
            raise SystemExit(f"{SITE}: expected {old!r}; update bench/proxy.py")
        text = text.replace(old, new)
    return text


@contextlib.contextmanager
def nginx_proxy(*, port: int, upstream: str, health_upstream: str) -> Iterator[Path]:
    """Run nginx on 127.0.0.1:`port` in front of the app's listeners; yield its folder."""
    prefix = Path(tempfile.mkdtemp(prefix="reliefmatch-nginx-"))
    (prefix / "site.conf").write_text(
        render_site(port=port, upstream=upstream, health_upstream=health_upstream)
    )
    # As root, nginx's workers would otherwise switch to "nobody".
    user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(MAIN_CONF % {"prefix": prefix, "user": user})
    command = [
        "nginx",
        "-c",
        str(conf),
        "-p",
        f"{prefix}/",
        "-e",
        str(prefix / "error.log"),
    ]
    subprocess.run([*command, "-t", "-q"], check=True, capture_output=True, timeout=30)
    proc = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    "nginx did not start: " + (prefix / "error.log").read_text()
                )
            time.sleep(0.1)
        yield prefix
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGQUIT)  # graceful stop of this nginx only
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(prefix, ignore_errors=True)
