"""The web chat in real headless Chromium against ``ristapo serve`` (README's first command).

Debian's chromium and Python Playwright (no ``playwright install``, research/browser-and-services.md);
scripts/system-deps.sh installs chromium and fonts-noto-cjk. Without /usr/bin/chromium the test
skips and says why. ``RISTAPO_BROWSER_BASE_URL`` points it at an already running server instead.
"""
from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.browser_support import chromium, free_port, ristapo_cmd, shots_dir, stop, wait_healthy

pytestmark = pytest.mark.browser

SCREENSHOT = shots_dir() / "web-chat.png"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def server(tmp_path) -> Iterator[str]:
    """``ristapo serve`` on a free loopback port with a throwaway data directory."""
    given = os.environ.get("RISTAPO_BROWSER_BASE_URL")
    if given:
        yield given.rstrip("/")
        return
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISTAPO_")}
    env.update(
        RISTAPO_ENV="dev",
        RISTAPO_DATA_DIR=str(tmp_path / "var"),
        RISTAPO_ID_PEPPER="browser-test",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    proc = subprocess.Popen(
        [*ristapo_cmd(), "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        stop(proc)


@pytest.fixture
def browser_page():
    with chromium() as browser:
        context = browser.new_context(viewport=PHONE, locale="ja-JP", device_scale_factor=1)
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page


def _submit(page, locator) -> None:
    """Clicks a form button and waits for the post/redirect/get to land."""
    with page.expect_navigation():
        locator.click()


def test_consent_answer_and_handoff_in_a_real_browser(server, browser_page):
    page = browser_page
    page.goto(server + "/chat")
    assert page.locator("html").get_attribute("lang") == "ja"

    consent = page.locator('[data-kind="consent"]')
    assert consent.is_visible()
    _submit(page, consent.get_by_role("button", name="同意する"))
    assert page.locator('[data-kind="consent"]').count() == 0

    page.get_by_label("メッセージ").fill("住むところがない")
    _submit(page, page.get_by_role("button", name="送る"))
    answer = page.locator('[data-kind="answer"]').last
    answer.wait_for(state="visible")
    assert answer.locator("h2").inner_text().strip()
    assert page.locator(".bubble.user", has_text="住むところがない").count() == 1

    _submit(page, answer.get_by_role("button", name="人と話したい"))
    handoff = page.locator('[data-kind="handoff"]')
    for _ in range(6):  # the short intake: skip every question
        if handoff.count():
            break
        _submit(page, page.get_by_role("button", name="とばす").last)
    handoff.wait_for(state="visible")
    assert "職員" in handoff.inner_text()

    # keyboard users can reach the input (skip link) and every button has a visible label
    assert page.locator("a.skip").get_attribute("href") == "#text"
    assert all(b.inner_text().strip() for b in page.locator("button").all())

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000
