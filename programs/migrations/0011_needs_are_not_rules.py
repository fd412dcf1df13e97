"""Needs decide relevance, never eligibility: rules on needs go.

A programme says which needs it addresses (``Programme.needs``); a rule on
the owner's stated needs would turn a wish into a condition. The rule
language no longer accepts one (and the catalogue would fail to compile with
one), so existing rows are removed; their earlier history rows stay.
"""

from django.db import migrations


def delete_needs_rules(apps, schema_editor):
    Criterion = apps.get_model("programs", "Criterion")
    Criterion.objects.filter(field="needs").delete()


class Migration(migrations.Migration):
    dependencies = [("programs", "0010_profile_bank_credit")]

    operations = [
        migrations.RunPython(delete_needs_rules, migrations.RunPython.noop),
    ]
