"""The 「ふりがな」 switch in real headless Chromium on a 390×844 phone (issue 18).

Turned on, every bot bubble — those already shown and new ones — shows readings over kanji
(``ruby rt``) without a reload; the choice survives a reload; turned off, the readings go.
Without JavaScript the same switch is a form. The screenshot docs/screenshots/web-chat-furigana.png
(with RISTAPO_UPDATE_SCREENSHOTS=1) shows an answer with readings on a phone.
"""
from __future__ import annotations

import pytest

from tests.axe_support import serious_violations
from tests.browser_support import shots_dir
from tests.e2e.test_browser_chat import (  # noqa: F401
    HOUSING,
    PHONE,
    _consent,
    _mark,
    _no_sideways_scroll,
    _phone,
    _same_document,
    browser,
    server,
)

pytestmark = pytest.mark.browser

SCREENSHOT = shots_dir() / "web-chat-furigana.png"


def _rt(page, base: str):
    return page.locator(".bubble.bot ruby", has_text=base).first.locator("rt")


def test_the_furigana_switch_shows_readings_over_kanji_in_place(server, browser):
    page = _phone(browser)
    page.goto(server["url"] + "/chat")
    _mark(page)
    _consent(page)
    box = page.get_by_label("メッセージ")
    box.fill(HOUSING)
    page.get_by_role("button", name="送る").click()
    page.locator('.bubble[data-kind="answer"]').first.wait_for()
    assert page.locator("ruby").count() == 0
    assert page.locator(".choices button", has_text="ふりがな").count() == 0  # the switch replaces the quick reply

    switch = page.get_by_role("button", name="ふりがな")
    box_ = switch.bounding_box()
    assert box_["height"] >= 44 and box_["x"] >= 0 and box_["x"] + box_["width"] <= PHONE["width"]
    assert switch.get_attribute("aria-pressed") == "false"
    switch.click()
    assert switch.get_attribute("aria-pressed") == "true"
    rt = _rt(page, "更生保護施設")
    rt.wait_for()  # the answer already shown is rendered again with readings
    assert rt.inner_text() == "こうせいほごしせつ" and rt.is_visible()
    assert _rt(page, "更生緊急保護").inner_text() == "こうせいきんきゅうほご"
    assert _same_document(page)
    assert page.evaluate("localStorage.getItem('ristapo-furigana')") == "1"
    # readings big enough to read, lines tall enough for them, nothing sideways
    assert float(rt.evaluate("el => getComputedStyle(el).fontSize").removesuffix("px")) >= 11
    assert _no_sideways_scroll(page)

    # a new answer comes with readings too
    before = page.locator('.bubble[data-kind="answer"]').count()
    box.fill("保護司って何")
    page.get_by_role("button", name="送る").click()
    page.wait_for_function("n => document.querySelectorAll('.bubble[data-kind=answer]').length > n", arg=before)
    newest = page.locator('.bubble[data-kind="answer"]').last
    assert newest.locator("rt").count() > 0 and newest.locator("rt").first.is_visible()
    assert _same_document(page)
    assert serious_violations(page) == []

    newest.evaluate("el => el.scrollIntoView({block: 'start'})")
    page.locator('.bubble[data-kind="answer"]').first.evaluate("el => el.scrollIntoView({block: 'start'})")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000

    # remembered: a reload keeps it on
    page.reload()
    assert page.get_by_role("button", name="ふりがな").get_attribute("aria-pressed") == "true"
    assert _rt(page, "更生保護施設").is_visible()

    # off: no reload, the readings go
    _mark(page)
    page.get_by_role("button", name="ふりがな").click()
    assert page.get_by_role("button", name="ふりがな").get_attribute("aria-pressed") == "false"
    assert not page.locator("rt").first.is_visible()
    assert _same_document(page)
    assert page.evaluate("localStorage.getItem('ristapo-furigana')") == "0"
    page.context.close()


def test_the_switch_works_without_javascript(server, browser):
    page = _phone(browser, touch=False, javascript=False)
    page.goto(server["url"] + "/chat")
    with page.expect_navigation():
        page.locator('[data-kind="consent"]').get_by_role("button", name="同意する").click()
    page.get_by_label("メッセージ").fill(HOUSING)
    with page.expect_navigation():
        page.get_by_role("button", name="送る").click()
    with page.expect_navigation():
        page.get_by_role("button", name="ふりがな").click()
    assert page.get_by_role("button", name="ふりがな").get_attribute("aria-pressed") == "true"
    rt = _rt(page, "自立準備")
    assert rt.inner_text() == "じりつじゅんび" and rt.is_visible()
    with page.expect_navigation():
        page.get_by_role("button", name="ふりがな").click()
    assert page.locator("ruby").count() == 0
    page.context.close()
