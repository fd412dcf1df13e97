"""
gunicorn's threaded worker, with a thread of its own for the health listener.

In gunicorn's ``gthread`` worker every accepted connection joins one queue in
front of the worker's threads. Under a load that keeps every thread busy, a
monitor's ``/healthz`` waits in that queue like any page (a second and more
on a saturated 2-core machine, docs/reliability.md), so a monitor with a short
timeout cannot tell "busy" from "down", least of all in a database outage,
which is when it matters.

Here connections that arrive on the health listener (``GUNICORN_HEALTH_BIND``,
``127.0.0.1:8001`` by default; gunicorn.conf.py binds it beside the app's
address) are handled by one thread of their own in each worker process,
never queued behind page requests. They run the same Django application, so
``/healthz`` still proves the process answers and the database does too. Keep
the listener on loopback and send only ``/healthz`` to it (nginx does, see
deploy/nginx/reliefmatch.conf): anything sent there skips the queue.

Built on gunicorn's ``ThreadWorker.enqueue_req`` and ``TConn.server``, which
gunicorn 23 to 27 share; tests/test_gunicorn_worker.py starts a real gunicorn
and checks the behaviour, so an upgrade that changes them fails there.
"""

from __future__ import annotations

import os
from concurrent import futures
from typing import Any

from gunicorn.workers.gthread import ThreadWorker as GunicornThreadWorker

#: Threads per worker process for the health listener's connections.
HEALTH_THREADS = 1


def health_bind() -> str:
    """Return the health listener's address, GUNICORN_HEALTH_BIND; empty for none."""
    return os.environ.get("GUNICORN_HEALTH_BIND", "127.0.0.1:8001").strip()


def health_address() -> tuple[str, int] | None:
    """Return the health listener's (host, port), or None when there is none."""
    if not (bind := health_bind()):
        return None
    host, _, port = bind.rpartition(":")
    return host.strip("[]"), int(port)


class ThreadWorker(GunicornThreadWorker):
    """gthread; connections to the health listener have a thread of their own."""

    def init_process(self) -> None:
        self.health = health_address()
        self.health_pool = futures.ThreadPoolExecutor(
            max_workers=HEALTH_THREADS, thread_name_prefix="health"
        )
        super().init_process()

    def enqueue_req(self, conn: Any) -> None:
        if self.health is None or tuple(conn.server[:2]) != self.health:
            super().enqueue_req(conn)
            return
        done = self.health_pool.submit(self.handle, conn)
        done.add_done_callback(
            lambda fut: self.method_queue.defer(self.finish_request, conn, fut)
        )

    def handle_quit(self, sig: Any, frame: Any) -> None:
        self.health_pool.shutdown(wait=False)
        super().handle_quit(sig, frame)
