"""The editor workflow in real headless Chromium against ``ristapo serve``.

Two editors are created with ``ristapo admin create-user`` (no default accounts). Each signs
in for the first time in the browser: one-time password → new password → TOTP enrolment from
the page (the code computed with pyotp). Alice drafts a change and previews it; Bob approves
and publishes; the web chat then answers with the new text — no restart. The server works on
a copy of the entries (RISTAPO_KB_DIR), so the repository's files are never touched.
Screenshots: docs/screenshots/editor-list.png and editor-preview.png.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest

from knowledge.kb import ENTRIES_DIR, parse_entry
from tests.browser_support import chromium, free_port, require_chromium, ristapo_cmd, shots_dir, stop, wait_healthy

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = shots_dir()
DESKTOP = {"width": 1280, "height": 900}
ENTRY = "soudan-muryo"
NEW_ANSWER = "りすたぽへの相談は無料です。名前を言わなくても大丈夫です。困っていることを、そのまま書いてください。"
QUESTION = "相談するのにお金はかかりますか"


@pytest.fixture
def site(tmp_path) -> Iterator[dict]:
    require_chromium()
    pytest.importorskip("playwright.sync_api", reason="Python playwright is not installed (pip install -e '.[dev]')")
    entries = tmp_path / "entries"
    shutil.copytree(ENTRIES_DIR, entries)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISTAPO_")}
    env.update(
        RISTAPO_ENV="dev",
        RISTAPO_DATA_DIR=str(tmp_path / "var"),
        RISTAPO_KB_DIR=str(entries),
        RISTAPO_ID_PEPPER="browser-editor-test",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    proc = subprocess.Popen([*ristapo_cmd(), "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        passwords = {}
        for name in ("alice", "bob"):
            out = subprocess.run([*ristapo_cmd(), "admin", "create-user", name, "--role", "editor"], cwd=tmp_path, env=env,
                                 capture_output=True, text=True, check=True).stdout
            passwords[name] = re.search(r"one-time password: (\S+)", out).group(1)
        yield {"url": url, "passwords": passwords, "entries": entries}
    finally:
        stop(proc)


@pytest.fixture
def browser():
    with chromium() as b:
        yield b


def _click(page, locator) -> None:
    with page.expect_navigation():
        locator.click()


def first_login(browser, url: str, username: str, one_time: str):
    """One-time password → own password → authenticator enrolment; returns the signed-in page."""
    page = browser.new_context(viewport=DESKTOP, locale="ja-JP").new_page()
    page.set_default_timeout(15_000)
    page.goto(url + "/console/kb")
    assert page.url.endswith("/console/login")  # anonymous → login
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", one_time)
    _click(page, page.get_by_role("button", name="次へ"))
    assert page.url.endswith("/console/login/password")
    new_password = "Mori-no-kuma-ga-2026-" + str(len(username))  # never contains the user name
    page.fill("input[name=new_password]", new_password)
    page.fill("input[name=new_password2]", new_password)
    _click(page, page.get_by_role("button", name="パスワードを決める"))
    assert page.url.endswith("/console/login/enroll")
    assert page.locator("img[alt*=QR]").get_attribute("src").startswith("data:image/svg+xml;base64,")
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    _click(page, page.get_by_role("button", name="登録する"))
    page.wait_for_url("**/console/kb")
    return page


def test_editor_drafts_previews_second_editor_publishes_and_bot_answers(site, browser):
    url = site["url"]
    SHOTS.mkdir(parents=True, exist_ok=True)

    alice = first_login(browser, url, "alice", site["passwords"]["alice"])
    assert alice.locator("nav.mainnav").inner_text().strip() == "知識ベース"
    alice.screenshot(path=str(SHOTS / "editor-list.png"), full_page=False)

    alice.fill("input[name=q]", "無料")
    _click(alice, alice.get_by_role("button", name="検索"))
    _click(alice, alice.locator(f"a[href='/console/kb/e/{ENTRY}']"))
    _click(alice, alice.get_by_role("button", name="この項目を編集する(下書き)"))
    alice.fill("textarea[name=answer]", NEW_ANSWER)
    alice.get_by_role("button", name="プレビューを更新").click()
    alice.locator("#preview .flex-bubble").get_by_text(NEW_ANSWER).wait_for()
    alice.locator("#preview .webchat-preview").get_by_text(NEW_ANSWER).wait_for()
    alice.fill("#try-question", QUESTION)
    alice.get_by_role("button", name="どの項目が選ばれるか見る").click()
    alice.locator("#try-result").get_by_text("いま公開中の判定").wait_for()
    alice.locator("#preview").scroll_into_view_if_needed()
    alice.evaluate("document.querySelector('#preview').parentElement.scrollIntoView({block: 'start'})")
    alice.screenshot(path=str(SHOTS / "editor-preview.png"), full_page=False)
    _click(alice, alice.get_by_role("button", name="保存して確認に出す"))
    assert "確認に出しました" in alice.locator(".flash").inner_text()
    assert alice.get_by_role("button", name="承認して公開する").count() == 0  # not for the author
    version_url = alice.url.split("?")[0]

    assert parse_entry((site["entries"] / f"{ENTRY}.md").read_text(encoding="utf-8")).answer != NEW_ANSWER

    bob = first_login(browser, url, "bob", site["passwords"]["bob"])
    bob.goto(version_url)
    _click(bob, bob.get_by_role("button", name="承認して公開する"))
    assert "を公開しました" in bob.locator(".flash").inner_text()
    assert parse_entry((site["entries"] / f"{ENTRY}.md").read_text(encoding="utf-8")).answer == NEW_ANSWER

    user = browser.new_context(viewport={"width": 390, "height": 844}, locale="ja-JP").new_page()
    user.set_default_timeout(15_000)
    user.goto(url + "/chat")
    # the chat posts without reloading the page (tests/e2e/test_browser_chat.py): wait for the bubbles
    user.fill("textarea[name=text]", "こんにちは")
    user.get_by_role("button", name="送る").click()
    user.locator('.bubble[data-kind="welcome"]').wait_for(state="detached")  # the reply replaced the welcome
    user.locator('.bubble[data-kind="consent"]').last.get_by_role("button", name="同意する").click()
    user.locator(".bubble.bot", has_text="ありがとうございます").wait_for()
    user.fill("textarea[name=text]", QUESTION)
    user.get_by_role("button", name="送る").click()
    user.locator(".bubble.bot").filter(has_text=NEW_ANSWER).first.wait_for()
