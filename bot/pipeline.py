"""The durable pipeline every channel shares: inbox (persist-then-ack) and outbox delivery.

Webhook routes call :func:`store_and_ack` (or :func:`store_events`) and answer 200; nothing
else happens in the request. The **inbox worker** takes each user's oldest stored event, for
up to ``TURN_BATCH`` users at once, runs their engine turns and marks the events done in ONE
transaction, so a crash anywhere means "not processed" and the events are simply taken again
(a batch that fails goes again one event at a time). The **delivery worker** takes due outbox
rows with a lease, calls :meth:`ChannelAdapter.send` and records the outcome; sending is
idempotent (LINE ``X-Line-Retry-Key`` = outbox id; the calls of a multi-call message already
made are kept in the row), so a crash between "sent" and "recorded" costs at most a 409,
never a second message.

Reply tokens (LINE) have no idempotency key, so the row records a reply *before* it is made:
the claim that leases a row with a fresh token sets ``reply_state = "sending"`` in the same
committed UPDATE (``attempts``, incremented there too, is the attempt's id: an outcome is
recorded only by the attempt that still holds the row). A later claim that finds "sending"
(its worker died mid-call) or "unknown" (5xx/timeout) cannot know whether LINE took the
reply; it marks the row "unknown" and the adapter may only try the *same token* again: a
used token fails with 400, which then means "delivered". Only a reply known to have failed
(``reply_state = "failed"``, recorded by :func:`finish_jobs`) lets a later attempt push.
Not lost and not doubled conflict only when the outcome is unknown *and* the token has
expired: the row then ends ``unconfirmed`` (not pushed again; see LineAdapter.send).

Works on SQLite (conditional UPDATE claims; writes serialise) and PostgreSQL
(``FOR UPDATE SKIP LOCKED``; any number of ``ristapo worker`` processes). Workers poll the
database (other processes) and wake at once when this process commits new work
(:func:`poke`).
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, case, event, exists, literal_column, or_, select, update
from sqlalchemy.orm import aliased
from sqlmodel import Session

from bot.channels.base import ChannelAdapter, Interpreted, RawEvent, SendOutcome, SendResult
from bot.models import InboxEvent
from core import db, identity
from core import clock
from core.messages import OutMessage
from core.outbox import OUTBOX_ADDED
from core.models import ChannelUser, Conversation, Message, OutboxMessage, OutboxState

log = logging.getLogger("ristapo.pipeline")


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


# Tunables. Env overrides exist for the crash test and operators, not for everyday use.
MAX_SEND_ATTEMPTS = 6  # then "dead" and a staff alert
MAX_INBOX_ATTEMPTS = 5  # a poison event stops blocking its user's queue after this
POLL_SECONDS = _env_float("RISTAPO_WORKER_POLL_SECONDS", 1.0)
# why a shorter poll after recent work: other processes' commits do not wake this one; while
# traffic flows, a worker that has just run dry looks again soon instead of sleeping a second
BUSY_POLL_SECONDS = min(_env_float("RISTAPO_WORKER_BUSY_POLL_SECONDS", 0.1), POLL_SECONDS)
BUSY_WINDOW_SECONDS = 5.0
OUTBOX_LEASE_SECONDS = _env_float("RISTAPO_OUTBOX_LEASE_SECONDS", 60.0)
# why shorter for a row with a live reply token: after a crash, only a retry with the same
# token, before it expires (≈ 50 s), can tell whether LINE took the reply; a reply call times
# out after 10 s, and a second worker retrying the same token meanwhile cannot send it twice
REPLY_LEASE_SECONDS = min(OUTBOX_LEASE_SECONDS, 15.0)
RETRY_BASE_SECONDS = _env_float("RISTAPO_RETRY_BASE_SECONDS", 5.0)
RETRY_MAX_SECONDS = 600.0
SEND_CONCURRENCY = 32
FINISH_LINGER_SECONDS = 0.005  # outbox: let a few more sends complete before recording them together
# why batches: a turn's statements cost more than its thinking, and per batch they run once
TURN_BATCH = max(1, int(_env_float("RISTAPO_TURN_BATCH", 32)))
LOADING_AFTER_SECONDS = 1.0  # show a "typing" hint only when the user has already waited


# --------------------------------------------------------------------------- registry

_adapters: dict[str, ChannelAdapter] = {}


def register_adapter(adapter: ChannelAdapter) -> None:
    """Makes ``adapter`` the one for its channel in this process (a newer one replaces it)."""
    _adapters[adapter.name] = adapter


def unregister_adapter(name: str) -> None:
    _adapters.pop(name, None)


def get_adapter(name: str) -> ChannelAdapter | None:
    return _adapters.get(name)


def worker_channels() -> list[str]:
    """Channels whose inbox/outbox rows this process works on (web/terminal deliver elsewhere)."""
    return sorted(_adapters)


# --------------------------------------------------------------------------- wake-ups


class _Waker:
    """An asyncio.Event that any thread can set (webhook commit, inbox commit, console reply)."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()

    def set(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to wake
            self.loop.call_soon_threadsafe(self.event.set)

    async def wait(self, timeout: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.event.wait(), timeout)
        self.event.clear()

    async def idle(self, last_work: float) -> None:
        """Waits for a poke, or polls: soon while work came recently, else every POLL_SECONDS."""
        recent = time.monotonic() - last_work < BUSY_WINDOW_SECONDS
        await self.wait(BUSY_POLL_SECONDS if recent else POLL_SECONDS)


_wakers: dict[str, list[_Waker]] = {"inbox": [], "outbox": []}


def poke(kind: str) -> None:
    """Wakes this process's ``inbox`` or ``outbox`` workers now (new work was committed)."""
    for w in list(_wakers.get(kind, [])):
        w.set()


def poke_inbox() -> None:
    poke("inbox")


def poke_outbox() -> None:
    poke("outbox")


@event.listens_for(Session, "after_flush")
def _note_outbox_rows(session, _ctx):  # pragma: no cover - trivial
    # why: staff replies (console) and engine turns add outbox rows from many places; one hook
    # wakes the delivery worker after their commit without each caller knowing about it.
    for obj in session.new:
        if isinstance(obj, OutboxMessage) and obj.state == OutboxState.pending.value:
            session.info[OUTBOX_ADDED] = True
            return


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session):  # pragma: no cover - trivial
    if session.info.pop(OUTBOX_ADDED, False):
        poke("outbox")


