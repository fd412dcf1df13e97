"""
Owners' wrong-answer reports: what a report keeps, with consent and without.

Every report keeps the owner's sentence, the programme, the as-of date and
the catalogue the answer came from (its version and its edition as the
owner read it). Only when the owner ticks the consent box does it also keep
their answers (``Profile.to_dict()``) and the programme's result as their
card showed it (``shown``). The result is worked out again from the answers
and the date, against the same catalogue the page is built from, so it is
the one the owner saw unless the catalogue changed in between (then the
version says which one it was worked out with).
"""

from __future__ import annotations

from typing import Any

from programs.catalogue.store import Catalogue
from programs.engine import matching
from programs.models import BusinessProfile, WrongAnswerReport


def shown(match: matching.ProgrammeMatch) -> dict[str, Any]:
    """Return a programme's result as its card shows it, in the active language."""
    return {
        "tier": str(match.tier),
        "outcome": str(match.outcome),
        "near_miss": match.near_miss,
        "availability": str(match.availability),
        "provider_decides": match.provider_decides,
        "reasons": [
            {"state": mark or "neutral", "text": str(text)}
            for condition in match.conditions
            for mark, text, _criterion in condition.lines
        ],
        "actions": [str(action) for action in match.actions],
        "questions": list(match.questions),
    }


def report_create(
    *,
    report: matching.MatchReport,
    catalogue: Catalogue,
    slug: str,
    sentence: str,
    consented: bool,
    language: str,
    kept_profile: BusinessProfile | None = None,
) -> WrongAnswerReport:
    """Keep an owner's report on one programme of their results.

    `report` is their results, worked out with `catalogue`; `slug` names a
    programme in both (the caller checks). Without consent no answer and
    nothing worked out from them is kept, nor the link to a kept profile.
    """
    match = next(m for m in report.matches if m.programme.slug == slug)
    return WrongAnswerReport.objects.create(
        programme_id=catalogue.ids[slug],
        kept_profile=kept_profile if consented else None,
        sentence=sentence,
        consented=consented,
        as_of=report.as_of,
        catalogue_version=report.catalogue_version,
        catalogue_edition=catalogue.edition,
        language=language,
        profile=report.profile.to_dict() if consented else None,
        shown=shown(match) if consented else None,
    )
