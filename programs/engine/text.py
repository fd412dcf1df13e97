"""Bilingual texts, and values written the way a reader reads them."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import get_language, gettext


@dataclass(frozen=True)
class Text:
    """A bilingual text: English and Simplified Chinese."""

    en: str = ""
    zh: str = ""

    def __str__(self) -> str:
        return self.zh if is_chinese() and self.zh else self.en

    def __bool__(self) -> bool:
        return bool(self.en or self.zh)


def is_chinese() -> bool:
    """Return whether the active language is Chinese."""
    return (get_language() or "en").startswith("zh")


def list_separator() -> str:
    """Return the separator for a list of values in the active language."""
    return "、" if is_chinese() else ", "


def either(items: list[str]) -> str:
    """Return alternatives as a reader says them: "A, B or C", "A、B或C"."""
    if len(items) < 2:
        return "".join(items)
    return gettext("%(items)s or %(last)s") % {
        "items": list_separator().join(items[:-1]),
        "last": items[-1],
    }


def together(items: list[str]) -> str:
    """Return items that all hold as a reader says them: "A, B and C", "A、B和C"."""
    if len(items) < 2:
        return "".join(items)
    return gettext("%(items)s and %(last)s") % {
        "items": list_separator().join(items[:-1]),
        "last": items[-1],
    }


#: What makes a label read as a list of its own: "Street stall or market
#: stall", "俄罗斯和中亚". In a list of several, such a label is quoted.
_LIST_WORDS = (",", "、", "，", " or ", "或", " and ", "和")


def quoted_items(items: list[str]) -> list[str]:
    """Return labels for a list, quoting those that would read as lists themselves.

    "“Street stall or market stall” or Retail shop", not "Street stall or
    market stall or Retail shop"; a single label is never quoted.
    """
    if len(items) < 2:
        return list(items)
    return [
        f"“{item}”" if any(word in item for word in _LIST_WORDS) else item
        for item in items
    ]


def format_number(value: Decimal | int) -> str:
    """Return a number with thousands separators and no trailing zeros."""
    if isinstance(value, Decimal):
        value = value.normalize() + 0
        return f"{value:,f}"
    return f"{value:,}"


def jsonable(value: Any) -> Any:
    """Return a value as JSON data: decimals as numbers, sets sorted, dates ISO."""
    if isinstance(value, Decimal):
        value = value.normalize() + 0
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Text):
        return {"en": value.en, "zh_hans": value.zh}
    return value
