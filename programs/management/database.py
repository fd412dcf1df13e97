"""
The database a management command needs: reachable and migrated.

``require_migrated_database`` raises a ``CommandError`` that says what to do
(run ``manage.py migrate``, or check ``DATABASE_URL``) where a command would
otherwise fail with a traceback about a missing table ("no such table",
"relation does not exist") or a refused connection. The commands that read or
write the app's tables call it before anything else touches the database.
"""

from __future__ import annotations

from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor


def require_migrated_database(using: str = DEFAULT_DB_ALIAS) -> None:
    """Raise CommandError unless the database answers and has every migration applied."""
    connection = connections[using]
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as error:
        raise CommandError(
            f"Cannot reach the database ({str(error).strip()}). "
            "Check DATABASE_URL and that the database server is running."
        ) from error
    if not pending:
        return
    if not executor.loader.applied_migrations:
        raise CommandError(
            "The database has not been set up yet. "
            "Run `python manage.py migrate` first (then `python manage.py "
            "load_catalogue` to load the programmes)."
        )
    raise CommandError(
        f"The database is behind the code: {len(pending)} migration"
        f"{'' if len(pending) == 1 else 's'} not applied. "
        "Run `python manage.py migrate` first."
    )