# --------------------------------------------------------------------------- inbox: storing


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def store_events(session: Session, channel: str, raw_events: Iterable[RawEvent]) -> int:
    """Inserts events, ignoring ones already stored (same channel + external id); returns how many are new.

    Concurrent duplicates end as one row: the unique constraint decides, not a prior SELECT.
    The caller commits (and then answers the platform 200).
    """
    stmt = _store_statement(session.get_bind().dialect.name)
    conn = session.connection()  # Core execution: no ORM work for a plain INSERT
    received = clock.now()
    return sum(max(conn.execute(stmt, _inbox_row(channel, raw, received)).rowcount or 0, 0) for raw in raw_events)


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
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # pragma: no cover - only the two supported engines
        raise RuntimeError(f"unsupported database {dialect}")
    return dialect_insert(InboxEvent.__table__).on_conflict_do_nothing(index_elements=["channel", "external_id"])


# why: SQLite has one writer, and its busy handler sleeps in growing steps; a webhook insert
# waiting behind a stream of inbox turns would wait long. In-process, the inbox worker lets a
# waiting insert go first (it waits at most for the one batch in flight, whose writes all
# come at its end).
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
        with db.session_scope() as session:
            session.connection().execute(_store_statement(session.get_bind().dialect.name), rows)
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

    async def store(self, channel: str, events: list[RawEvent]) -> None:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self.pending.append((channel, events, fut))
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._drain())
        return await asyncio.shield(fut)

    async def _drain(self) -> None:
        while self.pending:
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


_group_commits: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _GroupCommit]" = weakref.WeakKeyDictionary()


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


