"""The staff and admin console in real headless Chromium against ``ristapo serve --demo``.

One scenario, as a staff member lives it: sign in with password + TOTP; a LINE user (signed
webhooks → inbox worker) asks for a person and the ticket appears in the open inbox without a
reload; claim it, reply with a canned text, and the fake LINE API receives the push. Then an
admin's dashboard, and a staff member who is refused the admin pages. Screenshots of the main
screens go to docs/screenshots/ (shown in the README).

Debian's chromium + Python Playwright (never ``playwright install``); scripts/system-deps.sh
installs chromium and fonts-noto-cjk. Without /usr/bin/chromium the test skips and says why.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest

from tests.browser_support import chromium, free_port, ristapo_cmd, shots_dir, stop, wait_healthy
from tests.builders import line_body, make_line_postback_event, make_line_text_event, sign

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = shots_dir()
DESKTOP = {"width": 1280, "height": 860}
TABLET = {"width": 768, "height": 1024}
LINE_SECRET = "browser-test-line-secret"
PASSWORD = "ristapo-browser-Staff-2026!"
CANNED = "担当の職員です。ご連絡ありがとうございます。これからこのチャットでお話を伺います。"


@pytest.fixture
def line_api():
    from tests.fakes.line_api import FakeLineApi

    fake = FakeLineApi().start()
    yield fake
    fake.stop()


def _env(tmp_path: Path, line_api) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISTAPO_")}
    env.update(
        RISTAPO_ENV="dev",
        RISTAPO_DATA_DIR=str(tmp_path / "var"),
        RISTAPO_ID_PEPPER="browser-console-test",
        RISTAPO_LINE_CHANNEL_SECRET=LINE_SECRET,
        RISTAPO_LINE_CHANNEL_ACCESS_TOKEN="browser-test-line-token",
        RISTAPO_LINE_API_BASE=line_api.base_url,
        RISTAPO_LINE_DATA_API_BASE=line_api.base_url,
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    return env


# Runs in a child process with the server's environment: accounts with a known password and
# an enrolled TOTP secret (the first-login steps have their own tests), and one canned reply.
_ACCOUNTS = textwrap.dedent(
    """
    import json, sys
    from sqlmodel import select
    from admin import auth
    from admin.models import StaffUser
    from bot.startup import prepare
    from core import db
    from core.settings import get_settings
    from handoff.models import CannedReply

    prepare(get_settings())
    spec = json.loads(sys.argv[1])
    with db.session_scope() as s:
        for name, roles, secret in spec["accounts"]:
            s.add(StaffUser(username=name, display_name=spec["names"][name], roles=roles, password_hash=auth.hash_password(spec["password"]),
                            must_change_password=False, totp_secret=secret))
        if s.exec(select(CannedReply).where(CannedReply.body == spec["canned"])).first() is None:
            s.add(CannedReply(title="はじめのあいさつ", body=spec["canned"]))
    """
)


@pytest.fixture
def console(tmp_path, line_api) -> Iterator[dict]:
    """``ristapo serve --demo`` with LINE pointed at the fake, plus two signed-up accounts."""
    port = free_port()
    env = _env(tmp_path, line_api)
    proc = subprocess.Popen(
        [*ristapo_cmd(), "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    secrets = {"tanaka": pyotp.random_base32(), "kanri": pyotp.random_base32(), "henshu": pyotp.random_base32()}
    try:
        wait_healthy(url, proc)
        spec = {
            "accounts": [["tanaka", "staff", secrets["tanaka"]], ["kanri", "admin", secrets["kanri"]], ["henshu", "editor", secrets["henshu"]]],
            "names": {"tanaka": "田中", "kanri": "管理 担当", "henshu": "編集 担当"},
            "password": PASSWORD,
            "canned": CANNED,
        }
        subprocess.run([sys.executable, "-c", _ACCOUNTS, json.dumps(spec)], cwd=ROOT, env=env, check=True, timeout=60)
        yield {"url": url, "secrets": secrets}
    finally:
        stop(proc)


@pytest.fixture
def browser():
    with chromium() as b:
        yield b


def _sign_in(browser, url: str, username: str, secret: str, viewport: dict = DESKTOP, axe: bool = False):
    context = browser.new_context(viewport=viewport, locale="ja-JP", timezone_id="Asia/Tokyo")
    if axe:
        from tests.axe_support import enable_axe

        enable_axe(context)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(url + "/console")
    page.get_by_label("ユーザー名").fill(username)
    page.get_by_label("パスワード").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="次へ").click()
    page.get_by_label("確認コード").fill(pyotp.TOTP(secret).now())
    with page.expect_navigation():
        page.get_by_role("button", name="ログイン").click()
    return page


def _post_line(url: str, *events: dict) -> None:
    body = line_body(*events)
    req = urllib.request.Request(
        url + "/webhooks/line", data=body, method="POST",
        headers={"Content-Type": "application/json", "X-Line-Signature": sign(body, LINE_SECRET)},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200


def _line_user_asks_for_a_person(url, user: str) -> None:
    """A LINE user consents, asks for a person and answers the four intake questions."""
    _post_line(url, make_line_text_event("こんにちは", user_id=user))
    _post_line(url, make_line_postback_event("c:y", user_id=user))
    _post_line(url, make_line_text_event("出所したばかりで住むところがありません", user_id=user))
    _post_line(url, make_line_postback_event("h", user_id=user))
    for action in ("i:who:self", "i:need:housing", "i:urgency:tonight", "i:contact:chat"):
        _post_line(url, make_line_postback_event(action, user_id=user))


def _ticket_appears_live(page, user: str):
    """It appears in the open inbox without a reload: badge, title, an urgent LINE row on top."""
    new_row = page.locator("tr.st-row", has=page.locator(".st-channel-line")).filter(has_not=page.locator(".st-badge-demo"))
    new_row.first.wait_for()
    page.locator("#st-new").wait_for()
    assert "新しい相談1件" in "".join(page.locator("#st-new").inner_text().split())
    assert page.title().startswith("(1)")
    assert "急ぎ" in new_row.first.inner_text() and "今夜泊まる所がない" in new_row.first.inner_text()
    assert user not in page.content()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "console-inbox.png"), full_page=True)
    return new_row


def _open_claim_and_reply(page, new_row, user: str, line_api) -> None:
    """Open, claim, reply with the canned text; the push reaches LINE and the badge follows."""
    with page.expect_navigation():
        new_row.first.get_by_role("link", name="開く").click()
    assert "回答: sumai-ga-nai" in page.content() or "回答: shussho-chokugo" in page.content()
    assert "記録に同意あり" in page.content() and user not in page.content()
    with page.expect_navigation():
        page.get_by_role("button", name="担当する").click()
    page.get_by_role("button", name="はじめのあいさつ").click()
    assert page.locator("#st-reply-text").input_value() == CANNED
    assert f"{len(CANNED)} / 5,000" in page.locator("#st-counter").inner_text()
    with page.expect_navigation():
        page.get_by_role("button", name="送信する").click()

    assert line_api.wait_for(lambda f: any(CANNED in t for r in f.accepted if r.path == "/v2/bot/message/push" for t in r.texts), timeout=20)
    push = next(r for r in line_api.accepted if r.path == "/v2/bot/message/push" and any(CANNED in t for t in r.texts))
    assert push.body["to"] == user and push.retry_key
    page.locator(".st-delivery-delivered").wait_for()  # the badge follows the outbox
    # the viewport, not the full page: the reply box is sticky at the bottom of the screen
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.screenshot(path=str(SHOTS / "console-conversation.png"), full_page=False)


def _tablet_and_no_admin_for_staff(page, url: str) -> None:
    # a tablet in portrait: nothing runs off the side of the page
    page.set_viewport_size(TABLET)
    for path in (page.url, url + "/console/inbox"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
    page.set_viewport_size(DESKTOP)

    # staff hold no admin role: no admin link, and the admin pages refuse them
    assert page.locator("nav.mainnav a", has_text="管理").count() == 0
    response = page.goto(url + "/console/admin/accounts")
    assert response.status == 403 and "demo-admin" not in page.content()


def _admin_dashboard(browser, console, url: str) -> None:
    # the admin's dashboard: small server-side SVG charts, no chart library
    admin = _sign_in(browser, url, "kanri", console["secrets"]["kanri"])
    admin.goto(url + "/console/admin")
    assert admin.locator("svg.chart").count() == 4
    admin.screenshot(path=str(SHOTS / "console-dashboard.png"), full_page=True)
    assert admin.goto(url + "/console/inbox").status == 403  # and an admin without the staff role reads no tickets
    admin.context.close()


def test_staff_sees_a_line_ticket_live_claims_and_replies(console, browser, line_api):
    url = console["url"]
    page = _sign_in(browser, url, "tanaka", console["secrets"]["tanaka"])
    assert page.url.endswith("/console/inbox")
    assert page.get_by_role("heading", name="受付箱").is_visible()
    demo_rows = page.locator("tr.st-row").count()
    assert demo_rows >= 1 and page.locator(".st-badge-demo").count() >= 1  # demo data, marked
    page.wait_for_function("document.getElementById('st-live').textContent.includes('自動で更新しています')")

    # a LINE user consents, asks for a person and answers the four intake questions
    user = "U0123456789abcdef0123456789abcd01"
    _line_user_asks_for_a_person(url, user)
    # …and it appears in the open inbox without a reload: badge, title, an urgent LINE row on top
    new_row = _ticket_appears_live(page, user)
    # open, claim, reply with the canned text
    _open_claim_and_reply(page, new_row, user, line_api)
    _tablet_and_no_admin_for_staff(page, url)
    page.context.close()

    # the admin's dashboard: small server-side SVG charts, no chart library
    _admin_dashboard(browser, console, url)
