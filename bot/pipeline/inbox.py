"""The inbox worker: takes stored events, runs their users' engine turns, marks them done.

It takes each user's oldest stored event, for up to ``TUNING.turn_batch`` users at once, runs
their engine turns and marks the events done in ONE transaction, so a crash anywhere means
"not processed" and the events are simply taken again (a batch that fails goes again one
event at a time). SQLite: the claim is a conditional UPDATE at the end of the transaction
(writes serialise); PostgreSQL: ``FOR UPDATE SKIP LOCKED`` (any number of workers).
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from datetime import timedelta

from sqlalchemy import and_, bindparam, exists, literal_column, or_, select, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from bot.models import InboxEvent
from bot.pipeline.registry import get_adapter, worker_channels
from bot.pipeline.store import _let_stores_go_first, is_postgres
from bot.pipeline.tuning import MAX_INBOX_ATTEMPTS, TUNING, backoff
from bot.pipeline.turns import TurnBatch, apply_side_effect, has_consent, maybe_loading, register_new_users
from core import clock, db
from core.models import Conversation
from core.rows import saved_id

log = logging.getLogger("ristapo.pipeline")


def _not_blocked():
    """No earlier pending event of the same user (per-user order: event time, then id)."""
    earlier = aliased(InboxEvent)
    return ~exists().where(
        earlier.channel == InboxEvent.channel,
        earlier.user_key == InboxEvent.user_key,
        # a literal, not a parameter: only then can the planner use the partial index
        # ix_inbox_event_pending_user (its WHERE must match the query's text)
        earlier.state == literal_column("'pending'"),
        or_(
            earlier.event_time < InboxEvent.event_time,
            and_(earlier.event_time == InboxEvent.event_time, earlier.id < InboxEvent.id),
        ),
    )


@functools.cache
def _inbox_statements() -> dict:
    """Statements built once (building SQLAlchemy expressions costs more than running them)."""
    due = and_(
        col(InboxEvent.state) == literal_column("'pending'"),  # literal: matches the partial indexes
        or_(col(InboxEvent.lease_until).is_(None), col(InboxEvent.lease_until) <= bindparam("now")),
        _not_blocked(),
    )
    return {
        "candidates": select(col(InboxEvent.id))
        .where(col(InboxEvent.channel).in_(bindparam("channels", expanding=True)), due)
        .order_by(col(InboxEvent.event_time), col(InboxEvent.id))
        .limit(bindparam("limit")),
        "take": select(InboxEvent).where(col(InboxEvent.id) == bindparam("eid"), due),
        "take_pg": select(InboxEvent).where(col(InboxEvent.id) == bindparam("eid"), due).with_for_update(skip_locked=True),
        # why synchronize_session=False: the taken row object is not read after this UPDATE
        # (the transaction ends), so the ORM need not evaluate the statement against it
        "finish": update(InboxEvent)
        .where(col(InboxEvent.id) == bindparam("eid"), col(InboxEvent.state) == "pending")
        .values(state="done", processed_at=bindparam("at"), lease_until=None, attempts=col(InboxEvent.attempts) + 1, last_error=None)
        .execution_options(synchronize_session=False),
        "finish_erase": update(InboxEvent)
        .where(col(InboxEvent.id) == bindparam("eid"), col(InboxEvent.state) == "pending")
        .values(state="done", processed_at=bindparam("at"), lease_until=None, attempts=col(InboxEvent.attempts) + 1, last_error=None, payload=None)
        .execution_options(synchronize_session=False),
        # the same for a batch of events (ids), one statement each
        "take_many": select(InboxEvent).where(col(InboxEvent.id).in_(bindparam("eids", expanding=True)), due),
        # PostgreSQL: the ids of the oldest due events not locked by another worker, locked for
        # this one (ids only: sorting whole rows, payloads included, cost PostgreSQL more than
        # everything else once a backlog built up)
        "claim_pg": select(col(InboxEvent.id))
        .where(col(InboxEvent.channel).in_(bindparam("channels", expanding=True)), due)
        .order_by(col(InboxEvent.event_time), col(InboxEvent.id))
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True),
        "by_ids": select(InboxEvent).where(col(InboxEvent.id).in_(bindparam("eids", expanding=True))).order_by(col(InboxEvent.event_time), col(InboxEvent.id)),
        "finish_many": update(InboxEvent)
        .where(col(InboxEvent.id).in_(bindparam("eids", expanding=True)), col(InboxEvent.state) == "pending")
        .values(state="done", processed_at=bindparam("at"), lease_until=None, attempts=col(InboxEvent.attempts) + 1, last_error=None)
        .execution_options(synchronize_session=False),
        "finish_many_erase": update(InboxEvent)
        .where(col(InboxEvent.id).in_(bindparam("eids", expanding=True)), col(InboxEvent.state) == "pending")
        .values(state="done", processed_at=bindparam("at"), lease_until=None, attempts=col(InboxEvent.attempts) + 1, last_error=None, payload=None)
        .execution_options(synchronize_session=False),
    }


def _inbox_candidates(session: Session, channels: list[str], limit: int) -> list[int]:
    """Ids of the oldest pending event of each user that is due (per-user order by time, id)."""
    stmt = _inbox_statements()["candidates"]
    return list(session.execute(stmt, {"channels": channels, "limit": limit, "now": clock.now()}).scalars())


class _LostClaim(Exception):
    """Another worker finished this event first; this transaction must not commit."""


def _take_inbox(session: Session, event_id: int) -> InboxEvent | None:
    """Loads one due event for this transaction, or None if it is not (or no longer) ours to do.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` — N workers take different rows without waiting;
    the row lock lasts the whole turn, so it *is* the lease. SQLite has one writer at a time,
    so there the claim is the conditional UPDATE in :func:`_finish_inbox` at the end of the
    same transaction: whoever commits first wins, a loser rolls back everything it wrote.
    Why at the end: SQLite's write lock is taken at the first write, and the engine's work
    before it must not block the webhook's inserts.
    """
    stmts = _inbox_statements()
    stmt = stmts["take_pg"] if is_postgres(session) else stmts["take"]
    return session.execute(
        stmt, {"eid": event_id, "now": clock.now()}, execution_options={"populate_existing": True}
    ).scalar_one_or_none()


def _finish_inbox(session: Session, event_id: int, *, erase: bool) -> None:
    """Marks the event done (and erases its payload if asked) — only if it is still pending."""
    stmt = _inbox_statements()["finish_erase" if erase else "finish"]
    # Core execution on the session's connection: the caller has flushed, nothing ORM to do
    res = session.connection().execute(stmt, {"eid": event_id, "at": clock.now()})
    if res.rowcount != 1:
        raise _LostClaim()


def _take_many(session: Session, event_ids: list[int]) -> list[InboxEvent]:
    """:func:`_take_inbox` for a SQLite batch: the events of ``event_ids`` that are still due (claimed at the finish)."""
    rows = session.execute(
        _inbox_statements()["take_many"], {"eids": event_ids, "now": clock.now()}, execution_options={"populate_existing": True}
    ).scalars()
    return list(rows)


def _finish_many(session: Session, done: list[tuple[int, bool]]) -> None:
    """:func:`_finish_inbox` for a batch of ``(event id, erase)``; all or nothing (:class:`_LostClaim`)."""
    stmts = _inbox_statements()
    conn = session.connection()
    at = clock.now()
    finished = 0
    for erase in (False, True):
        ids = [eid for eid, e in done if e is erase]
        if ids:
            finished += conn.execute(stmts["finish_many_erase" if erase else "finish_many"], {"eids": ids, "at": at}).rowcount
    if finished != len(done):
        raise _LostClaim()



def _process_event(session: Session, row: InboxEvent, runtime, batch: TurnBatch | None = None) -> str:
    """Interprets and handles one taken event inside the caller's transaction, then marks it done.

    With ``batch`` the event is marked done (and its writes made) by :func:`_run_batch`.
    """
    from bot.service import handle_inbound

    adapter = get_adapter(row.channel)
    assert adapter is not None
    if batch is not None and row.id in batch.interpreted:
        it = batch.interpreted[row.id]
    else:
        it = adapter.to_inbound(row.payload) if row.payload is not None else None
    outcome = "ignored"
    erase = True
    if it is not None and it.inbound is not None:
        handled = handle_inbound(
            session,
            runtime,
            channel=row.channel,
            platform_id=it.platform_user_id,
            inbound=it.inbound,
            reply_token=it.reply_token,
            reply_deadline=it.reply_deadline,
            loaded=batch.loaded.get((row.channel, it.platform_user_id)) if batch is not None else None,
            writes=batch.writes if batch is not None else None,
        )
        conv = handled.conversation or session.get(Conversation, handled.conversation_id)
        # why: without consent A nothing the user wrote outlives the turn
        erase = conv is None or conv.consent_version is None
        outcome = "handled"
    elif it is not None:
        user = apply_side_effect(session, row.channel, it, row)
        erase = not has_consent(session, user)
        outcome = it.side_effect or "ignored"
    if batch is not None:
        batch.done.append((saved_id(row), erase))
        return outcome
    session.flush()
    _finish_inbox(session, saved_id(row), erase=erase)
    return outcome


def _record_inbox_failure(event_id: int, exc: BaseException) -> None:
    with db.session_scope() as session:
        row = session.get(InboxEvent, event_id)
        if row is None or row.state != "pending":
            return
        row.attempts = (row.attempts or 0) + 1
        row.last_error = type(exc).__name__[:80]
        if row.attempts >= MAX_INBOX_ATTEMPTS:
            row.state = "failed"
            row.lease_until = None
            log.error("inbox event failed for good", extra={"channel": row.channel, "event_id": row.id, "attempts": row.attempts})
            from handoff import notify

            notify.publish(session, "inbox_failed", inbox_id=row.id)
        else:
            row.lease_until = clock.now() + timedelta(seconds=backoff(row.attempts))
        session.add(row)



def process_inbox_batch(limit: int = 50, *, loop: asyncio.AbstractEventLoop | None = None) -> int:
    """Processes up to ``limit`` due events (blocking; run it in a thread). Returns how many were taken.

    Events go in groups of up to ``TUNING.turn_batch`` per transaction; a group that fails for any
    reason is rolled back and its events are taken one by one, so one poison event costs its
    neighbours a retry, never their turn. PostgreSQL: :func:`_process_locked_groups`.
    """
    from bot.runtime import get_runtime

    channels = worker_channels()
    if not channels:
        return 0
    runtime = get_runtime()
    if db.engine().dialect.name == "postgresql":
        return _process_locked_groups(channels, limit, runtime, loop)
    with Session(db.engine(), expire_on_commit=False) as s:
        ids = _inbox_candidates(s, channels, limit)
    # why shuffle: these are the oldest due events of *different* users, so their order does not
    # matter, and workers in other processes then rarely compute the same turn twice
    random.shuffle(ids)
    taken = 0
    for start in range(0, len(ids), TUNING.turn_batch):
        group = ids[start : start + TUNING.turn_batch]
        _let_stores_go_first()
        if len(group) > 1:
            try:
                taken += _process_group(group, runtime, loop)
                continue
            except _LostClaim:
                pass  # another worker did some of them: the rest go one by one
            except Exception as exc:
                log.info("inbox batch rolled back; its events go one by one", extra={"error_type": type(exc).__name__, "events": len(group)})
        for event_id in group:
            taken += _process_one(event_id, runtime, loop)
    return taken


def _process_group(event_ids: list[int], runtime, loop: asyncio.AbstractEventLoop | None) -> int:
    """SQLite: takes and processes a group of events (different users) in ONE transaction; all or nothing."""
    interpreted = register_new_users(event_ids)
    with db.session_scope() as session:
        rows = _take_many(session, event_ids)
        if not rows:
            return 0
        return _run_batch(session, rows, runtime, loop, interpreted)


def _process_locked_groups(channels: list[str], limit: int, runtime, loop: asyncio.AbstractEventLoop | None) -> int:
    """PostgreSQL: each group is taken with ``FOR UPDATE SKIP LOCKED`` in the transaction that turns it.

    Why no separate candidate list here: every worker would read the same oldest events and
    then fight over them; a locking read hands each worker different events, and the lock on a
    user's oldest pending event keeps every other worker off that user (their later events are
    not due), so new users can be created in the same transaction.
    """
    taken = 0
    while taken < limit:
        ids: list[int] = []
        try:
            with db.session_scope() as session:
                stmt = _inbox_statements()["claim_pg"]
                want = min(TUNING.turn_batch, limit - taken)
                params = {"channels": channels, "now": clock.now(), "limit": want}
                ids = list(session.execute(stmt, params).scalars())
                if not ids:
                    return taken
                # why: fewer than asked means nothing else was due; another claim now would be
                # an empty transaction (the loop goes round again soon, see loops.inbox_loop)
                drained = len(ids) < want
                rows = list(session.execute(
                    _inbox_statements()["by_ids"], {"eids": ids}, execution_options={"populate_existing": True}
                ).scalars())
                _run_batch(session, rows, runtime, loop)
            taken += len(ids)
            if drained:
                return taken
        except Exception as exc:
            if not ids:
                raise  # the claim itself failed (database unreachable): the caller logs and waits
            log.info("inbox batch rolled back; its events go one by one", extra={"error_type": type(exc).__name__, "events": len(ids)})
            # and this pass ends here: if the database itself failed, the next claim would raise
            return taken + sum(_process_one(event_id, runtime, loop) for event_id in ids)
    return taken


def _run_batch(session: Session, rows: list[InboxEvent], runtime, loop, interpreted: dict | None = None) -> int:
    """Runs the turns of ``rows`` and marks them done; returns how many (SQLite may stop early, below)."""
    batch = TurnBatch(session, rows, interpreted)
    sqlite = db.locking_connection(session)
    for row in rows:
        maybe_loading(row, loop, batch.interpreted.get(saved_id(row)))
        _process_event(session, row, runtime, batch)
        if sqlite is not None and sqlite.urgent_writer_waiting:
            # why: a turn wrote early (an autoflush) and so holds SQLite's only write lock, which a
            # webhook store now waits for; commit the turns done so far and leave the rest pending
            # (not claimed: the claim is the finish below) for the next pass
            break
    batch.write(session)
    _finish_many(session, batch.done)  # the SQLite claim: all or none
    return len(batch.done)


def _process_one(event_id: int, runtime, loop: asyncio.AbstractEventLoop | None) -> int:
    """Takes and processes one event in its own transaction; records a failure for a later retry."""
    try:
        with db.session_scope() as session:
            row = _take_inbox(session, event_id)
            if row is None:
                return 0
            maybe_loading(row, loop)
            _process_event(session, row, runtime)
        return 1
    except _LostClaim:
        return 0  # another worker did it; everything this one wrote was rolled back
    except Exception as exc:
        log.exception("inbox event raised; will retry", extra={"event_id": event_id})
        with contextlib.suppress(Exception):
            _record_inbox_failure(event_id, exc)
        return 0


async def run_inbox_once(limit: int = 50) -> int:
    """Processes the due inbox events once (tests, ``ristapo worker``); returns how many."""
    total = 0
    while True:
        n = await asyncio.to_thread(process_inbox_batch, limit, loop=asyncio.get_running_loop())
        total += n
        if n == 0:
            return total