# --------------------------------------------------------------------------- inbox: processing


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
        InboxEvent.state == literal_column("'pending'"),  # literal: matches the partial indexes
        or_(InboxEvent.lease_until.is_(None), InboxEvent.lease_until <= bindparam("now")),
        _not_blocked(),
    )
    return {
        "candidates": select(InboxEvent.id)
        .where(InboxEvent.channel.in_(bindparam("channels", expanding=True)), due)
        .order_by(InboxEvent.event_time, InboxEvent.id)
        .limit(bindparam("limit")),
        "take": select(InboxEvent).where(InboxEvent.id == bindparam("eid"), due),
        "take_pg": select(InboxEvent).where(InboxEvent.id == bindparam("eid"), due).with_for_update(skip_locked=True),
        # why synchronize_session=False: the taken row object is not read after this UPDATE
        # (the transaction ends), so the ORM need not evaluate the statement against it
        "finish": update(InboxEvent)
        .where(InboxEvent.id == bindparam("eid"), InboxEvent.state == "pending")
        .values(state="done", processed_at=bindparam("at"), lease_until=None, attempts=InboxEvent.attempts + 1, last_error=None)
        .execution_options(synchronize_session=False),
        "finish_erase": update(InboxEvent)
        .where(InboxEvent.id == bindparam("eid"), InboxEvent.state == "pending")
        .values(state="done", processed_at=bindparam("at"), lease_until=None, attempts=InboxEvent.attempts + 1, last_error=None, payload=None)
        .execution_options(synchronize_session=False),
        # the same for a batch of events (ids), one statement each
        "take_many": select(InboxEvent).where(InboxEvent.id.in_(bindparam("eids", expanding=True)), due),
        # PostgreSQL: the ids of the oldest due events not locked by another worker, locked for
        # this one (ids only: sorting whole rows, payloads included, cost PostgreSQL more than
        # everything else once a backlog built up)
        "claim_pg": select(InboxEvent.id)
        .where(InboxEvent.channel.in_(bindparam("channels", expanding=True)), due)
        .order_by(InboxEvent.event_time, InboxEvent.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True),
        "by_ids": select(InboxEvent).where(InboxEvent.id.in_(bindparam("eids", expanding=True))).order_by(InboxEvent.event_time, InboxEvent.id),
        "finish_many": update(InboxEvent)
        .where(InboxEvent.id.in_(bindparam("eids", expanding=True)), InboxEvent.state == "pending")
        .values(state="done", processed_at=bindparam("at"), lease_until=None, attempts=InboxEvent.attempts + 1, last_error=None)
        .execution_options(synchronize_session=False),
        "finish_many_erase": update(InboxEvent)
        .where(InboxEvent.id.in_(bindparam("eids", expanding=True)), InboxEvent.state == "pending")
        .values(state="done", processed_at=bindparam("at"), lease_until=None, attempts=InboxEvent.attempts + 1, last_error=None, payload=None)
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
    stmt = stmts["take_pg"] if _is_postgres(session) else stmts["take"]
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


def _interpret(channel: str, payload: str | None) -> Interpreted | None:
    adapter = get_adapter(channel)
    return adapter.to_inbound(payload) if adapter is not None and payload is not None else None


def _users_by_channel(rows, interpreted: dict[int, Interpreted | None]) -> dict[str, list[str]]:
    """The platform ids of the users whose messages these rows are, per channel (each once)."""
    out: dict[str, dict[str, None]] = {}
    for row in rows:
        it = interpreted.get(row.id)
        if it is not None and it.inbound is not None and it.platform_user_id:
            out.setdefault(row.channel, {})[it.platform_user_id] = None
    return {channel: list(pids) for channel, pids in out.items()}


def _register_new_users(event_ids: list[int]) -> dict[int, Interpreted | None]:
    """SQLite: creates the not-yet-known users of these events (and their first conversation), committed.

    Why a transaction of its own, before the batch: on SQLite a write holds the database's only
    write lock until the commit, and a batch's first write would otherwise be these users,
    so every webhook arriving during the batch's turns would wait for the whole batch. A user
    row with an empty conversation is what a first turn starts from anyway; if the turn then
    fails, it is retried from there. Returns the events' interpretation for the batch to reuse.
    """
    from bot.service import create_users, load_turns

    with db.session_scope() as session:
        rows = session.execute(
            select(InboxEvent.id, InboxEvent.channel, InboxEvent.payload).where(InboxEvent.id.in_(event_ids), InboxEvent.state == "pending")
        ).all()
        interpreted = {row.id: _interpret(row.channel, row.payload) for row in rows}
        for channel, pids in _users_by_channel(rows, interpreted).items():
            found = load_turns(session, channel, pids)
            create_users(session, channel, [pid for pid in pids if pid not in found])
    return interpreted


class _TurnBatch:
    """What the turns of one batch share: their users' rows (loaded at once) and their writes.

    Why: a turn's own statements (load the user, insert the transcript and outbox rows, mark
    the event done, commit) cost more than its thinking; per batch they run once.
    """

    def __init__(self, session: Session, rows: list[InboxEvent], interpreted: dict[int, Interpreted | None] | None = None) -> None:
        from bot.service import TurnWrites, create_users, load_turns

        self.writes = TurnWrites(deferred=True)
        self.done: list[tuple[int, bool]] = []
        known = interpreted or {}
        self.interpreted = {row.id: known[row.id] if row.id in known else _interpret(row.channel, row.payload) for row in rows}
        self.loaded: dict[tuple[str, str], tuple] = {}
        for channel, pids in _users_by_channel(rows, self.interpreted).items():
            found = load_turns(session, channel, pids)
            # new users are created here on PostgreSQL (their events are locked by this worker);
            # on SQLite normally none are left (see _register_new_users)
            found.update(create_users(session, channel, [pid for pid in pids if pid not in found]))
            self.loaded.update({(channel, pid): got for pid, got in found.items()})

    def finish(self, session: Session) -> None:
        """Writes the collected rows, then marks every event done (the SQLite claim: all or none)."""
        self.writes.flush(session)
        session.flush()
        _finish_many(session, self.done)


def _find_user(session: Session, channel: str, platform_id: str) -> ChannelUser | None:
    key = identity.user_hash(channel, platform_id)
    return session.execute(
        select(ChannelUser).where(ChannelUser.channel == channel, ChannelUser.user_hash == key)
    ).scalar_one_or_none()


def _has_consent(session: Session, user: ChannelUser | None) -> bool:
    if user is None:
        return False
    got = session.execute(
        select(Conversation.id).where(
            Conversation.user_id == user.id, Conversation.closed == False, Conversation.consent_version.is_not(None)  # noqa: E712
        )
    ).first()
    return got is not None


def _apply_side_effect(session: Session, channel: str, it: Interpreted, row: InboxEvent) -> ChannelUser | None:
    effect = it.side_effect or ""
    user = _find_user(session, channel, it.platform_user_id) if it.platform_user_id else None
    if effect == "unfollow" and user is not None:
        # why not erase: blocking is not a deletion request; retention removes the rest in time
        user.active = False
        session.add(user)
    elif effect.startswith("unsend:") and user is not None:
        message_id = effect.split(":", 1)[1]
        conv_ids = select(Conversation.id).where(Conversation.user_id == user.id)
        for msg in session.execute(
            select(Message).where(Message.external_id == message_id, Message.conversation_id.in_(conv_ids))
        ).scalars():
            session.delete(msg)
        _erase_unsent_payload(session, channel, row, message_id)
    elif effect not in ("", "ignore", "group", "unfollow") and not effect.startswith("unsend:"):
        log.info("inbox event acknowledged without action", extra={"channel": channel, "kind": effect[:20]})
    return user


def _erase_unsent_payload(session: Session, channel: str, row: InboxEvent, message_id: str) -> None:
    """The stored raw event of an unsent message still holds its text: erase that payload too."""
    adapter = get_adapter(channel)
    for other in session.execute(
        select(InboxEvent).where(
            InboxEvent.channel == channel, InboxEvent.user_key == row.user_key, InboxEvent.payload.is_not(None), InboxEvent.id != row.id
        )
    ).scalars():
        try:
            it = adapter.to_inbound(other.payload) if adapter else None
        except Exception:
            continue
        if it is not None and it.inbound is not None and it.inbound.external_id == message_id:
            other.payload = None
            session.add(other)


def _process_event(session: Session, row: InboxEvent, runtime, batch: _TurnBatch | None = None) -> str:
    """Interprets and handles one taken event inside the caller's transaction, then marks it done.

    With ``batch`` the event is marked done (and its writes made) by :meth:`_TurnBatch.finish`.
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
        user = _apply_side_effect(session, row.channel, it, row)
        erase = not _has_consent(session, user)
        outcome = it.side_effect or "ignored"
    if batch is not None:
        batch.done.append((row.id, erase))
        return outcome
    session.flush()
    _finish_inbox(session, row.id, erase=erase)
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
            row.lease_until = clock.now() + timedelta(seconds=_backoff(row.attempts))
        session.add(row)


def _maybe_loading(row: InboxEvent, loop: asyncio.AbstractEventLoop | None, it: Interpreted | None = None) -> None:
    """Asks the adapter for a typing/loading hint when the user has been waiting a while."""
    if loop is None or row.payload is None or row.event_time is None:
        return
    if (clock.now() - row.event_time).total_seconds() < LOADING_AFTER_SECONDS:
        return
    adapter = get_adapter(row.channel)
    hint = getattr(adapter, "show_processing", None)
    if hint is None:
        return
    if it is None:
        try:
            it = adapter.to_inbound(row.payload)
        except Exception:
            return
    if it is None or it.inbound is None or it.inbound.kind != "text":
        return
    with contextlib.suppress(RuntimeError):
        asyncio.run_coroutine_threadsafe(hint(it.platform_user_id), loop)


def process_inbox_batch(limit: int = 50, *, loop: asyncio.AbstractEventLoop | None = None) -> int:
    """Processes up to ``limit`` due events (blocking; run it in a thread). Returns how many were taken.

    Events go in groups of up to ``TURN_BATCH`` per transaction; a group that fails for any
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
    for start in range(0, len(ids), TURN_BATCH):
        group = ids[start : start + TURN_BATCH]
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
    interpreted = _register_new_users(event_ids)
    with db.session_scope() as session:
        rows = _take_many(session, event_ids)
        if not rows:
            return 0
        _run_batch(session, rows, runtime, loop, interpreted)
    return len(rows)


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
                params = {"channels": channels, "now": clock.now(), "limit": min(TURN_BATCH, limit - taken)}
                ids = list(session.execute(stmt, params).scalars())
                if not ids:
                    return taken
                rows = list(session.execute(
                    _inbox_statements()["by_ids"], {"eids": ids}, execution_options={"populate_existing": True}
                ).scalars())
                _run_batch(session, rows, runtime, loop)
            taken += len(ids)
        except Exception as exc:
            if not ids:
                raise  # the claim itself failed (database unreachable): the caller logs and waits
            log.info("inbox batch rolled back; its events go one by one", extra={"error_type": type(exc).__name__, "events": len(ids)})
            # and this pass ends here: if the database itself failed, the next claim would raise
            return taken + sum(_process_one(event_id, runtime, loop) for event_id in ids)
    return taken


def _run_batch(session: Session, rows: list[InboxEvent], runtime, loop, interpreted: dict | None = None) -> None:
    batch = _TurnBatch(session, rows, interpreted)
    for row in rows:
        _maybe_loading(row, loop, batch.interpreted.get(row.id))
        _process_event(session, row, runtime, batch)
    batch.finish(session)


def _process_one(event_id: int, runtime, loop: asyncio.AbstractEventLoop | None) -> int:
    """Takes and processes one event in its own transaction; records a failure for a later retry."""
    try:
        with db.session_scope() as session:
            row = _take_inbox(session, event_id)
            if row is None:
                return 0
            _maybe_loading(row, loop)
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


# --------------------------------------------------------------------------- outbox


@dataclass
class SendJob:
    outbox_id: str
    channel: str
    user_id: int
    platform_id: str | None
    user_active: bool
    messages: list[OutMessage]
    reply_token: str | None
    reply_deadline: datetime | None
    attempts: int
    parts_sent: int = 0
    reply_retry: bool = False  # an earlier attempt may have used reply_token (outcome unknown)


def _backoff(attempts: int, retry_after: float | None = None) -> float:
    delay = min(RETRY_BASE_SECONDS * (2 ** max(attempts - 1, 0)), RETRY_MAX_SECONDS)
    delay *= random.uniform(0.8, 1.2)  # why jitter: many rows failing together must not retry in lockstep
    return max(delay, retry_after or 0.0)


@functools.cache
def _outbox_statements() -> dict:
    """Statements built once, parameterised by ``channels``, ``now``, ``lease``, ``limit``, ``oids``."""
    earlier = aliased(OutboxMessage)
    open_states = (OutboxState.pending.value, OutboxState.sending.value)
    blocked = exists().where(
        earlier.user_id == OutboxMessage.user_id,
        # literals, as the partial index ix_outbox_message_open_user says (see _not_blocked)
        earlier.state.in_([literal_column(f"'{state}'") for state in open_states]),
        or_(
            earlier.created_at < OutboxMessage.created_at,
            and_(earlier.created_at == OutboxMessage.created_at, earlier.id < OutboxMessage.id),
        ),
    )
    due = and_(
        OutboxMessage.channel.in_(bindparam("channels", expanding=True)),
        # "sending" with an expired lease: its worker died. Literals: they match the partial indexes
        OutboxMessage.state.in_([literal_column(f"'{state}'") for state in open_states]),
        OutboxMessage.next_try_at <= bindparam("now"),
        or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until <= bindparam("now")),
        ~blocked,  # why: a user's messages go out in the order they were written
    )
    job_columns = (
        OutboxMessage.id, OutboxMessage.channel, OutboxMessage.user_id, OutboxMessage.payload,
        OutboxMessage.reply_token, OutboxMessage.reply_deadline, OutboxMessage.attempts, OutboxMessage.created_at,
        OutboxMessage.parts_sent, OutboxMessage.reply_state,
    )
    take = dict(
        state=OutboxState.sending.value,
        attempts=OutboxMessage.attempts + 1,
        lease_until=case(
            (and_(OutboxMessage.reply_token.is_not(None), OutboxMessage.reply_deadline > bindparam("now")), bindparam("reply_lease")),
            else_=bindparam("lease"),
        ),
        # recorded before the call (see the module docstring): a fresh token becomes "sending";
        # "sending" found again means its attempt died mid-call: "unknown"
        reply_state=case(
            (OutboxMessage.reply_state == "sending", "unknown"),
            (
                and_(
                    OutboxMessage.reply_state.is_(None),
                    OutboxMessage.reply_token.is_not(None),
                    OutboxMessage.reply_deadline > bindparam("now"),
                ),
                "sending",
            ),
            else_=OutboxMessage.reply_state,
        ),
    )
    return {
        "candidates": select(OutboxMessage.id).where(due).order_by(OutboxMessage.created_at).limit(bindparam("limit")),
        # SQLite: the conditional UPDATE re-checks "due" under the write lock, so a row is
        # leased by exactly one process; RETURNING says which
        "lease": update(OutboxMessage)
        .where(OutboxMessage.id.in_(bindparam("oids", expanding=True)), due)
        .values(**take)
        .returning(OutboxMessage.id),
        # PostgreSQL: the due rows locked for this transaction (other workers skip them), then leased
        "claim_pg": select(*job_columns).where(due).order_by(OutboxMessage.created_at).limit(bindparam("limit")).with_for_update(skip_locked=True),
        "lease_pg": update(OutboxMessage).where(OutboxMessage.id.in_(bindparam("oids", expanding=True))).values(**take),
        "jobs": select(*job_columns).where(OutboxMessage.id.in_(bindparam("oids", expanding=True))),
        "users": select(ChannelUser.id, ChannelUser.platform_id, ChannelUser.active).where(ChannelUser.id.in_(bindparam("uids", expanding=True))),
        # why the attempts check: a row whose lease ran out may have been taken by another worker
        "delivered": update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(bindparam("oids", expanding=True)),
            OutboxMessage.state == OutboxState.sending.value,
            OutboxMessage.attempts == bindparam("tries"),
        )
        .values(state=OutboxState.delivered.value, delivered_at=bindparam("at"), lease_until=None, last_error=None, reply_token=None),
    }


