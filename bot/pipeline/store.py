"""Storing webhook events in the inbox (persist-then-ack), with concurrent requests grouped.

Webhook routes call :func:`store_and_ack` (or :func:`store_events`) and answer 200; nothing
else happens in the request. The inbox worker (bot/pipeline/inbox.py) does the rest.
"""
from __future__ import annotations

import asyncio
import functools
import threading
import time
import weakref
from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session

from bot.channels.base import RawEvent
from bot.models import InboxEvent
from bot.pipeline.tuning import STORE_GATHER_AFTER_SECONDS, STORE_LINGER_SECONDS
from bot.pipeline.wake import notify, poke
from core import clock, db, identity, write_lock
from core.rows import table_of


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def store_events(session: Session, channel: str, raw_events: Iterable[RawEvent]) -> int:
    """Inserts events, ignoring ones already stored (same channel + external id); returns how many are new.

    Concurrent duplicates end as one row: the unique constraint decides, not a prior SELECT.
    The caller commits (and then answers the platform 200).
    """
    stmt = _store_statement(session.get_bind().dialect.name)
    conn = session.connection()  # Core execution: no ORM work for a plain INSERT
    received = clock.now()
    rows = [_inbox_row(channel, raw, received) for raw in raw_events]
    added = sum(max(conn.execute(stmt, row).rowcount or 0, 0) for row in rows)
    if rows:
        # why not "if added": PostgreSQL reports no rowcount for this INSERT (it has RETURNING);
        # a redelivery then wakes the workers for nothing, which costs one empty claim
        notify(conn, "inbox", coalesce=True)  # other processes' workers, at the caller's commit
    return added


def _inbox_row(channel: str, raw: RawEvent, received: datetime) -> dict:
    return dict(
        channel=channel,
        external_id=raw.external_id,
        user_key=identity.user_hash(channel, raw.platform_user_id) if raw.platform_user_id else None,
        event_time=raw.event_time or received,
        payload=raw.payload,
        state="pending",
        attempts=0,
        received_at=received,
    )


@functools.cache
def _store_statement(dialect: str):
    """INSERT ... ON CONFLICT (channel, external_id) DO NOTHING, built once per dialect."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table_of(InboxEvent)).on_conflict_do_nothing(index_elements=["channel", "external_id"])
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table_of(InboxEvent)).on_conflict_do_nothing(index_elements=["channel", "external_id"])
    raise RuntimeError(f"unsupported database {dialect}")  # pragma: no cover - only the two supported engines


# why: SQLite has one writer; a webhook insert waiting behind a stream of inbox turns would wait
# long. In-process, the inbox worker lets a store in progress go first before each group (and
# the write lock of core/write_lock.py lets an urgent store go before other waiting writers, and
# ends a batch early that took the lock before its end: bot/pipeline/inbox.py, _run_batch).
_store_gate = threading.Condition()
_stores_waiting = 0


def _store_batch(batch: list[tuple[str, list[RawEvent]]]) -> None:
    """Every event of these requests in one transaction and one executemany (duplicates ignored).

    Why one executemany: a burst arrives as one group; row by row through SQLAlchemy cost
    ≈ 0.1 ms each, and every request of the group waits for the last row.
    """
    global _stores_waiting
    with _store_gate:
        _stores_waiting += 1
    try:
        received = clock.now()
        rows = [_inbox_row(channel, raw, received) for channel, events in batch for raw in events]
        if not rows:
            return
        # why urgent: the platform waits for this commit; the worker's and the outbox's writes can wait
        with write_lock.urgent_writes(), db.session_scope() as session:
            conn = session.connection()
            conn.execute(_store_statement(conn.dialect.name), rows)
            notify(conn, "inbox", coalesce=True)  # other processes' workers, at this commit
    finally:
        with _store_gate:
            _stores_waiting -= 1
            _store_gate.notify_all()


def _let_stores_go_first() -> None:
    with _store_gate:
        _store_gate.wait_for(lambda: _stores_waiting == 0, timeout=1.0)


class _GroupCommit:
    """Stores the events of concurrent webhook requests in one transaction (group commit).

    Why: SQLite has one writer; 200 requests each committing alone queue behind each other,
    while one commit for all that arrived meanwhile keeps every answer fast. Each request is
    still answered only after *its* events are committed.
    """

    def __init__(self) -> None:
        self.pending: list[tuple[str, list[RawEvent], asyncio.Future]] = []
        self.task: asyncio.Task | None = None
        self.last_store = float("-inf")  # monotonic start of the last store

    async def store(self, channel: str, events: list[RawEvent]) -> None:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self.pending.append((channel, events, fut))
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._drain())
        return await asyncio.shield(fut)

    async def _drain(self) -> None:
        while self.pending:
            now = time.monotonic()
            if now - self.last_store < STORE_GATHER_AFTER_SECONDS:
                # why: while requests flow, each arriving alone would cost a transaction of its
                # own (and on PostgreSQL its commit); a lone request after a quiet spell goes at once
                await asyncio.sleep(STORE_LINGER_SECONDS)
            self.last_store = time.monotonic()
            batch, self.pending = self.pending, []
            try:
                await asyncio.to_thread(_store_batch, [(c, e) for c, e, _f in batch])
            except Exception as exc:
                for _c, _e, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for _c, _e, fut in batch:
                if not fut.done():
                    fut.set_result(None)
            poke("inbox")


_group_commits: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _GroupCommit] = weakref.WeakKeyDictionary()


async def store_and_ack(channel: str, events: list[RawEvent]) -> None:
    """For webhook routes: durably stores ``events`` (with concurrent requests), wakes the inbox worker.

    Events already stored (a redelivery) are ignored. Raises if the database failed: answer
    non-2xx so the platform redelivers.
    """
    if not events:
        return
    loop = asyncio.get_running_loop()
    gc = _group_commits.get(loop)
    if gc is None:
        gc = _group_commits[loop] = _GroupCommit()
    return await gc.store(channel, events)
