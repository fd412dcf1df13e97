"""gunicorn as in production: /healthz on the health listener never waits behind pages.

A real gunicorn (gunicorn.conf.py, one worker with one thread) against a SQLite
file: a slow client holds the only page thread, as a stalled upload does; the
app's own address then cannot answer, and the health listener still does.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from reliefmatch import gunicorn_worker

BASE_DIR = Path(settings.BASE_DIR)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_healthz(port: int, timeout: float) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/healthz", headers={"Connection": "close"})
        return conn.getresponse().status
    finally:
        conn.close()


@contextlib.contextmanager
def gunicorn(tmp_path: Path, app_port: int, health_port: int) -> Iterator[None]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "reliefmatch.settings",
        "DJANGO_SECRET_KEY": "test-only-secret-key-not-for-production",
        "DJANGO_DEBUG": "0",
        "DJANGO_HTTPS": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "GUNICORN_BIND": f"127.0.0.1:{app_port}",
        "GUNICORN_HEALTH_BIND": f"127.0.0.1:{health_port}",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "1",
    }
    log = (tmp_path / "gunicorn.log").open("w")
    proc = subprocess.Popen(
        [str(BASE_DIR / ".venv" / "bin" / "gunicorn"), "-c", "gunicorn.conf.py"]
        + ["reliefmatch.wsgi"],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()
            with contextlib.suppress(OSError):
                if get_healthz(health_port, 2) == 200:
                    break
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def test_the_health_listener_answers_while_a_slow_client_holds_every_page_thread(
    tmp_path,
):
    app_port, health_port = free_port(), free_port()
    with gunicorn(tmp_path, app_port, health_port):
        assert get_healthz(app_port, 2) == 200  # both listeners serve the app

        # Headers of a form post, then nothing: the only page thread waits for
        # the body.
        slow = socket.create_connection(("127.0.0.1", app_port))
        slow.sendall(
            b"POST /check/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 10000\r\n\r\na"
        )
        time.sleep(0.5)
        try:
            with pytest.raises(TimeoutError):
                get_healthz(app_port, 1.5)  # queued behind the slow client
            started = time.monotonic()
            assert get_healthz(health_port, 1.5) == 200
            assert time.monotonic() - started < 1.0
        finally:
            slow.close()


def test_the_health_address_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("GUNICORN_HEALTH_BIND", "127.0.0.1:9101")
    assert gunicorn_worker.health_address() == ("127.0.0.1", 9101)
    monkeypatch.setenv("GUNICORN_HEALTH_BIND", "[::1]:9101")
    assert gunicorn_worker.health_address() == ("::1", 9101)
    monkeypatch.setenv("GUNICORN_HEALTH_BIND", "")
    assert gunicorn_worker.health_address() is None
