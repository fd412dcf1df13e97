"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.utils import translation

from programs.catalogue import loader


@pytest.fixture
def catalogue():
    """The shipped catalogue, loaded into the test database (tests mark django_db)."""
    loader.load_catalogue()


@pytest.fixture(autouse=True)
def default_language() -> Iterator[None]:
    """Start every test in the default language, whatever the test before left.

    A request through the test client activates the language it asked for
    and nothing deactivates it, so without this a Chinese request leaks
    into the next test's management command or rendering.
    """
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)
