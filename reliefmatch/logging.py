"""
Log redaction: no private link, unsubscribe token, API key or email address in logs.

A kept profile is reached by its private link ``/r/<token>/`` and alert
emails carry ``/alerts/unsubscribe/<signed token>/``: whoever reads a log line
with either could open or change someone's data. Django's own loggers write
request paths ("Not Found: /r/<token>/", tracebacks of server errors), and
gunicorn's access log writes every path, so both pass through ``redact``.

* ``RedactSecrets`` is a logging filter for Django's handlers (``LOGGING`` in
  settings): it rewrites a record's message, traceback and stack text.
* ``GunicornLogger`` is gunicorn's ``logger_class`` (``gunicorn.conf.py``):
  it redacts every access-log atom (path, request line, query, referer,
  headers) and puts the same filter on gunicorn's error log.

This module imports nothing from Django, so gunicorn's master process can
load it before the application.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn import glogging  # no types: see pyproject

#: What a redacted token or email address is replaced with.
REDACTED = "[redacted]"

# A path separator, plain or percent-encoded (a path inside a query string).
_SLASH = r"(?:/|%2[fF])"
# A token runs to the next separator, query, fragment, space or quote.
_TOKEN = r"(?:(?!%2[fF])[^/?#&\s\"'<>])+"
_PRIVATE_PATHS = re.compile(
    rf"(?P<prefix>{_SLASH}(?:r|alerts{_SLASH}unsubscribe){_SLASH}){_TOKEN}"
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# API keys are rm_<8 hex prefix>_<secret>; the prefix alone names the key in the admin.
_API_KEY = re.compile(r"\b(?P<prefix>rm_[0-9a-f]{8}_)[\w-]+")


def redact(text: str) -> str:
    """Return text with tokens, API key secrets and email addresses replaced."""
    text = _PRIVATE_PATHS.sub(lambda m: m.group("prefix") + REDACTED, text)
    text = _API_KEY.sub(lambda m: m.group("prefix") + REDACTED, text)
    return _EMAIL.sub(REDACTED, text)


class RedactSecrets(logging.Filter):
    """Rewrite a record so no handler after this one sees a token or an email.

    The message is formatted once with its arguments and redacted, and the
    traceback text is cached redacted on the record, which formatters use in
    place of formatting ``exc_info`` again. Never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


#: One instance, so adding it to a handler twice is a no-op.
REDACT_SECRETS = RedactSecrets()


class GunicornLogger(glogging.Logger):
    """Gunicorn's logger with tokens and email addresses redacted from every line."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.addFilter(REDACT_SECRETS)

    def atoms(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any
    ) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            key: redact(value) if isinstance(value, str) else value
            for key, value in atoms.items()
        }
