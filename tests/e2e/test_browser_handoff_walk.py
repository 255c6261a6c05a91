"""Issue 17's walk, both sides on 390×844 phones in headless Chromium, one ``ristapo serve --demo``.

The person: hand-off → two messages while waiting (both acknowledged, the FAQ still answers) →
a typed urgent answer to 「急ぎですか?」. Staff: the ticket is urgent, claim puts the focus in the
reply box, the reply appears in the person's chat without a reload. Staff close; a late message
from the person reopens the same ticket for staff. Screenshots of each step go to
docs/screenshots/ when RISTAPO_UPDATE_SCREENSHOTS=1.
"""
from __future__ import annotations

import pytest

from tests.browser_support import shots_dir
from tests.e2e.test_browser_console import _sign_in, browser, console, line_api  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
SHOTS = shots_dir()
REPLY = "職員の田中です。今夜の泊まる所を一緒に探しましょう。"


def _until(page, expression: str, timeout: float = 15.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, expression
        page.wait_for_timeout(150)


def _say(page, text: str) -> None:
    before = page.locator(".bubble").count()
    page.get_by_label("メッセージ").fill(text)
    page.get_by_role("button", name="送る").click()
    _until(page, f"document.querySelectorAll('.bubble').length > {before + 1}")


def _last_bot_text(page) -> str:
    return page.locator('.bubble[data-who="bot"]').last.inner_text()


def _person_consents(browser, url: str):
    """A phone user opens the chat and consents; returns (context, page)."""
    context = browser.new_context(viewport=PHONE, locale="ja-JP", has_touch=True, is_mobile=True, device_scale_factor=1)
    person = context.new_page()
    person.set_default_timeout(15_000)
    person.goto(url + "/chat")
    person.locator('[data-kind="consent"]').get_by_role("button", name="同意する").click()
    person.locator('.bubble[data-kind="text"]', has_text="ありがとうございます").wait_for()
    person.evaluate("window.__sameDocument = true")
    return context, person


def _intake(person) -> None:
    """Buttons, except 「急ぎですか?」, which is answered in the person's own words."""
    person.locator("nav.menu").get_by_role("button", name="人と話す").click()
    for _ in range(6):
        person.wait_for_timeout(400)
        if person.locator('.bubble[data-kind="handoff"]').count():
            break
        if "急ぎ" in _last_bot_text(person):
            _say(person, "今日から泊まるところがない")
        else:
            before = person.locator(".bubble").count()
            person.get_by_role("button", name="とばす").last.click()
            _until(person, f"document.querySelectorAll('.bubble').length > {before}")
    person.locator('.bubble[data-kind="handoff"]').wait_for()
    person.screenshot(path=str(SHOTS / "walk-1-handed-off.png"))


def _messages_while_waiting(person) -> None:
    """Two messages while waiting: each acknowledged, and the FAQ still answers."""
    _say(person, "まだですか")
    assert "受け取りました" in _last_bot_text(person)
    _say(person, "仕事を探したい")
    assert person.locator('.bubble[data-kind="answer"]').count() >= 1
    assert "自動" in _last_bot_text(person)
    person.screenshot(path=str(SHOTS / "walk-2-waiting.png"))


def _staff_claims_the_urgent_ticket_and_replies(browser, console, url: str):
    """The ticket is urgent; claiming puts the focus in the reply box. Returns the staff page."""
    staff = _sign_in(browser, url, "tanaka", console["secrets"]["tanaka"], viewport=PHONE)
    row = staff.locator("tr.st-row", has=staff.locator(".st-channel-web")).filter(has_not=staff.locator(".st-badge-demo")).first
    row.wait_for()
    assert row.locator(".st-badge-urgent, .st-badge-crisis").count() == 1, row.inner_text()
    with staff.expect_navigation():
        row.get_by_role("link", name="開く").click()
    with staff.expect_navigation():
        staff.get_by_role("button", name="担当する").click()
    _until(staff, "document.activeElement && document.activeElement.id === 'st-reply-text'")
    staff.locator("#st-reply-text").fill(REPLY)
    with staff.expect_navigation():
        staff.get_by_role("button", name="送信する").click()
    staff.screenshot(path=str(SHOTS / "walk-3-staff-replied.png"))
    return staff


def _close_and_a_late_message_reopens(staff, person, url: str) -> None:
    # staff close; a late message reopens the same ticket for staff
    staff.locator("#st-outcome").select_option(index=1)
    with staff.expect_navigation():
        staff.get_by_role("button", name="相談を終える").click()
    assert "closed" in staff.url  # back to the inbox, on the closed-today list
    _say(person, "さっきの件で、もう少し相談させてください")
    staff.goto(url + "/console/inbox")
    reopened = staff.locator("tr.st-row", has=staff.locator(".st-channel-web")).filter(has_not=staff.locator(".st-badge-demo"))
    reopened.first.wait_for(timeout=20_000)
    staff.screenshot(path=str(SHOTS / "walk-5-reopened.png"))


def test_hand_off_waiting_urgent_claim_reply_close_and_a_late_message(console, browser):
    url = console["url"]
    context, person = _person_consents(browser, url)

    # the intake: buttons, except 「急ぎですか?」, which is answered in the person's own words
    _intake(person)

    # two messages while waiting: each acknowledged, and the FAQ still answers
    _messages_while_waiting(person)

    # staff: the ticket is urgent; claiming puts the focus in the reply box
    staff = _staff_claims_the_urgent_ticket_and_replies(browser, console, url)

    # the reply reaches the person's chat without a reload
    person.locator('.bubble[data-who="staff"]', has_text=REPLY).wait_for(timeout=20_000)
    assert person.evaluate("window.__sameDocument === true")
    person.screenshot(path=str(SHOTS / "walk-4-reply-arrived.png"))

    _close_and_a_late_message_reopens(staff, person, url)
    context.close()
    staff.context.close()
