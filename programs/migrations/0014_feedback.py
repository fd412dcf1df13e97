"""Owners' wrong-answer reports, and scenarios saved in the admin."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("programs", "0013_source_title_zh_hans"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="WrongAnswerReport",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("sentence", models.TextField(max_length=1000, verbose_name="what looks wrong")),
                ("consented", models.BooleanField(default=False, verbose_name="answers kept with consent")),
                ("as_of", models.DateField(verbose_name="as of")),
                ("catalogue_version", models.CharField(max_length=12, verbose_name="catalogue version")),
                ("catalogue_edition", models.CharField(blank=True, max_length=100, verbose_name="catalogue edition")),
                ("language", models.CharField(blank=True, max_length=16, verbose_name="language")),
                ("profile", models.JSONField(blank=True, null=True, verbose_name="answers")),
                ("shown", models.JSONField(blank=True, null=True, verbose_name="result as shown")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="sent at")),
                (
                    "kept_profile",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="wrong_answer_reports",
                        to="programs.businessprofile",
                        verbose_name="kept profile",
                    ),
                ),
                (
                    "programme",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="wrong_answer_reports",
                        to="programs.programme",
                        verbose_name="programme",
                    ),
                ),
            ],
            options={
                "verbose_name": "wrong-answer report",
                "verbose_name_plural": "wrong-answer reports",
                "ordering": ["-created_at", "-pk"],
                "indexes": [models.Index(fields=["programme", "-created_at"], name="wrongreport_prog")],
            },
        ),
        migrations.CreateModel(
            name="SavedScenario",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.SlugField(max_length=80, verbose_name="name")),
                ("description", models.CharField(max_length=300, verbose_name="description")),
                ("as_of", models.DateField(verbose_name="as of")),
                ("profile", models.JSONField(verbose_name="answers")),
                (
                    "expected",
                    models.CharField(
                        choices=[
                            ("eligible", "eligible"),
                            ("possibly_eligible", "possibly eligible"),
                            ("near_miss", "near miss"),
                            ("not_eligible", "not eligible"),
                        ],
                        max_length=20,
                        verbose_name="expected tier",
                    ),
                ),
                ("decided_by", models.CharField(blank=True, max_length=40, verbose_name="decided by")),
                (
                    "availability",
                    models.CharField(
                        blank=True,
                        choices=[("open", "open"), ("not_yet_open", "not yet open"), ("closed", "closed")],
                        max_length=16,
                        verbose_name="availability",
                    ),
                ),
                ("fact", models.CharField(max_length=500, verbose_name="fact or reason")),
                ("source", models.CharField(max_length=300, verbose_name="source")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="made at")),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="made by",
                    ),
                ),
                (
                    "programme",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="saved_scenarios",
                        to="programs.programme",
                        verbose_name="programme",
                    ),
                ),
                (
                    "report",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="scenarios",
                        to="programs.wronganswerreport",
                        verbose_name="from report",
                    ),
                ),
            ],
            options={
                "verbose_name": "saved scenario",
                "verbose_name_plural": "saved scenarios",
                "ordering": ["programme", "name"],
                "constraints": [
                    models.UniqueConstraint(fields=("programme", "name"), name="saved_scenario_name_per_programme")
                ],
            },
        ),
    ]
