"""PostgreSQL: a worker idle in one process takes work committed by another at once (LISTEN/NOTIFY).

The worker here is the real inbox loop and listener on an event loop of their own (a thread),
as in ``ristapo worker``; the "other process" is a separate engine whose commit never pokes
this process in memory. The poll interval is 30 s, so only the NOTIFY can explain a prompt
turn; the variant with the listener off shows that the test would see the difference.
"""
from __future__ import annotations

import asyncio
import threading
import time

import pytest
from sqlalchemy import create_engine, select
from sqlmodel import Session

from bot import pipeline
from bot.models import InboxEvent
from bot.pipeline import listen, wake
from core import db, identity
from tests.builders import line_body, make_line_text_event, sign
from tests.fakes.line_api import line_api, line_api_server, line_env  # noqa: F401  (fixtures)

WITHIN_SECONDS = 5.0  # far below the 30 s poll


class _WorkerThread:
    """Worker loops and the listener on their own event loop, stopped cleanly at the end."""

    def __init__(self, *loops) -> None:
        self.loops = loops
        self.loop = asyncio.new_event_loop()
        self.tasks: list[asyncio.Task] = []
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

        async def spawn() -> None:
            self.tasks += [asyncio.create_task(make()) for make in (*self.loops, pipeline.listen_loop)]

        asyncio.run_coroutine_threadsafe(spawn(), self.loop).result(5)

    def stop(self) -> None:
        async def cancel() -> None:
            for t in self.tasks:
                t.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cancel(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def _state(event_id: str) -> str | None:
    with db.session_scope() as s:
        return s.execute(select(InboxEvent.state).where(InboxEvent.external_id == event_id)).scalar_one_or_none()


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.postgres(only=True)
@pytest.mark.parametrize("listening", [True, False], ids=["listener-on", "listener-off"])
def test_an_idle_worker_takes_another_process_commit_without_waiting_for_its_poll(line_env, db_backend, monkeypatch, listening):
    monkeypatch.setattr(pipeline.TUNING, "poll_seconds", 30.0)
    monkeypatch.setattr(pipeline.TUNING, "busy_poll_seconds", 30.0)
    monkeypatch.setattr(pipeline.TUNING, "listen", listening)
    worker = _WorkerThread(pipeline.inbox_loop)
    worker.start()
    other = create_engine(db.engine().url.render_as_string(hide_password=False))
    try:
        if listening:
            assert _wait(listen.listening, 10), "the listener did not connect"
        time.sleep(0.5)  # the loop's first pass found nothing: it now waits for 30 s
        ev = make_line_text_event("こんにちは", user_id="U-listen")
        body = line_body(ev)
        raw, _courtesy = line_env.adapter.split_events(body, sign(body, line_env.secret))
        with Session(other) as s:  # another process's webhook: stored and committed, no poke here
            pipeline.store_events(s, "line", raw)
            s.commit()
        event_id = raw[0].external_id
        done = _wait(lambda: _state(event_id) == "done", WITHIN_SECONDS)
        assert done is listening, "listener on: taken at once; off: still waiting for the 30 s poll"
    finally:
        worker.stop()
        other.dispose()
    assert not listen.listening()


@pytest.mark.postgres(only=True)
def test_an_outbox_row_committed_elsewhere_wakes_the_idle_delivery_worker(line_env, db_backend, monkeypatch):
    """The session hook's NOTIFY (a staff reply written by another process) reaches the delivery worker."""
    from core.messages import OutMessage
    from core.models import ChannelUser
    from core.outbox import enqueue

    line_env.post(make_line_text_event("こんにちは", user_id="U-listen-out"))
    line_env.process()  # the user exists and got the consent prompt
    sent_before = len(line_env.fake.accepted)
    monkeypatch.setattr(pipeline.TUNING, "poll_seconds", 30.0)
    monkeypatch.setattr(pipeline.TUNING, "busy_poll_seconds", 30.0)
    # why: this test's "other process" shares the process; its commit must not wake the
    # worker in memory (wake's own poke), only through PostgreSQL (the listener's poke)
    monkeypatch.setattr(wake, "poke", lambda kind: None)
    worker = _WorkerThread(pipeline.outbox_loop)
    worker.start()
    other = create_engine(db.engine().url.render_as_string(hide_password=False))
    try:
        assert _wait(listen.listening, 10), "the listener did not connect"
        time.sleep(0.5)  # the loop's first pass found nothing: it now waits for 30 s
        with Session(other) as s:
            user = s.execute(select(ChannelUser).where(ChannelUser.user_hash == identity.user_hash("line", "U-listen-out"))).scalar_one()
            enqueue(s, user=user, messages=[OutMessage("text", "担当者からの返事です")], sender="staff")
            s.commit()
        assert _wait(lambda: len(line_env.fake.accepted) > sent_before, WITHIN_SECONDS)
    finally:
        worker.stop()
        other.dispose()
