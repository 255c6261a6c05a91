"""The inbox worker and SQLite's in-process write lock (core/write_lock.py): webhooks go first.

Not timed: the tests wait for states (a writer waiting on the lock), never for durations.
"""
from __future__ import annotations

import threading
import time

from sqlalchemy import select, text
from sqlmodel import col

from bot import pipeline
from bot.models import InboxEvent
from bot.pipeline import inbox
from core import db, write_lock
from core.models import ConsentText
from tests.builders import line_body, make_line_text_event, sign
from tests.fakes.line_api import line_api, line_api_server, line_env  # noqa: F401  (fixtures)


def _store(line_env, *events: dict) -> None:
    body = line_body(*events)
    raw, _courtesy = line_env.adapter.split_events(body, sign(body, line_env.secret))
    with db.session_scope() as s:
        pipeline.store_events(s, "line", raw)


def _wait_until(predicate) -> None:
    deadline = time.monotonic() + 10
    while not predicate():
        assert time.monotonic() < deadline, "the other thread never got there"
        time.sleep(0.001)


def test_a_batch_holding_the_write_lock_ends_early_when_a_webhook_store_waits(line_env, monkeypatch):
    _store(line_env, *[make_line_text_event("こんにちは", user_id=f"U-yield-{i}") for i in range(4)])
    lock = write_lock.lock_for(db.engine().url.database or "")
    assert lock is not None
    stored = threading.Event()
    real = inbox._process_event
    calls = 0

    def webhook_store() -> None:
        with write_lock.urgent_writes(), db.session_scope() as s:
            s.execute(text("UPDATE inbox_event SET attempts = attempts WHERE 0"))
        stored.set()

    def first_turn_writes_early(session, row, runtime, batch=None):
        nonlocal calls
        calls += 1
        outcome = real(session, row, runtime, batch)
        if calls == 1:
            # as a turn's autoflush would: the batch now holds SQLite's write lock mid-way
            session.execute(text("UPDATE inbox_event SET attempts = attempts WHERE 0"))
            threading.Thread(target=webhook_store).start()
            _wait_until(lambda: lock.urgent_waiting)
        return outcome

    monkeypatch.setattr(inbox, "_process_event", first_turn_writes_early)
    taken = pipeline.process_inbox_batch(4)
    assert stored.wait(10)
    assert calls < 4 and taken == calls  # the rest of the batch was left for the next pass
    with db.session_scope() as s:
        pending = s.execute(select(col(InboxEvent.id)).where(col(InboxEvent.state) == "pending")).all()
    assert len(pending) == 4 - taken
    monkeypatch.setattr(inbox, "_process_event", real)
    assert pipeline.process_inbox_batch(4) == 4 - taken  # and taken then


def test_warming_up_publishes_the_consent_text_before_any_turn(line_env):
    with db.session_scope() as s:
        assert s.execute(select(ConsentText)).first() is None
    pipeline.warm_up()
    with db.session_scope() as s:
        assert s.execute(select(ConsentText)).first() is not None
