"""Load the demo data and (re)create the demo admin account, for local use only."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from programs import demo
from programs.engine import contract, sql
from programs.models import BusinessProfile


class Command(BaseCommand):
    help = (
        "Load the programme catalogue and 300 synthetic business profiles (once), and "
        "create the demo admin account 'admin'. "
        "The password comes from DEMO_ADMIN_PASSWORD or is generated and printed. "
        "Refuses to run unless DEBUG is on."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument(
            "--profiles",
            type=int,
            default=300,
            help="synthetic profiles to add when there are none",
        )

    def handle(self, *args: Any, username: str, profiles: int, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "setup_demo creates a demo admin account and only runs with DJANGO_DEBUG=1."
            )
        call_command(
            "load_catalogue", verbosity=options["verbosity"], stdout=self.stdout
        )
        if not BusinessProfile.objects.exists():
            BusinessProfile.objects.bulk_create(
                BusinessProfile(**contract.to_columns(p))
                for p in demo.synthetic_profiles(profiles)
            )
            self.stdout.write(f"Added {profiles} synthetic business profiles.")
        report = sql.rematch()
        if report.total_created() or report.total_changed():
            self.stdout.write(
                f"Stored results: {report.total_created()} added, {report.total_changed()} changed."
            )

        password = os.environ.get("DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"email": "admin@example.com"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()

        lines = [
            "",
            "ReliefMatch is ready.",
            # SITE_URL: `make run` sets it from its HOST and PORT.
            f"  Open      {settings.SITE_URL}/",
            f"  Admin     {settings.SITE_URL}{reverse('admin:index')}",
            f"  Username  {username}",
            f"  Password  {password}"
            + (
                ""
                if "DEMO_ADMIN_PASSWORD" in os.environ
                else "  (new each run; set DEMO_ADMIN_PASSWORD to choose one)"
            ),
            "",
        ]
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))
