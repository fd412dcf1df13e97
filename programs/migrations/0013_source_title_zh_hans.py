"""A source's title explained in Chinese, shown after the title on Chinese pages.

SQLite adds a column with a default by rebuilding the table, which drops the
table's catalogue-revision triggers (migration 0006); they are put back, or
a cached catalogue would never see a source change again.
"""

from django.db import migrations, models


def restore_sqlite_revision_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return  # PostgreSQL adds the column in place and keeps its triggers.
    for event in ("INSERT", "UPDATE", "DELETE"):
        schema_editor.execute(
            f"CREATE TRIGGER IF NOT EXISTS programs_source_revision_{event.lower()}"
            f" AFTER {event} ON programs_source BEGIN"
            " INSERT OR REPLACE INTO programs_cataloguerevision (id, token)"
            " VALUES (1, lower(hex(randomblob(16)))); END"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("programs", "0012_programme_needs_assumed"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalsource",
            name="title_zh_hans",
            field=models.CharField(
                blank=True,
                help_text="For a title in another language: shown after the title on Chinese pages. Leave blank for a Chinese title.",
                max_length=300,
                verbose_name="title explained in Chinese",
            ),
        ),
        migrations.AddField(
            model_name="source",
            name="title_zh_hans",
            field=models.CharField(
                blank=True,
                help_text="For a title in another language: shown after the title on Chinese pages. Leave blank for a Chinese title.",
                max_length=300,
                verbose_name="title explained in Chinese",
            ),
        ),
        migrations.RunPython(
            restore_sqlite_revision_triggers, migrations.RunPython.noop
        ),
    ]
