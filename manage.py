#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reliefmatch.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 (loads the settings, which check the environment)
    except ImproperlyConfigured as error:
        # A variable the environment must set, or set differently: say which, no traceback.
        sys.exit(f"Cannot start: {error}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
