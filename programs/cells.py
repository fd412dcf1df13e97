"""Spreadsheet cells that cannot run: the formula guard of every CSV.

XLSX needs none: its text cells are string cells, which a spreadsheet never
evaluates, so they keep the text as typed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

#: Text a spreadsheet may run as a formula when it starts a cell.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    """Return a cell's text, quoted with a leading ' if a spreadsheet would run it.

    Numbers pass through unchanged: a negative number is not a formula.
    """
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text