def claim_outbox(limit: int) -> list[SendJob]:
    """Leases up to ``limit`` due rows (one per user, oldest first) and returns what to send.

    A reply token goes with the job while the row's ``reply_state`` says a reply is due
    ("sending") or may already have been made ("unknown"); see the module docstring.
    """
    channels = worker_channels()
    if not channels or limit <= 0:
        return []
    stmts = _outbox_statements()
    with db.session_scope() as session:
        conn = session.connection()  # Core only: nothing here needs ORM objects
        now = clock.now()
        params = {
            "channels": channels, "now": now, "limit": limit,
            "lease": now + timedelta(seconds=OUTBOX_LEASE_SECONDS), "reply_lease": now + timedelta(seconds=REPLY_LEASE_SECONDS),
        }
        if _is_postgres(session):
            rows = list(conn.execute(stmts["claim_pg"], params))
            if rows:
                conn.execute(stmts["lease_pg"], {"oids": [r.id for r in rows], "now": now, "lease": params["lease"], "reply_lease": params["reply_lease"]})
            leased = 1  # the rows were read before the lease counted this attempt
        else:
            ids = list(conn.execute(stmts["candidates"], params).scalars())
            claimed = list(conn.execute(stmts["lease"], {**params, "oids": ids}).scalars()) if ids else []
            rows = list(conn.execute(stmts["jobs"], {"oids": claimed})) if claimed else []
            leased = 0  # read after the lease: this attempt is counted already
        if not rows:
            return []
        users = {u.id: u for u in conn.execute(stmts["users"], {"uids": list({r.user_id for r in rows})})}
    rows.sort(key=lambda r: r.created_at)
    jobs: list[SendJob] = []
    for row in rows:
        user = users.get(row.user_id)
        attempts = (row.attempts or 0) + leased
        # PostgreSQL read the row before the lease's UPDATE: apply its reply_state CASE here too
        reply_state = _reply_state_after_lease(row, now) if leased else row.reply_state
        try:
            messages = [OutMessage.from_dict(d) for d in json.loads(row.payload or "[]")]
        except Exception:
            messages = []
        jobs.append(
            SendJob(
                outbox_id=row.id,
                channel=row.channel,
                user_id=row.user_id,
                platform_id=user.platform_id if user else None,
                user_active=bool(user and user.active),
                messages=messages,
                reply_token=row.reply_token if reply_state in ("sending", "unknown") else None,
                reply_deadline=row.reply_deadline,
                attempts=attempts,
                parts_sent=row.parts_sent or 0,
                reply_retry=reply_state == "unknown",
            )
        )
    return jobs


