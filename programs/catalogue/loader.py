"""
Loading the catalogue file (``catalogue.toml``) into the database.

The file is validated with the rule language's own cleaning first, so a
wrong rule never reaches a row; programmes are matched by slug, so loading
twice changes nothing the second time.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from django.db import models, transaction

from programs.catalogue.store import (
    build_programme,
    programme_queryset,
    programme_rules,
)
from programs.engine import matching, rules
from programs.engine.contract import FIELDS
from programs.models import Criterion, Programme, Provider, Source

CATALOGUE_FILE = Path(__file__).resolve().parent / "catalogue.toml"


TEXT_FIELDS = (
    "name",
    "summary",
    "benefits",
    "apply_channel",
    "apply_steps",
    "discretionary",
)
PLAIN_FIELDS = (
    "apply_url",
    "announced_on",
    "opens_on",
    "closes_on",
    "closes_on_assumed",
    "last_verified_on",
    "days_to_money",
    "days_to_money_assumed",
    "max_amount_cny",
)


class CatalogueError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class LoadReport:
    version: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _programme_defaults(entry: Mapping[str, Any]) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        defaults[f"{name}_en"] = entry.get(f"{name}_en", "")
        defaults[f"{name}_zh_hans"] = entry.get(f"{name}_zh_hans", "")
    for name in PLAIN_FIELDS:
        # PLAIN_FIELDS are the programme's own columns, never relations.
        column = cast("models.Field[Any, Any]", Programme._meta.get_field(name))
        defaults[name] = entry.get(name, column.get_default())
    if defaults["apply_url"] is None:
        defaults["apply_url"] = ""
    if defaults["max_amount_cny"] is not None:
        defaults["max_amount_cny"] = Decimal(str(defaults["max_amount_cny"]))
    defaults["needs"] = sorted(entry.get("needs", []))
    defaults["needs_assumed"] = sorted(entry.get("needs_assumed", []))
    defaults["status"] = entry.get("status", Programme.Status.ACTIVE)
    return defaults


def _criterion_rows(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for c in entry.get("criteria", []):
        value = rules.clean_criterion_value(c["field"], c["operator"], c["value"])
        rows.append(
            {
                "field": c["field"],
                "operator": c["operator"],
                "value": rules.value_to_json(value),
                "group": c.get("group", 1),
                "required": c.get("required", True),
                "basis": c.get("basis", matching.Basis.DOCUMENTED),
                "explanation_en": c.get("explanation_en", ""),
                "explanation_zh_hans": c.get("explanation_zh_hans", ""),
            }
        )
    return rows


def _source_rows(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "title": s["title"],
            "title_zh_hans": s.get("title_zh_hans", ""),
            "url": s.get("url", ""),
            "published_on": s.get("published_on"),
            "confidence": s.get("confidence", ""),
        }
        for s in entry.get("sources", [])
    ]


def _validate_catalogue(data: Mapping[str, Any]) -> None:
    problems: list[str] = []
    providers = data.get("providers", {})
    seen: set[str] = set()
    need_codes = set(FIELDS["needs"].codes)
    for entry in data.get("programmes", []):
        slug = entry.get("slug", "?")
        if slug in seen:
            problems.append(f"{slug}: duplicate slug")
        seen.add(slug)
        if entry.get("provider") not in providers:
            problems.append(f"{slug}: unknown provider {entry.get('provider')!r}")
        if unknown := set(entry.get("needs", [])) - need_codes:
            problems.append(f"{slug}: unknown needs {sorted(unknown)}")
        if stray := set(entry.get("needs_assumed", [])) - set(entry.get("needs", [])):
            problems.append(f"{slug}: needs_assumed not in needs {sorted(stray)}")
        for i, c in enumerate(entry.get("criteria", []), start=1):
            try:
                rules.clean_criterion_value(c["field"], c["operator"], c["value"])
            except rules.RuleError as error:
                problems.append(f"{slug}: criterion {i}: {error.errors}")
    if problems:
        raise CatalogueError(problems)


@transaction.atomic
def load_catalogue(*, path: Path = CATALOGUE_FILE) -> LoadReport:
    """Insert or update providers and programmes by slug; never duplicate.

    A programme whose content already matches the file is left untouched, so
    running this twice writes nothing (and adds no history) the second time.
    """
    with path.open("rb") as fp:
        data = tomllib.load(fp)
    _validate_catalogue(data)
    report = LoadReport(version=str(data.get("version", "")))

    providers = {}
    for slug, p in data.get("providers", {}).items():
        provider, _ = Provider.objects.get_or_create(
            slug=slug, defaults={"name_en": p["name_en"], "kind": p["kind"]}
        )
        wanted = {
            "name_en": p["name_en"],
            "name_zh_hans": p.get("name_zh_hans", ""),
            "kind": p["kind"],
        }
        if any(getattr(provider, k) != v for k, v in wanted.items()):
            for k, v in wanted.items():
                setattr(provider, k, v)
            provider.save()
        providers[slug] = provider

    existing = {row.slug: row for row in programme_queryset()}
    for entry in data.get("programmes", []):
        slug = entry["slug"]
        defaults = _programme_defaults(entry)
        criteria = _criterion_rows(entry)
        sources = _source_rows(entry)
        row = existing.get(slug)
        if row is None:
            row = Programme(
                slug=slug, provider=providers[entry["provider"]], **defaults
            )
            row.full_clean()
            row.save()
            report.created.append(slug)
        else:
            before = programme_rules(row).to_dict()
            candidate = build_programme(
                Programme(slug=slug, provider=providers[entry["provider"]], **defaults),
                [Criterion(**c) for c in criteria],
                [Source(**s) for s in sources],
            ).to_dict()
            if candidate == before:
                report.unchanged.append(slug)
                continue
            row.provider = providers[entry["provider"]]
            for k, v in defaults.items():
                setattr(row, k, v)
            row.full_clean()
            row.save()
            for old in list(row.criteria.all()):
                old.delete()
            for old_source in list(row.sources.all()):
                old_source.delete()
            report.updated.append(slug)
        # One by one, not bulk_create, so the history records every row.
        for c in criteria:
            Criterion.objects.create(programme=row, **c)
        for s in sources:
            Source.objects.create(programme=row, **s)
    return report
