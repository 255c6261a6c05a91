"""The console on a 390×844 phone: no page runs off the side, the reply box is where staff look,
new user messages appear in place, and axe-core finds no serious or critical problem.

Uses the ``console`` server of tests/e2e/test_browser_console.py (``ristapo serve --demo`` with LINE
pointed at the local fake, and a staff, an admin and an editor account).
"""
from __future__ import annotations

import pytest

from tests.axe_support import serious_violations
from tests.browser_support import shots_dir
from tests.builders import make_line_postback_event, make_line_text_event
from tests.e2e.test_browser_console import _post_line, _sign_in, browser, console, line_api  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
SHOTS = shots_dir()
USER = "U0123456789abcdef0123456789abcd02"


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def _overflowing(page) -> list[str]:
    """The elements that stick out on the right (to say what to fix when the check fails)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('body *')]
              .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && e.parentElement.getBoundingClientRect().right <= window.innerWidth + 1)
              .slice(0, 8).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + [...e.classList].join('.') + ' ' + Math.round(e.getBoundingClientRect().right))"""
    )


def _until(page, expression: str, timeout: float = 10.0) -> None:
    """Polls an expression (wait_for_function would need 'unsafe-eval', which the console's CSP forbids)."""
    import time

    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, expression
        page.wait_for_timeout(100)


def _check(page, name: str) -> None:
    assert _fits(page), (name, _overflowing(page))
    assert serious_violations(page) == [], name


def _ask_for_a_person(url: str) -> None:
    _post_line(url, make_line_text_event("こんにちは", user_id=USER))
    _post_line(url, make_line_postback_event("c:y", user_id=USER))
    _post_line(url, make_line_postback_event("h", user_id=USER))
    for action in ("i:who:self", "i:need:housing", "i:urgency:tonight", "i:contact:chat"):
        _post_line(url, make_line_postback_event(action, user_id=USER))


def test_staff_on_a_phone_claim_and_the_reply_box_takes_the_focus(console, browser):
    url = console["url"]
    page = _sign_in(browser, url, "tanaka", console["secrets"]["tanaka"], viewport=PHONE, axe=True)
    new = page.locator("#st-new")
    assert new.is_hidden()  # nothing new since the page opened: no 「新しい相談 0 件」
    _check(page, "inbox")
    page.locator("#st-live", has_text="自動で更新しています").wait_for()

    _ask_for_a_person(url)
    row = page.locator("tr.st-row", has=page.locator(".st-channel-line")).filter(has_not=page.locator(".st-badge-demo")).first
    row.wait_for()
    new.wait_for()
    assert "新しい相談1件" in "".join(new.inner_text().split())
    waiting = int(page.locator('[data-count="waiting"]').inner_text())
    assert waiting >= 1
    _check(page, "inbox with a new ticket")
    page.screenshot(path=str(SHOTS / "console-inbox-phone.png"), full_page=True)

    with page.expect_navigation():
        row.get_by_role("link", name="開く").click()
    _check(page, "conversation")
    with page.expect_navigation():
        page.get_by_role("button", name="担当する").click()
    reply = page.locator("#st-reply-text")
    _until(page, "document.activeElement && document.activeElement.id === 'st-reply-text'")
    box = reply.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], box  # on screen, not below the fold
    _check(page, "conversation, claimed")

    # a new user message appears in place, without a reload
    page.evaluate("window.__sameDocument = true")
    _post_line(url, make_line_text_event("今夜どこに行けばいいですか", user_id=USER))
    page.locator(".st-turn-user", has_text="今夜どこに行けばいいですか").wait_for(timeout=20_000)
    assert page.evaluate("window.__sameDocument === true")
    page.screenshot(path=str(SHOTS / "console-conversation-phone.png"), full_page=False)
    page.context.close()


def test_admin_and_editor_pages_fit_a_phone(console, browser):
    url = console["url"]
    admin = _sign_in(browser, url, "kanri", console["secrets"]["kanri"], viewport=PHONE, axe=True)
    for path in ("/console/admin", "/console/admin/audit", "/console/admin/accounts", "/console/admin/retention", "/console/admin/canned"):
        admin.goto(url + path)
        _check(admin, path)
    admin.goto(url + "/console/admin/audit")
    admin.screenshot(path=str(SHOTS / "console-audit-phone.png"), full_page=False)
    admin.context.close()

    editor = _sign_in(browser, url, "henshu", console["secrets"]["henshu"], viewport=PHONE, axe=True)
    for path in ("/console/kb", "/console/kb/unanswered", "/console/kb/e/soudan-muryo"):
        editor.goto(url + path)
        _check(editor, path)
    editor.context.close()
