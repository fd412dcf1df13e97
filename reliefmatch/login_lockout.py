"""
Admin login lockouts per address as well as per username (django-axes' handler).

django-axes counts failures by the groups in AXES_LOCKOUT_PARAMETERS against
one AXES_FAILURE_LIMIT. Ours is username and address together (an attacker
cannot lock a real admin out from elsewhere), which alone lets one address
try a few passwords on each of many usernames: password spraying. This
handler adds a second, higher limit per address, over all usernames:
AXES_ADDRESS_FAILURE_LIMIT. Past it the address counts as locked out, so
every login from it is refused (429, the same page) until the failures are
older than the cool-off, the same as a username's lockout.
"""

from __future__ import annotations

from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_ip_address, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest


def address_failures(request: HttpRequest, ip_address: str | None) -> int:
    """Return one address's failed logins within the cool-off, over every username."""
    if not ip_address:
        return 0
    total = (
        AccessAttempt.objects.filter(
            ip_address=ip_address, attempt_time__gte=get_cool_off_threshold(request)
        )
        .aggregate(total=Sum("failures_since_start"))
        .get("total")
    )
    return total or 0


class AddressAwareDatabaseHandler(AxesDatabaseHandler):
    """django-axes' database handler, also locking out an address past its own limit."""

    def get_failures(self, request: HttpRequest, credentials: Any = None) -> int:
        failures = super().get_failures(request, credentials)
        address = getattr(request, "axes_ip_address", None) or get_client_ip_address(
            request
        )
        if address_failures(request, address) >= settings.AXES_ADDRESS_FAILURE_LIMIT:
            # As many as a lockout needs: axes then refuses and answers as it
            # does for one username, with the same page and Retry-After.
            return max(failures, get_failure_limit(request, credentials))
        return failures
