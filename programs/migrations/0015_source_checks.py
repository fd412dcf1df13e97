import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("programs", "0014_feedback"),
    ]

    operations = [
        migrations.CreateModel(
            name="LinkCheck",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(choices=[("source", "source"), ("apply", "application link")], max_length=8, verbose_name="kind")),
                ("url", models.CharField(max_length=300, verbose_name="address")),
                ("status_code", models.PositiveSmallIntegerField(blank=True, null=True, verbose_name="HTTP status")),
                ("error", models.CharField(blank=True, choices=[("timeout", "timed out"), ("dns", "domain name not found"), ("tls", "secure connection (TLS) failed"), ("refused", "connection refused"), ("invalid", "not a web address"), ("other", "could not be loaded")], max_length=8, verbose_name="error")),
                ("error_detail", models.CharField(blank=True, max_length=300, verbose_name="error detail")),
                ("final_url", models.CharField(blank=True, max_length=2000, verbose_name="final address")),
                ("content_hash", models.CharField(blank=True, max_length=64, verbose_name="content hash")),
                ("checked_at", models.DateTimeField(verbose_name="checked at")),
                ("verified_hash", models.CharField(blank=True, max_length=64, verbose_name="content hash when verified")),
                ("verified_at", models.DateTimeField(blank=True, null=True, verbose_name="verified at")),
                ("programme", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="link_checks", to="programs.programme", verbose_name="programme")),
            ],
            options={
                "verbose_name": "link check",
                "verbose_name_plural": "link checks",
                "ordering": ["programme", "kind", "url"],
                "constraints": [models.UniqueConstraint(fields=("programme", "kind", "url"), name="one_check_per_link")],
            },
        ),
    ]
