"""
Cold start: from a clean clone of the committed tree, the README's run command
(`make run`) until the home page is served, then the same command again in
that clone (virtual environment and database already there).

The clone gets its packages from the package registry as a new user's would
(pip's own cache aside), so the first figure depends on the network.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import ROOT, log
from bench.http_bench import free_port


def served_after(clone: Path, timeout: float = 900) -> float:
    """Run `make run` in the clone; return seconds until / answers 200."""
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DJANGO_SECRET_KEY"}
    }
    start = time.perf_counter()
    with open(clone / "make-run.log", "a") as out:
        proc = subprocess.Popen(
            ["make", "run", f"PORT={port}"],
            cwd=clone,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            while time.perf_counter() - start < timeout:
                if proc.poll() is not None:
                    raise SystemExit(
                        f"make run exited with {proc.returncode}; see {clone}/make-run.log"
                    )
                with (
                    contextlib.suppress(OSError),
                    urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/", timeout=2
                    ) as response,
                ):
                    if response.status == 200:
                        return time.perf_counter() - start
                time.sleep(0.25)
            raise SystemExit("make run did not serve the home page in time")
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="reliefmatch-coldstart-") as tmp:
        clone = Path(tmp) / "reliefmatch"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=clone,
            capture_output=True,
            text=True,
        ).stdout.strip()
        log(
            "  cold start: make run in a fresh clone (creates the venv, installs, migrates, loads demo data)"
        )
        cold = served_after(clone)
        log(f"  cold start: {cold:.1f} s; again in the same clone")
        warm = served_after(clone)
        log(f"  warm start: {warm:.1f} s")
    return {
        "commit": commit,
        "clean_clone_seconds": round(cold, 1),
        "second_run_seconds": round(warm, 1),
    }