def _reply_state_after_lease(row, now: datetime) -> str | None:
    """What the lease UPDATE's ``reply_state`` CASE makes of ``row`` (read before it)."""
    if row.reply_state == "sending":
        return "unknown"
    if row.reply_state is None and row.reply_token is not None and row.reply_deadline is not None and row.reply_deadline > now:
        return "sending"
    return row.reply_state


async def deliver(job: SendJob) -> SendResult:
    """Calls the channel adapter for one job; never raises."""
    adapter = get_adapter(job.channel)
    if adapter is None:
        return SendResult(SendOutcome.retry, error="no_adapter")
    if not job.user_active or not job.platform_id:
        return SendResult(SendOutcome.user_gone, error="user_inactive")
    if not job.messages:
        return SendResult(SendOutcome.failed, error="empty_payload")
    try:
        return await adapter.send(
            job.platform_id,
            job.messages,
            retry_key=job.outbox_id,
            reply_token=job.reply_token,
            reply_deadline=job.reply_deadline,
            parts_sent=job.parts_sent,
            reply_retry=job.reply_retry,
        )
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # an adapter bug must not kill the worker
        log.exception("adapter.send raised", extra={"channel": job.channel, "outbox": job.outbox_id})
        return SendResult(SendOutcome.retry, error=type(exc).__name__[:80])


