"""The files in deploy/ agree with the app's settings, and nginx accepts its site file."""

from __future__ import annotations

import re
import runpy
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from bench.proxy import MAIN_CONF, SITE, render_site

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
NGINX_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def site_directive(name: str) -> list[str]:
    return re.findall(rf"^\s*{name}\s+([^;]+);", SITE.read_text(), re.MULTILINE)


def test_nginx_refuses_bodies_exactly_where_the_app_does():
    [size] = site_directive("client_max_body_size")
    number, unit = re.fullmatch(r"(\d+)([kmg]?)", size.lower()).groups()
    assert int(number) * NGINX_SIZE_UNITS[unit] == settings.REQUEST_MAX_BODY_BYTES


def test_nginx_sends_healthz_to_gunicorns_health_listener(monkeypatch):
    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    monkeypatch.delenv("GUNICORN_HEALTH_BIND", raising=False)
    block = re.search(r"location = /healthz \{(.*?)\}", SITE.read_text(), re.DOTALL)
    assert "proxy_pass http://reliefmatch_health;" in block.group(1)
    upstream = re.search(
        r"upstream reliefmatch_health \{\s*server ([^;]+);", SITE.read_text()
    )
    conf = runpy.run_path(str(Path(settings.BASE_DIR) / "gunicorn.conf.py"))
    assert upstream.group(1) in conf["bind"]  # the default GUNICORN_HEALTH_BIND
    monkeypatch.setenv("GUNICORN_HEALTH_BIND", "")
    conf = runpy.run_path(str(Path(settings.BASE_DIR) / "gunicorn.conf.py"))
    assert conf["bind"] == ["127.0.0.1:8000"]


def test_nginx_sets_the_forwarded_headers_instead_of_appending_to_them():
    headers = dict(value.split(None, 1) for value in site_directive("proxy_set_header"))
    assert headers["X-Forwarded-For"] == "$remote_addr"
    assert headers["X-Forwarded-Proto"] == "$scheme"
    assert site_directive("proxy_request_buffering") == ["on"]


def test_the_units_run_gunicorn_and_the_task_worker_from_the_checkout():
    web = (DEPLOY / "systemd" / "reliefmatch.service").read_text()
    worker = (DEPLOY / "systemd" / "reliefmatch-worker.service").read_text()
    assert "ExecStart=/srv/reliefmatch/.venv/bin/gunicorn -c gunicorn.conf.py" in web
    assert re.search(
        r"^ExecStart=/srv/reliefmatch/\.venv/bin/python manage\.py db_worker\b",
        worker,
        re.MULTILINE,
    )


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_nginx_accepts_the_site_file(tmp_path):
    (tmp_path / "site.conf").write_text(
        render_site(
            port=8080, upstream="127.0.0.1:8000", health_upstream="127.0.0.1:8001"
        )
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(MAIN_CONF % {"prefix": tmp_path, "user": ""})
    result = subprocess.run(
        [
            "nginx",
            "-t",
            "-c",
            str(conf),
            "-p",
            f"{tmp_path}/",
            "-e",
            str(tmp_path / "error.log"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
