"""The crisis reply fits one phone screen (390 × 844) in the web chat, in real headless Chromium.

Issue 14 §2: a person in danger must see the kind line, 110/119 and the free 24-hour lines
without scrolling inside one message. Same harness as tests/e2e/test_browser_chat.py.
"""
from __future__ import annotations

import pytest

from tests.browser_support import shots_dir
from tests.e2e.test_browser_chat import PHONE, _consent, _phone, browser, server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

SCREENSHOT = shots_dir() / "crisis-reply.png"


def test_the_crisis_reply_fits_one_phone_screen(server, browser):
    page = _phone(browser)
    page.goto(server["url"] + "/chat")
    _consent(page)
    page.get_by_label("メッセージ").fill("もう死にたい")
    page.get_by_role("button", name="送る").click()

    reply = page.locator('[data-kind="crisis"]').last
    reply.wait_for(state="visible")
    text = reply.inner_text()
    assert text.index("110") < text.index("0120-279-338")
    assert "自動の返事" in text
    box = reply.bounding_box()
    assert box is not None and box["width"] <= PHONE["width"]
    assert box["height"] <= PHONE["height"], f"the crisis reply is {box['height']:.0f} px tall"

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert reply.locator('a[href="tel:110"]').count() == 1  # tap to call
    page.evaluate("document.querySelector('.dock').style.display = 'none'")  # the fixed input bar would cover it
    reply.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000
