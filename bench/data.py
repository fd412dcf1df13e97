"""
Benchmark data, made here from fixed seeds and reused by later runs.

* Profiles: ``demo.synthetic_profiles`` (realistic mixes of business types,
  sizes, provinces and cash runway), written with PostgreSQL's COPY, the
  submission times spread over February to June 2020.
* Stored results: one per profile and shipped programme, inserted by
  ``sql.rematch`` (the database filter path), as for real profiles.
"""

from __future__ import annotations

import datetime
import random

from django.db import connection
from django.utils import timezone

from bench.common import log
from programs import demo
from programs.catalogue import store
from programs.engine import contract, sql
from programs.models import BusinessProfile, StoredResult

SEED = 2020
START = datetime.datetime(2020, 2, 1, 8, 0, tzinfo=datetime.UTC)
SPREAD_SECONDS = 150 * 24 * 3600


def _columns() -> list:
    return [f for f in BusinessProfile._meta.concrete_fields if not f.primary_key]


def seed_profiles(wanted: int) -> int:
    """Top the profile table up to `wanted` rows with COPY; return how many were added."""
    have = BusinessProfile.objects.count()
    if have >= wanted:
        return 0
    columns = _columns()
    names = ", ".join(connection.ops.quote_name(f.column) for f in columns)
    table = BusinessProfile._meta.db_table
    rng = random.Random(SEED + have)
    defaults = {f.attname: f.get_default() for f in columns}
    with (
        connection.cursor() as cursor,
        cursor.connection.cursor() as raw,
        raw.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
    ):
        for n, profile in enumerate(
            demo.synthetic_profiles(wanted - have, seed=SEED + have)
        ):
            values = {**defaults, **contract.to_columns(profile)}
            created = START + datetime.timedelta(seconds=rng.randrange(SPREAD_SECONDS))
            values["created_at"] = values["updated_at"] = created
            copy.write_row([values[f.attname] for f in columns])
            if n and n % 200_000 == 0:
                log(f"  {n:,} profiles written")
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")
    return wanted - have


def seed_results() -> int:
    """Give every profile a stored result for every programme; return rows added.

    Nothing to do (and no rematch of millions of rows) when they all have them.
    """
    wanted = BusinessProfile.objects.count() * len(store.current_catalogue().programmes)
    if StoredResult.objects.count() >= wanted:
        return 0
    report = sql.rematch(as_of=datetime.date(2020, 6, 15))
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {StoredResult._meta.db_table}")
    return report.total_created()


def seed(profiles: int) -> dict:
    """Migrate, load the shipped catalogue, and make sure the data is there."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("load_catalogue", verbosity=0)
    start = timezone.now()
    added = seed_profiles(profiles)
    if added:
        log(
            f"seeded {added:,} profiles in {(timezone.now() - start).total_seconds():.1f} s"
        )
    start = timezone.now()
    results = seed_results()
    if results:
        log(
            f"stored {results:,} results in {(timezone.now() - start).total_seconds():.1f} s"
        )
    # Runs leave dead rows behind (the rematch runs roll back); autovacuum may
    # be off or behind, so every run starts from vacuumed, analysed tables.
    with connection.cursor() as cursor:
        for model in (BusinessProfile, StoredResult):
            cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")
    return {
        "profiles": BusinessProfile.objects.count(),
        "stored_results": StoredResult.objects.count(),
        "programmes": len(store.current_catalogue().programmes),
    }
