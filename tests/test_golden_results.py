"""The shipped catalogue's answers for the realistic profiles, pinned.

A refactoring must not change what any owner is told: every profile in
``tests/profiles/`` is matched as of 15 June 2020 in English and Chinese and
compared, reasons and all, with ``tests/golden/results.json``. When a change
is meant to alter answers, regenerate the file with
``UPDATE_GOLDEN=1 make test PYTEST_ARGS=tests/test_golden_results.py`` and
review its diff.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import translation

from programs.catalogue import loader
from tests.builders import PROFILES

GOLDEN = Path(__file__).parent / "golden" / "results.json"

pytestmark = pytest.mark.django_db


def current_answers() -> dict[str, dict]:
    loader.load_catalogue()
    answers = {}
    for path in sorted(PROFILES.glob("*.json")):
        for language in ("en", "zh-hans"):
            out = io.StringIO()
            with translation.override(language):
                call_command(
                    "match",
                    str(path),
                    "--format",
                    "json",
                    "--as-of",
                    "2020-06-15",
                    stdout=out,
                )
            answers[f"{path.stem}:{language}"] = json.loads(out.getvalue())
    return answers


def test_realistic_profiles_get_the_pinned_answers_in_both_languages():
    answers = current_answers()
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(
            json.dumps(answers, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
            encoding="utf-8",
        )
    pinned = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(answers) == sorted(pinned)
    for key, answer in answers.items():
        assert answer == pinned[key], key
