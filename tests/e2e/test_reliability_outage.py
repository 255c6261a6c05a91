"""Reliability suite, database outage (research/reliability-security.md §5): the database
stopped mid-run: webhooks answer non-2xx, /healthz 503, no half-written turn, and after the
restart every event is processed exactly once; on SQLite and on PostgreSQL.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sqlmodel import select

from core import db
from core.models import Message
from tests.fakes.line_api import line_api, line_api_server, line_env  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[2]
PG_SCRIPT = ROOT / "scripts" / "pg-test-cluster.sh"


class _Outage:
    """Stops and restarts "the database": the real PostgreSQL server, or for SQLite an engine
    that cannot connect (the file's directory is unreachable) swapped in and back out."""

    def __init__(self, backend: str):
        self.backend = backend
        self._saved = None
        self.is_down = False

    def down(self) -> None:
        if self.is_down:
            return
        self.is_down = True
        if self.backend == "postgres":
            subprocess.run(["bash", str(PG_SCRIPT), "down"], check=True, timeout=90)
        else:
            from sqlalchemy import create_engine

            self._saved = db._engine
            db._engine = create_engine("sqlite:///file:/nonexistent-ristapo/db.sqlite?mode=ro&uri=true")

    def up(self) -> None:
        if not self.is_down:
            return
        self.is_down = False
        if self.backend == "postgres":
            subprocess.run(["bash", str(PG_SCRIPT), "up"], check=True, timeout=90)
        elif self._saved is not None:
            db._engine.dispose()
            db._engine, self._saved = self._saved, None


@pytest.fixture
def outage(db_backend):
    if db_backend == "postgres" and not os.environ.get("RISTAPO_PG_TEST_DIR"):
        pytest.skip("RISTAPO_PG_TEST_DIR not set: the throwaway cluster cannot be stopped from here")
    o = _Outage(db_backend)
    yield o
    o.up()  # never leave the database down for the next test


def _rows(model):
    with db.session_scope() as s:
        return list(s.exec(select(model)).all())


def _headers(body: bytes, secret: str) -> dict[str, str]:
    from tests.builders import sign

    return {"Content-Type": "application/json", "X-Line-Signature": sign(body, secret)}


def _turn_cut_at_commit(line_env, outage, db_backend) -> None:
    """Step 1: a turn whose commit is cut off by the outage (the database is down afterwards)."""
    from sqlalchemy.exc import OperationalError

    from bot import pipeline
    from bot.pipeline import inbox
    from tests.builders import make_line_text_event

    ev1 = make_line_text_event("住むところがない", user_id="U-outage-1")
    assert line_env.post(ev1).status_code == 200
    original = inbox._process_event

    def cut_at_commit(session, row, runtime, *batch):
        outcome = original(session, row, runtime, *batch)
        session.flush()  # the turn's message, outbox and state rows are written, not committed
        if db_backend == "postgres":
            outage.down()
        else:
            raise OperationalError("COMMIT", {}, Exception("database is unreachable"))
        return outcome

    inbox._process_event = cut_at_commit
    try:
        pipeline.process_inbox_batch(10)  # logs the failure; must not raise
    finally:
        inbox._process_event = original
    if db_backend == "sqlite":
        outage.down()


def _while_down(client, line_env) -> bytes:
    """Step 2: while down, webhooks non-2xx, health 503, workers survive; returns the refused body."""
    from bot import pipeline
    from tests.builders import line_body, make_line_text_event

    ev2 = make_line_text_event("仕事を探したい", user_id="U-outage-2")
    body = line_body(ev2)
    r = client.post("/webhooks/line", content=body, headers=_headers(body, line_env.secret))
    assert not 200 <= r.status_code < 300, "a webhook must not be acknowledged when it could not be stored"
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["database"] == "unreachable"
    with pytest.raises(Exception):
        pipeline.process_inbox_batch(10)
    return body


def _after_restart(client, line_env, outage, body: bytes) -> None:
    """Step 3: after the restart, nothing half-written, then everything exactly once."""
    from bot import pipeline
    from bot.models import InboxEvent
    from core.models import OutboxMessage

    outage.up()
    assert client.get("/healthz").status_code == 200
    inbox = _rows(InboxEvent)
    assert [(e.state, e.processed_at) for e in inbox] == [("pending", None)], "the cut-off turn must not be marked done"
    assert _rows(Message) == [] and _rows(OutboxMessage) == [], "no half-written turn"
    # LINE redelivers the unacknowledged webhook
    assert client.post("/webhooks/line", content=body, headers=_headers(body, line_env.secret)).status_code == 200
    pipeline.process_inbox_batch(10)  # the backed-off event may wait; process what is due
    _make_all_due()
    line_env.process()
    assert sorted(e.state for e in _rows(InboxEvent)) == ["done", "done"]
    assert len([m for m in _rows(Message) if m.direction == "in"]) == 2
    replies = line_env.fake.accepted
    assert len(replies) == 2 and len({r.body.get("replyToken") or r.retry_key for r in replies}) == 2
    line_env.process()
    assert len(line_env.fake.accepted) == 2, "nothing is sent twice"


@pytest.mark.slow
@pytest.mark.postgres
def test_database_stopped_mid_run(line_env, outage, db_backend):
    """Webhooks answer non-2xx while the database is down, /healthz says 503, a turn cut off
    at commit leaves nothing behind, and after the restart every event is processed once."""
    from fastapi.testclient import TestClient

    client = TestClient(line_env.app, raise_server_exceptions=False)
    assert client.get("/healthz").status_code == 200
    _turn_cut_at_commit(line_env, outage, db_backend)
    body = _while_down(client, line_env)
    _after_restart(client, line_env, outage, body)


def _make_all_due() -> None:
    from bot.models import InboxEvent
    from core.models import OutboxMessage

    with db.session_scope() as s:
        for e in s.exec(select(InboxEvent).where(InboxEvent.state == "pending")).all():
            e.lease_until = None
            s.add(e)
        for o in s.exec(select(OutboxMessage).where(OutboxMessage.state == "pending")).all():
            o.next_try_at = o.created_at
            s.add(o)