def finish_jobs(done: list[tuple[SendJob, SendResult]]) -> None:
    """Records send outcomes (one transaction); ignores rows whose lease another worker took over.

    Deliveries (nearly all) are one executemany; the rare other outcomes go through the ORM.
    """
    if not done:
        return
    from handoff import notify

    with db.session_scope() as session:
        now = clock.now()
        by_attempts: dict[int, list[str]] = {}  # one statement per attempt count (nearly always just "1")
        for job, result in done:
            if result.outcome == SendOutcome.delivered:
                by_attempts.setdefault(job.attempts, []).append(job.outbox_id)
        for tries, oids in by_attempts.items():
            session.connection().execute(_outbox_statements()["delivered"], {"oids": oids, "tries": tries, "at": now})
        others = [(job, result) for job, result in done if result.outcome != SendOutcome.delivered]
        if not others:
            return
        rows = {
            r.id: r
            for r in session.execute(select(OutboxMessage).where(OutboxMessage.id.in_([job.outbox_id for job, _ in others]))).scalars()
        }
        for job, result in others:
            row = rows.get(job.outbox_id)
            if row is None or row.state != OutboxState.sending.value or row.attempts != job.attempts:
                continue
            row.lease_until = None
            row.last_error = (result.error or result.outcome.value)[:200]
            if result.parts_sent is not None:
                row.parts_sent = max(row.parts_sent or 0, result.parts_sent)
            _record_reply(row, job, result)
            if result.outcome == SendOutcome.retry:
                if row.attempts >= MAX_SEND_ATTEMPTS:
                    row.state = OutboxState.dead.value
                    log.error("outbox row dead-lettered", extra={"channel": row.channel, "outbox": row.id, "attempts": row.attempts})
                    notify.publish(session, "delivery_dead", outbox_id=row.id)
                else:
                    row.state = OutboxState.pending.value
                    row.next_try_at = now + timedelta(seconds=_retry_delay(row, result, now))
                    log.info("outbox send will be retried", extra={"channel": row.channel, "outbox": row.id, "attempts": row.attempts})
            elif result.outcome == SendOutcome.unconfirmed:
                row.state = OutboxState.unconfirmed.value
                row.reply_token = None
                log.warning("outbox reply outcome unknown; not sent again", extra={"channel": row.channel, "outbox": row.id})
            elif result.outcome == SendOutcome.user_gone:
                row.state = OutboxState.failed.value
                user = session.get(ChannelUser, row.user_id)
                if user is not None and user.active:
                    user.active = False
                    session.add(user)
            else:
                row.state = OutboxState.failed.value
                log.warning("outbox send failed for good", extra={"channel": row.channel, "outbox": row.id, "status": row.last_error})
                notify.publish(session, "delivery_failed", outbox_id=row.id)
            session.add(row)


