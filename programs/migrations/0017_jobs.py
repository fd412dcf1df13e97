import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("programs", "0015_source_checks"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="BackgroundJob",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(choices=[("recompute", "recompute stored results"), ("alerts", "send match alerts")], max_length=16, verbose_name="job")),
                ("state", models.CharField(choices=[("queued", "waiting for a worker"), ("running", "running"), ("done", "done"), ("failed", "failed")], default="queued", max_length=8, verbose_name="state")),
                ("task_id", models.CharField(blank=True, max_length=64, verbose_name="task id")),
                ("done", models.PositiveBigIntegerField(default=0, verbose_name="done so far")),
                ("total", models.PositiveBigIntegerField(blank=True, null=True, verbose_name="total")),
                ("figures", models.JSONField(blank=True, default=dict, verbose_name="figures")),
                ("enqueued_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="requested at")),
                ("started_at", models.DateTimeField(blank=True, null=True, verbose_name="started at")),
                ("finished_at", models.DateTimeField(blank=True, null=True, verbose_name="finished at")),
                ("programme", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="jobs", to="programs.programme", verbose_name="programme")),
                ("requested_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL, verbose_name="requested by")),
            ],
            options={
                "verbose_name": "background job",
                "verbose_name_plural": "background jobs",
                "ordering": ["-enqueued_at", "-pk"],
                "indexes": [models.Index(fields=["state"], name="job_state")],
            },
        ),
    ]
