"""An editor in a real browser: value inputs follow the chosen field; preview, then save."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from programs.catalogue import loader
from programs.models import Criterion, Programme
from tests.browser.conftest import DESKTOP, new_page, screenshot
from tests.test_admin_preview import add_domestic_share_threshold

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def editor():
    loader.load_catalogue()
    add_domestic_share_threshold()  # the rule the issue found deciding nothing
    return User.objects.create_superuser("editor", password="correct horse battery")


def test_editor_sees_the_chosen_fields_inputs_previews_a_change_and_saves_it(
    browser, live_server, editor
):
    programme = Programme.objects.get(slug="alibaba-spring-thunder-domestic")
    share = programme.criteria.get(field="export_share_pct")
    index = list(programme.criteria.values_list("pk", flat=True)).index(share.pk)
    prefix = f"criteria-{index}-"
    page = new_page(browser, viewport=DESKTOP, language="zh-hans")
    page.goto(live_server.url + "/admin/")
    page.fill("#id_username", "editor")
    page.fill("#id_password", "correct horse battery")
    page.click("input[type=submit]")
    page.goto(live_server.url + f"/admin/programs/programme/{programme.pk}/change/")

    widget = page.locator(f"#id_{prefix}field").locator(
        "xpath=ancestor::div[contains(@class, 'inline-related')]"
    )
    visible = widget.locator("[data-field]:visible")
    assert visible.count() == 1
    assert visible.get_attribute("data-field") == "export_share_pct"
    number = page.locator(f"input[name='{prefix}value__export_share_pct']")
    assert number.input_value() == "10"
    # "between" only: the high end stays hidden for "is at least".
    assert not page.locator(
        f"input[name='{prefix}value__export_share_pct__high']"
    ).is_visible()

    page.select_option(f"#id_{prefix}field", "export_markets")
    assert visible.get_attribute("data-field") == "export_markets"
    assert widget.get_by_label("非洲").first.is_visible()
    page.select_option(f"#id_{prefix}field", "export_share_pct")

    number.fill("30")
    page.click("input[name=_preview]")
    preview = page.locator(".rule-preview")
    preview.wait_for()  # the preview is a new page: wait for it to load
    assert preview.is_visible()
    assert "不会改变任何结果" in preview.inner_text()
    assert (
        page.locator(f"input[name='{prefix}value__export_share_pct']").input_value()
        == "30"
    )
    assert Criterion.objects.get(pk=share.pk).value == "10"
    screenshot(page, "rule-preview-desktop-zh")

    page.click("input[name=_save]")
    page.wait_for_load_state()  # the save answers with the next page
    assert Criterion.objects.get(pk=share.pk).value == "30"
