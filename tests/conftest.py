"""Shared fixtures: an isolated data directory and database per test, personas, a chat driver.

Why a fresh SQLite file per test: tests never share state (a lesson from errbot's global
MemoryStorage).

Both backends: a test marked ``@pytest.mark.postgres`` (or in a module listed in
``BOTH_BACKENDS``) runs twice, ``[sqlite]`` and ``[postgres]``, through the ``db_backend``
fixture that ``settings`` uses; ``@pytest.mark.postgres(only=True)`` runs on PostgreSQL only.
The PostgreSQL variant skips with a reason when RISTAPO_TEST_POSTGRES_URL is unset
(scripts/test.sh sets it via scripts/pg-test-cluster.sh). Every other test runs on SQLite
only, so the suite does not run twice.
"""
from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field

import pytest

from core.messages import Inbound, OutMessage

TEST_KEY = base64.b64encode(b"k" * 32).decode()
CANARY = "CANARY-前科-9137"


# --------------------------------------------------------------------------- canary in logs (whole suite)
import logging  # noqa: E402


class CanaryCatcher(logging.Handler):
    """Notes every log record whose JSON line (or message) contains the canary."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        from core.logs import JsonFormatter

        self.formatter_ = JsonFormatter()
        self.hits: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            seen = self.formatter_.format(record)
            if record.name.startswith("ristapo"):  # our own code must not even build such a message
                seen += "\n" + record.getMessage()
        except Exception:
            seen = str(record.msg)
        if CANARY in seen:
            self.hits.append(f"{record.name} ({record.filename}:{record.lineno})")


@pytest.fixture(autouse=True)
def _no_canary_in_logs():
    """Fails any test whose log output contains the canary (issue 9: never log user text).

    The ristapo loggers run at DEBUG here so lines below the default WARNING are checked too.
    """
    catcher = CanaryCatcher()
    root, ours = logging.getLogger(), logging.getLogger("ristapo")
    level = ours.level
    ours.setLevel(logging.DEBUG)
    root.addHandler(catcher)
    try:
        yield catcher
    finally:
        root.removeHandler(catcher)
        ours.setLevel(level)
    if catcher.hits:
        pytest.fail("the canary reached the logs: " + ", ".join(sorted(set(catcher.hits))), pytrace=False)


POSTGRES_URL = os.environ.get("RISTAPO_TEST_POSTGRES_URL") or None
PG_ADMIN_URL = os.environ.get("RISTAPO_PG_ADMIN_URL") or None
NO_POSTGRES = (
    "PostgreSQL variant skipped: RISTAPO_TEST_POSTGRES_URL is not set "
    "(scripts/test.sh starts a throwaway cluster with scripts/pg-test-cluster.sh; "
    "it could not install or start PostgreSQL here)"
)
# Modules whose database-dependent tests matter on both engines (dialogue flows, claim race,
# inbox/outbox workers, erasure, migrations); a test file can also say @pytest.mark.postgres.
BOTH_BACKENDS = (
    "test_dialogue", "test_pipeline", "test_line", "test_inbox", "test_outbox", "test_workers",
    "test_handoff", "test_claim", "test_erase", "test_privacy", "test_retention", "test_migrations",
)


def _runs_on_both(metafunc) -> tuple[bool, bool]:
    marker = metafunc.definition.get_closest_marker("postgres")
    if marker is not None:
        return True, bool(marker.kwargs.get("only"))
    name = metafunc.module.__name__.rsplit(".", 1)[-1]
    return any(name == m or name.startswith(m + "_") for m in BOTH_BACKENDS), False


def pytest_generate_tests(metafunc):
    if "db_backend" not in metafunc.fixturenames:
        return
    both, only = _runs_on_both(metafunc)
    if not both:
        return
    pg = pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.skipif(POSTGRES_URL is None, reason=NO_POSTGRES)])
    metafunc.parametrize("db_backend", [pg] if only else ["sqlite", pg], indirect=True)


@pytest.fixture
def db_backend(request) -> str:
    """"sqlite" (default) or "postgres" for tests that run on both engines (see module doc)."""
    return getattr(request, "param", "sqlite")


def _reset_postgres(url: str) -> None:
    """Empty the shared test database: end leftover sessions of earlier tests, drop, create."""
    from sqlalchemy import text
    from sqlmodel import SQLModel

    from core import db

    with db.engine().connect() as conn:
        # why: a connection leaked by an earlier test (thread, subprocess) would block DROP TABLE.
        # Only our own client sessions: autovacuum workers also list this database and belong to
        # the superuser, and terminating them is refused (and never needed).
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND usename = current_user AND backend_type = 'client backend'"
            )
        )
        conn.commit()
    db.engine().dispose()
    SQLModel.metadata.drop_all(db.engine())
    db.create_all()


@pytest.fixture(scope="session")
def shared_runtime():
    from bot.runtime import Runtime

    return Runtime()


@pytest.fixture
def settings(tmp_path, monkeypatch, shared_runtime, db_backend):
    """Settings pointing at a fresh data dir and database; the process is prepared for them."""
    from bot import runtime
    from bot.startup import prepare
    from core.settings import get_settings

    monkeypatch.setenv("RISTAPO_ENV", "test")
    monkeypatch.setenv("RISTAPO_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("RISTAPO_DATA_KEY", f"t1:{TEST_KEY}")
    monkeypatch.setenv("RISTAPO_ID_PEPPER", "test-pepper")
    pg = POSTGRES_URL if db_backend == "postgres" else None
    monkeypatch.setenv("RISTAPO_DATABASE_URL", pg if pg else f"sqlite:///{tmp_path / 'var' / 'test.db'}")
    for name in ("RISTAPO_LINE_CHANNEL_SECRET", "RISTAPO_LINE_CHANNEL_ACCESS_TOKEN", "RISTAPO_TELEGRAM_TOKEN", "RISTAPO_TELEGRAM_SECRET"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    s = get_settings()
    prepare(s)
    if pg:
        _reset_postgres(pg)
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


@pytest.fixture(autouse=True)
def _fresh_web_chat_limits():
    """Each test starts with empty rate-limit windows (they are process-wide)."""
    from core.rate_limit import web_chat

    web_chat.reset()
    yield


@pytest.fixture(autouse=True)
def _no_real_line_api(monkeypatch):
    """No test ever reaches api.line.me: the LINE SDK may only talk to a loopback fake."""
    from tests.fakes.line_api import block_real_line_api

    block_real_line_api(monkeypatch)
