"""The committed .mo catalogue matches the .po and covers every string."""

from __future__ import annotations

from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.utils import translation

PO_PATH = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
PO = polib.pofile(str(PO_PATH))


def test_every_chinese_message_is_translated_and_not_fuzzy():
    assert PO.untranslated_entries() == []
    assert PO.fuzzy_entries() == []


def test_compiled_catalogue_is_committed_beside_the_po_file():
    # Fresh machines may lack GNU gettext, so the .mo file ships in the repo.
    assert PO_PATH.with_suffix(".mo").is_file()


@pytest.mark.parametrize(
    "entry",
    [e for e in PO if not e.msgid_plural and not e.obsolete],
    ids=lambda e: e.msgid[:40],
)
def test_compiled_catalogue_matches_the_po_file(entry):
    with translation.override("zh-hans"):
        if entry.msgctxt:
            got = translation.pgettext(entry.msgctxt, entry.msgid)
        else:
            got = translation.gettext(entry.msgid)
    assert got == entry.msgstr, "run `make messages` to recompile locale/"
