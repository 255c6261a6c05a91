"""What the browser tests share: Debian's chromium, a free port, starting ``ristapo serve``.

Screenshots go to docs/screenshots/ only when RISTAPO_UPDATE_SCREENSHOTS=1 (so a plain test
run leaves the working tree clean); otherwise to a temporary folder.
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[1]


def require_chromium() -> None:
    if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"{CHROMIUM} is missing: run `sudo bash scripts/system-deps.sh` (installs chromium and fonts-noto-cjk)")


def shots_dir() -> Path:
    if os.environ.get("RISTAPO_UPDATE_SCREENSHOTS") == "1":
        path = ROOT / "docs" / "screenshots"
    else:
        path = Path(tempfile.gettempdir()) / "ristapo-screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ristapo_cmd() -> list[str]:
    script = Path(sys.executable).with_name("ristapo")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def wait_healthy(url: str, proc: subprocess.Popen | None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"ristapo serve exited with {proc.returncode}:\n{out[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"ristapo serve did not answer {url}/healthz within {timeout:.0f}s")


def stop(proc: subprocess.Popen) -> None:
    """Stops a server started by a test: terminate, then kill if it does not go."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def chromium() -> Iterator:
    """Debian's headless chromium through Python Playwright (skips with a reason when missing)."""
    require_chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="Python playwright is not installed (pip install -e '.[dev]')")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
