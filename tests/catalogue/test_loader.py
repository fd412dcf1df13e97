"""Loading the catalogue file and reading it back as plain data."""

from __future__ import annotations

import re

import pytest
from django.utils import translation

from programs.catalogue import loader, store
from programs.engine.text import Text
from programs.models import Criterion, Programme, Provider
from tests.builders import SMALL_CATALOGUE

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue_file(tmp_path):
    path = tmp_path / "catalogue.toml"
    path.write_text(SMALL_CATALOGUE, encoding="utf-8")
    return path


def test_load_creates_programmes_with_rules_and_sources(catalogue_file):
    report = loader.load_catalogue(path=catalogue_file)
    assert report.created == ["acme-loans"]
    programme = Programme.objects.get(slug="acme-loans")
    assert programme.provider.name_zh_hans == "阿克米银行"
    assert [
        (c.field, c.operator, c.value, c.required) for c in programme.criteria.all()
    ] == [
        ("size_class", "one_of", ["micro", "small"], True),
        ("province", "equals", "CN-HB", True),
        ("platforms", "contains_any", ["alipay_merchant"], False),
    ]
    assert [s.confidence for s in programme.sources.all()] == ["H", "L"]


def test_loading_twice_changes_nothing_and_adds_no_history(catalogue_file):
    loader.load_catalogue(path=catalogue_file)
    history_rows = Criterion.history.count() + Programme.history.count()
    report = loader.load_catalogue(path=catalogue_file)
    assert report.unchanged == ["acme-loans"]
    assert report.created == report.updated == []
    assert Programme.objects.count() == 1
    assert Provider.objects.count() == 1
    assert Criterion.objects.count() == 3
    assert Criterion.history.count() + Programme.history.count() == history_rows


def test_changed_file_updates_by_slug_without_duplicates(catalogue_file):
    loader.load_catalogue(path=catalogue_file)
    version_before = store.current_catalogue().version
    catalogue_file.write_text(
        SMALL_CATALOGUE.replace('"small"]', '"small", "medium"]'), encoding="utf-8"
    )
    report = loader.load_catalogue(path=catalogue_file)
    assert report.updated == ["acme-loans"]
    assert Programme.objects.count() == 1
    assert Criterion.objects.count() == 3
    assert Criterion.objects.get(field="size_class").value == [
        "medium",
        "micro",
        "small",
    ]
    assert store.current_catalogue().version != version_before


def test_catalogue_with_a_bad_rule_loads_nothing(catalogue_file):
    catalogue_file.write_text(
        SMALL_CATALOGUE.replace('"micro", "small"', '"micro", "tiny"'), encoding="utf-8"
    )
    with pytest.raises(loader.CatalogueError, match="acme-loans: criterion 1"):
        loader.load_catalogue(path=catalogue_file)
    assert Programme.objects.count() == 0
    assert Provider.objects.count() == 0


def test_current_catalogue_reads_plain_data_in_a_fixed_number_of_queries(
    catalogue_file, django_assert_num_queries
):
    loader.load_catalogue(path=catalogue_file)
    with django_assert_num_queries(4):  # the revision, then the rows
        catalogue = store.current_catalogue()
    with django_assert_num_queries(1):  # unchanged: only the revision
        assert store.current_catalogue() is catalogue
    [programme] = catalogue.programmes
    assert programme.name == Text("Acme loans", "阿克米贷款")
    assert programme.criteria[0].value == ("micro", "small")
    assert [s.title for s in programme.sources] == [
        "Acme press release",
        "Undated blog post",
    ]


def test_shipped_catalogue_loads_once_and_then_is_unchanged():
    first = loader.load_catalogue()
    second = loader.load_catalogue()
    assert second.created == second.updated == []
    assert sorted(second.unchanged) == sorted(first.created)


def test_shipped_catalogue_loads_and_every_rule_is_valid():
    report = loader.load_catalogue()
    slugs = set(report.created)
    assert {
        "alibaba-spring-thunder-export",
        "alibaba-spring-thunder-domestic",
        "mybank-contact-free-loans",
        "alibaba-cloud-partner-support",
        "jd-spark",
        "jd-retail-digitisation",
    } <= slugs
    assert len(slugs) >= 14
    catalogue = store.current_catalogue()
    for programme in catalogue.programmes:
        assert programme.name.en, programme.slug
        assert programme.name.zh, programme.slug
        assert programme.sources, programme.slug
        assert programme.criteria, programme.slug
        # Every programme ran in 2020 and has ended: it must have an end date,
        # documented or marked as assumed. A start date may be undocumented.
        assert programme.closes_on is not None, programme.slug


def test_no_shipped_programme_is_open_before_a_date_it_is_documented_from():
    loader.load_catalogue()
    undated = [
        p.slug for p in store.current_catalogue().programmes if p.opens_on is None
    ]
    assert undated == []


def test_a_need_marked_as_our_assumption_must_be_one_the_programme_addresses(
    catalogue_file,
):
    catalogue_file.write_text(
        SMALL_CATALOGUE.replace(
            'slug = "acme-loans"', 'slug = "acme-loans"\nneeds_assumed = ["training"]'
        ),
        encoding="utf-8",
    )
    with pytest.raises(loader.CatalogueError, match="needs_assumed not in needs"):
        loader.load_catalogue(path=catalogue_file)
    assert Programme.objects.count() == 0


def test_shipped_needs_the_sources_do_not_state_are_marked_as_our_assumption():
    loader.load_catalogue()
    catalogue = store.current_catalogue()
    assumed = {p.slug: p.needs_assumed for p in catalogue.programmes if p.needs_assumed}
    assert assumed == {
        "pinduoduo-merchant-subsidy": frozenset({"fee_relief", "digitisation"}),
        "jd-live-fee-cut": frozenset({"digitisation"}),
    }
    for programme in catalogue.programmes:
        assert programme.needs_assumed <= programme.needs, programme.slug


def test_the_vat_cut_carries_the_small_scale_standard_with_its_source():
    loader.load_catalogue()
    vat = store.current_catalogue().get("gov-small-taxpayer-vat")
    assert vat is not None
    assert any("财税〔2018〕33号" in s.title for s in vat.sources)
    [rule] = [c for c in vat.criteria if c.field == "vat_small_scale"]
    assert "RMB 5 million or less" in rule.explanation.en
    assert "财税〔2018〕33号" in rule.explanation.zh


def test_a_source_title_keeps_its_original_and_gains_a_chinese_explanation(
    catalogue_file,
):
    catalogue_file.write_text(
        SMALL_CATALOGUE.replace(
            'title = "Acme press release"',
            'title = "Acme press release"\n      title_zh_hans = "阿克米银行新闻稿"',
        ),
        encoding="utf-8",
    )
    loader.load_catalogue(path=catalogue_file)
    source = store.current_catalogue().get("acme-loans").sources[0]
    assert (source.title, source.title_zh) == ("Acme press release", "阿克米银行新闻稿")
    assert source.shown_title == "Acme press release"
    with translation.override("zh-hans"):
        assert source.shown_title == "Acme press release（阿克米银行新闻稿）"


def test_every_shipped_source_not_titled_in_chinese_is_explained_in_chinese():
    loader.load_catalogue()
    for programme in store.current_catalogue().programmes:
        for source in programme.sources:
            chinese = re.search(r"[\u4e00-\u9fff]", source.title)
            assert source.title_zh or chinese, (programme.slug, source.title)
            assert "Seed article" not in source.title  # our notes, not a title
