"""
Whether the database answers, found out within a bound, and the pool made ready.

* ``database_answers`` runs ``SELECT 1`` on a connection taken straight from
  the PostgreSQL pool with a wait of its own (``HEALTH_CHECK_WAIT_SECONDS``),
  so ``/healthz`` says "down" within a second while the database is
  unreachable, whatever ``DB_POOL_TIMEOUT`` is. Without a pool (SQLite) it
  asks through Django's connection.
* ``open_pools`` opens each pool and waits a little for its connections, so a
  gunicorn worker starts serving with a full pool (``post_worker_init`` in
  gunicorn.conf.py) instead of queueing its first requests behind new
  connections.
* ``fail_fast_while_down`` (the pool's ``reconnect_failed`` hook) and
  ``restore_wait`` (on Django's ``connection_created``): once the pool has
  given up a reconnection, the database is down, and a request waits only
  ``DOWN_WAIT_SECONDS`` for a connection instead of ``DB_POOL_TIMEOUT``, so
  requests that need the database get their 503 at once and gunicorn's threads
  stay free for pages that need none; the first connection made again puts
  the usual wait back.

The pool's options, and why they are what they are: ``DB_POOL_OPTIONS`` in
reliefmatch/settings.py.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.signals import connection_created
from django.dispatch import receiver

#: How long the health check waits for a pooled connection: well under the
#: one second a monitor is promised an answer in (docs/reliability.md).
HEALTH_CHECK_WAIT_SECONDS = 0.5
#: How long a request waits for a pooled connection while the database is down.
#: Long enough for a connection made meanwhile (a few ms on loopback) to reach it.
DOWN_WAIT_SECONDS = 0.1

logger = logging.getLogger(__name__)


def _driver_errors() -> tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:  # SQLite-only installs
        return (DatabaseError,)
    # psycopg_pool's PoolTimeout and TooManyRequests are psycopg.OperationalErrors.
    return (DatabaseError, psycopg.Error)


def _pool(alias: str) -> Any | None:
    """Return the psycopg pool behind the connection `alias`, or None (no pool)."""
    return getattr(connections[alias], "pool", None)


def database_answers(
    *, alias: str = DEFAULT_DB_ALIAS, wait: float = HEALTH_CHECK_WAIT_SECONDS
) -> bool:
    """Return whether the database answers ``SELECT 1``, waiting at most `wait` for a connection.

    With a pool, the connection is borrowed for the query only and given back;
    Django's own connection for this thread is not touched.
    """
    try:
        pool = _pool(alias)
        if pool is None:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        else:
            pool.open()  # as Django does on first use; nothing when already open
            # Known to be down (fail_fast_while_down): no point waiting longer.
            with pool.connection(timeout=min(wait, pool.timeout)) as conn:
                conn.execute("SELECT 1").fetchone()
    except _driver_errors() as error:
        logger.warning(
            "Health check: the database did not answer (%s)", type(error).__name__
        )
        return False
    return True


def open_pools(*, timeout: float) -> None:
    """Open every database pool and wait up to `timeout` s for its connections.

    Never fails: with the database down the worker starts all the same and the
    pool keeps trying (``psycopg_pool.ConnectionPool.wait`` would close the
    pool for good on a timeout, so it is not used).
    """
    deadline = time.monotonic() + timeout
    for alias in connections:
        pool = _pool(alias)
        if pool is None:
            continue
        pool.open()
        while pool.get_stats()["pool_available"] < pool.min_size:
            if time.monotonic() >= deadline:
                logger.warning(
                    "Database pool %r not full after %s s: serving anyway",
                    alias,
                    timeout,
                )
                break
            time.sleep(0.02)


def fail_fast_while_down(pool: Any) -> None:
    """Make requests wait only DOWN_WAIT_SECONDS for a connection (the database is down).

    psycopg_pool calls this (``reconnect_failed``) when it gives up trying to
    replace a connection: the database refused or did not answer for
    ``reconnect_timeout``. The next request that waits starts a new attempt, so
    the pool keeps trying every reconnect_timeout while requests come in.
    """
    pool.timeout = min(pool.timeout, DOWN_WAIT_SECONDS)


@receiver(connection_created)
def restore_wait(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Put the pool's usual wait (DB_POOL_TIMEOUT) back once a connection is made again."""
    pool = getattr(connection, "pool", None)
    options = connection.settings_dict.get("OPTIONS", {}).get("pool")
    if pool is None or not isinstance(options, dict):
        return
    usual = options.get("timeout", pool.timeout)
    if pool.timeout != usual:
        pool.timeout = usual
