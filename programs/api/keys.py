"""API keys for bulk screening: created and revoked by staff, stored as digests."""

from __future__ import annotations

import hmac
import secrets
from typing import TYPE_CHECKING

from django.utils import timezone

from programs.journey.kept import token_digest
from programs.models import ApiKey

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def api_key_create(*, name: str, created_by: User | None = None) -> tuple[ApiKey, str]:
    """Create an API key; return it and the key text, which is never stored."""
    prefix = secrets.token_hex(4)
    key = f"rm_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey.objects.create(
        name=name, prefix=prefix, key_hash=token_digest(key), created_by=created_by
    )
    return row, key


def api_key_check(key: str) -> ApiKey | None:
    """Return the active ApiKey for a presented key, or None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "rm" or not (8 <= len(key) <= 120):
        return None
    row = ApiKey.objects.filter(prefix=parts[1], revoked_at__isnull=True).first()
    if row is None or not hmac.compare_digest(row.key_hash, token_digest(key)):
        return None
    ApiKey.objects.filter(pk=row.pk).update(last_used_at=timezone.now())
    return row
