"""
A PostgreSQL server of the run's own, for fault runs: nobody else's connections
are cut when it is stopped.

``own_postgres()`` makes a cluster with Debian's PostgreSQL binaries (initdb)
in a temporary folder, starts it on a free loopback port and yields it; the
run can then stop it (``stop(mode)``) and start it again (``start()``). On the
way out it is stopped (immediate) and its folder removed. As root, the
commands run as the ``postgres`` user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.http_bench import free_port

DATABASE = "reliefmatch_fault"


def bindir() -> Path:
    """The newest Debian PostgreSQL's binaries (/usr/lib/postgresql/<version>/bin)."""
    versions = sorted(
        (p for p in Path("/usr/lib/postgresql").iterdir() if p.name[0].isdigit()),
        key=lambda p: float(p.name),
    )
    if not versions:
        raise SystemExit("No PostgreSQL binaries in /usr/lib/postgresql")
    return versions[-1] / "bin"


def _as_owner(command: list[str]) -> list[str]:
    return (
        ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command
    )


@dataclasses.dataclass
class OwnPostgres:
    folder: Path
    port: int

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def pg_ctl(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            _as_owner([str(bindir() / "pg_ctl"), "-D", str(self.data), *args]),
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, *, wait: bool = True) -> subprocess.Popen | None:
        """Start the server; with wait=False return the running pg_ctl at once."""
        command = _as_owner(
            [
                str(bindir() / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.folder / "postgres.log"),
                "-o",
                # fsync off: a throwaway server. Crash recovery after an immediate
                # stop would otherwise start by syncing the whole data folder,
                # seconds on this VM, and the outage would last that much longer.
                f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
                " -c fsync=off",
                "start",
                "-w" if wait else "-W",
            ]
        )
        if wait:
            subprocess.run(command, check=True, capture_output=True, timeout=60)
            return None
        return subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``immediate`` cuts every session at once, like a crash."""
        self.pg_ctl("stop", "-m", mode)

    def ready(self, timeout: int = 1) -> bool:
        return (
            subprocess.run(
                [
                    str(bindir() / "pg_isready"),
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-t",
                    str(timeout),
                ],
                check=False,
            ).returncode
            == 0
        )

    def version(self) -> str:
        """The server's version, e.g. "15.20" (from ``postgres --version``)."""
        out = subprocess.run(
            [str(bindir() / "postgres"), "--version"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return out.split(") ", 1)[-1].split()[0]


@contextlib.contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    """Make, start and yield a throwaway cluster with the database DATABASE."""
    folder = Path(tempfile.mkdtemp(prefix="reliefmatch-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    server = OwnPostgres(folder=folder, port=free_port())
    try:
        subprocess.run(
            _as_owner(
                [
                    str(bindir() / "initdb"),
                    "-D",
                    str(server.data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-instructions",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        server.start()
        subprocess.run(
            [
                str(bindir() / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(server.port),
                "-U",
                "postgres",
                DATABASE,
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield server
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            if server.data.exists():
                server.stop("immediate")
        time.sleep(0.2)
        shutil.rmtree(folder, ignore_errors=True)
