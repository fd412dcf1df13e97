"""
The session store (``SESSION_ENGINE``): Django's database sessions, with keys
checked before they reach the database.

Django accepts any session cookie of 8 characters or more as a key to look up.
A cookie such as ``sessionid="\\000\\000\\000\\000\\000\\000\\000\\000"`` is
unquoted into eight NUL characters, which PostgreSQL refuses in text: the
lookup failed and the admin answered 500. Django only ever makes keys of
lowercase letters and digits (``VALID_KEY_CHARS``, 32 of them; the column
holds 40), so any other cookie is treated as no session at all, without a
query, on every database.
"""

from __future__ import annotations

from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore

#: Django's own shortest key, and the longest the session table holds.
MIN_KEY_LENGTH, MAX_KEY_LENGTH = 8, 40
_KEY_CHARS = frozenset(VALID_KEY_CHARS)


class SessionStore(DatabaseSessionStore):
    """Database sessions that ignore a cookie which is not a key Django could make."""

    def _validate_session_key(self, key: str | None) -> bool:
        return (
            key is not None
            and MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH
            and _KEY_CHARS.issuperset(key)
        )