def _record_reply(row: OutboxMessage, job: SendJob, result: SendResult) -> None:
    """Keeps what is known about the reply token (the next attempt decides by it)."""
    if result.reply == "failed":
        row.reply_token, row.reply_state = None, "failed"  # known not delivered: a push is safe
    elif result.reply == "unknown" or job.reply_retry:
        row.reply_state = "unknown"  # keep the token: only it may be tried again
    else:
        row.reply_token, row.reply_state = None, None  # no reply was made: later attempts push


def _retry_delay(row: OutboxMessage, result: SendResult, now: datetime) -> float:
    """Seconds until the next attempt of a row whose send is to be retried."""
    if result.reply == "failed":
        return result.retry_after or 0.0  # the push can go at once
    delay = _backoff(row.attempts, result.retry_after)
    if row.reply_state == "unknown" and row.reply_deadline is not None and not result.retry_after:
        # why: only a fresh token can settle an unknown reply; try again before it expires
        left = (row.reply_deadline - now).total_seconds() - 1.0
        if left > 0:
            delay = min(delay, left)
    return delay


async def run_outbox_once(limit: int = 100) -> int:
    """Sends every due outbox row once (tests, ``ristapo worker``); returns how many were attempted."""
    total = 0
    sem = asyncio.Semaphore(SEND_CONCURRENCY)

    async def one(job: SendJob) -> tuple[SendJob, SendResult]:
        async with sem:
            return job, await deliver(job)

    while True:
        jobs = await asyncio.to_thread(claim_outbox, limit)
        if not jobs:
            return total
        total += len(jobs)
        done = await asyncio.gather(*(one(j) for j in jobs))
        await asyncio.to_thread(finish_jobs, list(done))


