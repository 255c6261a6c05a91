"""Shared fixtures: an isolated data directory and database per test, personas, a chat driver.

Why a fresh SQLite file per test: tests never share state (a lesson from errbot's global
MemoryStorage); the same suite runs on PostgreSQL when RISTAPO_TEST_POSTGRES_URL is set.
"""
from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field

import pytest

from core.messages import Inbound, OutMessage

TEST_KEY = base64.b64encode(b"k" * 32).decode()
CANARY = "CANARY-前科-9137"


@pytest.fixture(scope="session")
def shared_runtime():
    from bot.runtime import Runtime

    return Runtime()


@pytest.fixture
def settings(tmp_path, monkeypatch, shared_runtime):
    """Settings pointing at a fresh data dir and database; the process is prepared for them."""
    from bot import runtime
    from bot.startup import prepare
    from core.settings import get_settings

    monkeypatch.setenv("RISTAPO_ENV", "test")
    monkeypatch.setenv("RISTAPO_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("RISTAPO_DATA_KEY", f"t1:{TEST_KEY}")
    monkeypatch.setenv("RISTAPO_ID_PEPPER", "test-pepper")
    pg = os.environ.get("RISTAPO_TEST_POSTGRES_URL")
    monkeypatch.setenv("RISTAPO_DATABASE_URL", pg if pg else f"sqlite:///{tmp_path / 'var' / 'test.db'}")
    for name in ("RISTAPO_LINE_CHANNEL_SECRET", "RISTAPO_LINE_CHANNEL_ACCESS_TOKEN", "RISTAPO_TELEGRAM_TOKEN", "RISTAPO_TELEGRAM_SECRET"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    s = get_settings()
    prepare(s)
    if pg:
        from sqlmodel import SQLModel

        from core import db

        SQLModel.metadata.drop_all(db.engine())
        db.create_all()
    runtime.set_runtime(shared_runtime)
    yield s
    runtime.set_runtime(None)
    get_settings.cache_clear()


@dataclass
class ChatDriver:
    """Talks to the engine like a user on one channel: ``chat.say("...")`` returns the replies."""

    rt: object
    channel: str = "web"
    user: str = "user-1"
    last: list[OutMessage] = field(default_factory=list)

    def send(self, inbound: Inbound) -> list[OutMessage]:
        from bot.service import handle_inbound
        from core import db

        with db.session_scope() as session:
            handled = handle_inbound(session, self.rt, channel=self.channel, platform_id=self.user, inbound=inbound)
        self.last = handled.out
        return handled.out

    def say(self, text: str) -> list[OutMessage]:
        return self.send(Inbound(kind="text", text=text))

    def press(self, action: str) -> list[OutMessage]:
        return self.send(Inbound(kind="postback", action=action))

    def text(self) -> str:
        return "\n".join(m.plain_text() for m in self.last)

    def kinds(self) -> list[str]:
        return [m.kind for m in self.last]


@pytest.fixture
def chat(settings, shared_runtime) -> ChatDriver:
    return ChatDriver(shared_runtime)


@pytest.fixture
def consented_chat(chat) -> ChatDriver:
    chat.say("こんにちは")
    chat.press("c:y")
    return chat
