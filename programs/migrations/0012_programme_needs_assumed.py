"""Which needs a programme addresses only by our reading of the sources.

The shipped catalogue's mappings the sources do not state are marked on
databases loaded before this field existed, where the need is still ticked.

SQLite adds a column with a default by rebuilding the table, which drops the
table's catalogue-revision triggers (migration 0006); they are put back, or
a cached catalogue would never see a programme change again.
"""

from django.db import migrations, models


#: Needs the shipped catalogue maps without a source saying so.
ASSUMED = {
    "pinduoduo-merchant-subsidy": ["digitisation", "fee_relief"],
    "jd-live-fee-cut": ["digitisation"],
}


def mark_assumed(apps, schema_editor):
    Programme = apps.get_model("programs", "Programme")
    for programme in Programme.objects.filter(slug__in=ASSUMED):
        assumed = [n for n in ASSUMED[programme.slug] if n in programme.needs]
        if assumed and not programme.needs_assumed:
            programme.needs_assumed = assumed
            programme.save(update_fields=["needs_assumed"])


def restore_sqlite_revision_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return  # PostgreSQL adds the column in place and keeps its triggers.
    for event in ("INSERT", "UPDATE", "DELETE"):
        schema_editor.execute(
            f"CREATE TRIGGER IF NOT EXISTS programs_programme_revision_{event.lower()}"
            f" AFTER {event} ON programs_programme BEGIN"
            " INSERT OR REPLACE INTO programs_cataloguerevision (id, token)"
            " VALUES (1, lower(hex(randomblob(16)))); END"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("programs", "0011_needs_are_not_rules"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalprogramme",
            name="needs_assumed",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Of the needs above, those the sources do not state: the owner is told they are our assumption.",
                verbose_name="needs addressed by our assumption",
            ),
        ),
        migrations.AddField(
            model_name="programme",
            name="needs_assumed",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Of the needs above, those the sources do not state: the owner is told they are our assumption.",
                verbose_name="needs addressed by our assumption",
            ),
        ),
        migrations.RunPython(
            restore_sqlite_revision_triggers, migrations.RunPython.noop
        ),
        migrations.RunPython(mark_assumed, migrations.RunPython.noop),
    ]