# --------------------------------------------------------------------------- worker loops


async def inbox_loop(*, concurrency: int | None = None) -> None:
    """Processes inbox events forever: wakes on :func:`poke` and polls for other processes."""
    waker = _Waker()
    _wakers["inbox"].append(waker)
    loop = asyncio.get_running_loop()
    last_work = float("-inf")
    try:
        while True:
            try:
                n = await asyncio.to_thread(process_inbox_batch, 50, loop=loop)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("inbox worker pass failed")
                n = 0
            if n:
                last_work = time.monotonic()
            else:
                await waker.idle(last_work)
    finally:
        _wakers["inbox"].remove(waker)


async def outbox_loop(*, concurrency: int = SEND_CONCURRENCY) -> None:
    """Delivers outbox rows forever, keeping up to ``concurrency`` sends in flight."""
    waker = _Waker()
    _wakers["outbox"].append(waker)
    inflight: set[asyncio.Task] = set()
    finished: list[tuple[SendJob, SendResult]] = []
    last_work = float("-inf")

    async def one(job: SendJob) -> None:
        finished.append((job, await deliver(job)))
        waker.set()

    try:
        while True:
            if finished and inflight and len(finished) < concurrency // 2:
                # why linger: sends complete one by one; recording each and claiming its
                # successor alone would cost two transactions per message
                await asyncio.sleep(FINISH_LINGER_SECONDS)
            if finished:
                batch, finished[:] = list(finished), []
                try:
                    await asyncio.to_thread(finish_jobs, batch)
                except Exception:
                    # the leases run out and the rows are sent again (idempotently) later
                    log.exception("recording send outcomes failed")
            free = concurrency - len(inflight)
            jobs: list[SendJob] = []
            if free > 0:
                try:
                    jobs = await asyncio.to_thread(claim_outbox, free)
                except Exception:
                    log.exception("outbox claim failed")
            for job in jobs:
                task = asyncio.create_task(one(job))
                inflight.add(task)
                task.add_done_callback(inflight.discard)
            if jobs:
                last_work = time.monotonic()
            if not jobs and not finished:
                await waker.idle(last_work)
    finally:
        for t in inflight:
            t.cancel()
        _wakers["outbox"].remove(waker)


async def _inbox_worker(app) -> None:
    await inbox_loop()


async def _outbox_worker(app) -> None:
    await outbox_loop()


def install(app, settings) -> None:
    """Adds the inbox and delivery workers to the app's lifespan (``RISTAPO_RUN_WORKERS``)."""
    app.state.workers.append(_inbox_worker)
    app.state.workers.append(_outbox_worker)
    if settings.run_workers:
        import sys

        # why: the inbox worker's engine turns run in a thread; a shorter GIL switch interval
        # (default 5 ms) keeps the event loop, and so the webhook's answer, responsive
        sys.setswitchinterval(0.001)
