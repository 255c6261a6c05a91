"""Retention: hard-delete what is older than the stated periods (``ristapo purge`` and a daily task).

Rules (``RISTAPO_RETENTION_DAYS``, default 180; ``RISTAPO_PAYLOAD_RETENTION_DAYS``, default 7):

- A conversation whose every timestamp, message and ticket is older than the retention period
  and that has no open ticket is deleted with everything that references it (messages,
  tickets, staff notes, referrals, any later table with a foreign key to them). An open
  conversation idle that long counts as closed: the user's next message starts afresh.
- Messages and closed tickets older than the period are deleted in conversations that live on,
  unless a ticket is still open there (staff need the context of a case they are handling);
  a closed ticket's intake answers go once the ticket was opened longer ago than the period.
- An open ticket with no activity for ``RISTAPO_TICKET_MAX_AGE_DAYS`` (default 90) is
  closed first (handoff/ticket_age.py), so no open ticket keeps content without bound.
- A channel user with nothing left (no conversation, no undelivered message) and no recent
  activity is deleted with its consent records.
- Raw inbox events and outbox payloads: the text (payload, reply token) is erased once the
  row is processed/delivered and older than the payload period; the row keeps its ids so a
  redelivered event is still recognised as a duplicate. The rows go after the retention period
  (outbox rows in any state: a web reply never displayed in that time is not coming now).
- Expired staff sessions and old login attempts are deleted (by admin/auth.py, which owns them).

Why foreign keys are walked rather than listed: a table added later that points at a
conversation or ticket is deleted with it, so retention cannot silently miss new content.
"""
from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, DateTime, Table, and_, delete, exists, func, not_, or_, select, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, SQLModel, col

from admin import auth
from core import db
from core.clock import now
from core.inbox import InboxEvent
from core.models import ChannelUser, Conversation, Message, OutboxMessage
from core.rows import table_of
from core.settings import Settings
from handoff.models import OPEN_STATES, Ticket

log = logging.getLogger("ristapo.retention")

FIRST_RUN_DELAY = 120.0  # seconds after start-up: let the service settle first
INTERVAL = 24 * 3600.0
CHUNK = 500
INBOX_DONE = ("done", "failed")
OUTBOX_DONE = ("delivered", "failed", "dead", "unconfirmed", "cancelled")
LOGIN_ATTEMPT_KEEP = timedelta(days=30)


def purge(
    session: Session,
    *,
    retention_days: int,
    payload_retention_days: int,
    ticket_max_age_days: int | None = None,
    dry_run: bool = False,
    at: datetime | None = None,
) -> dict[str, int]:
    """Deletes what the retention rules remove; returns counts per table.

    ``<table>.payload`` keys count erased payloads. Caller commits. With ``dry_run`` the work
    is done and then the session's transaction is rolled back, so the counts are exactly what
    a real run would remove (cascades included) and nothing changes.
    """
    db.import_all_models()
    at = at or now()
    cutoff = at - timedelta(days=retention_days)
    payload_cutoff = at - timedelta(days=payload_retention_days)
    counts: Counter[str] = Counter()

    # 0. open tickets idle past the upper bound are closed; below, their content follows the rules
    if ticket_max_age_days is not None:
        from handoff.ticket_age import do_close_stale_tickets

        idle_since = at - timedelta(days=ticket_max_age_days)
        counts["ticket.expired"] += do_close_stale_tickets(
            session, at=at, idle_since=idle_since, days=ticket_max_age_days
        )

    conversation_expired = _conversation_expired(cutoff)
    _purge_conversations(session, conversation_expired, cutoff, counts)  # 1, 2
    _purge_users(session, conversation_expired, cutoff, counts)  # 3
    _purge_payloads(session, cutoff, payload_cutoff, counts)  # 4

    # 5. expired console sessions
    counts["staff_session"] += auth.do_purge_expired_sessions(session, at=at)

    # 6. login attempts (usernames and IPs): throttling looks back minutes, keep 30 days for review
    counts["login_attempt"] += auth.do_purge_login_attempts(session, before=at - LOGIN_ATTEMPT_KEEP)

    if dry_run:
        session.rollback()
    return {k: v for k, v in sorted(counts.items()) if v}


def _conversation_expired(cutoff: datetime) -> ColumnElement[bool]:
    """A conversation with nothing recent in it and no open ticket."""
    open_ticket = exists().where(col(Ticket.conversation_id) == col(Conversation.id), col(Ticket.state).in_(OPEN_STATES))
    recent_message = exists().where(col(Message.conversation_id) == col(Conversation.id), col(Message.created_at) >= cutoff)
    recent_ticket = exists().where(col(Ticket.conversation_id) == col(Conversation.id), _any_recent(table_of(Ticket), cutoff))
    return and_(not_(_any_recent(table_of(Conversation), cutoff)), ~open_ticket, ~recent_message, ~recent_ticket)


def _purge_conversations(session: Session, conversation_expired, cutoff: datetime, counts: Counter) -> None:
    """Steps 1 and 2: expired conversations whole, then old messages and closed tickets in the others."""
    # 1. whole conversations (with messages, tickets, notes … through the foreign keys)
    _delete(session, table_of(Conversation), conversation_expired, counts)

    # 2. old messages and closed old tickets inside conversations that live on
    busy = select(col(Ticket.conversation_id)).where(col(Ticket.state).in_(OPEN_STATES))
    _delete(session, table_of(Message), and_(col(Message.created_at) < cutoff, col(Message.conversation_id).not_in(busy)), counts)
    _delete(
        session,
        table_of(Ticket),
        and_(col(Ticket.state).not_in(OPEN_STATES), not_(_any_recent(table_of(Ticket), cutoff))),
        counts,
    )
    # why: a closed ticket's row can outlive its intake by a whole period (its closing time is
    # recent); the answers were written when it was opened and go when they are that old
    _erase(
        session,
        table_of(Ticket),
        and_(
            col(Ticket.state).not_in(OPEN_STATES), col(Ticket.created_at) < cutoff,
            or_(col(Ticket.intake).is_not(None), col(Ticket.answered_topics).is_not(None)),
        ),
        ("intake", "answered_topics"),
        counts,
    )


def _purge_users(session: Session, conversation_expired, cutoff: datetime, counts: Counter) -> None:
    """Step 3: users with nothing left."""
    surviving_conversation = exists().where(col(Conversation.user_id) == col(ChannelUser.id), not_(conversation_expired))
    live_outbox = exists().where(col(OutboxMessage.user_id) == col(ChannelUser.id), col(OutboxMessage.created_at) >= cutoff)
    surviving_ticket = exists().where(
        col(Ticket.user_id) == col(ChannelUser.id), or_(col(Ticket.state).in_(OPEN_STATES), _any_recent(table_of(Ticket), cutoff))
    )
    user_expired = and_(
        not_(_any_recent(table_of(ChannelUser), cutoff)), ~surviving_conversation, ~live_outbox, ~surviving_ticket
    )
    _delete(session, table_of(ChannelUser), user_expired, counts)


def _purge_payloads(session: Session, cutoff: datetime, payload_cutoff: datetime, counts: Counter) -> None:
    """Step 4: raw payloads: text first (short period), then the rows themselves."""
    inbox = table_of(InboxEvent)
    inbox_old_payload = and_(
        inbox.c.state.in_(INBOX_DONE),
        inbox.c.payload.is_not(None),
        func.coalesce(inbox.c.processed_at, inbox.c.received_at) < payload_cutoff,
    )
    _erase(session, inbox, inbox_old_payload, ("payload",), counts)
    _delete(session, inbox, and_(inbox.c.state.in_(INBOX_DONE), inbox.c.received_at < cutoff), counts)

    outbox = table_of(OutboxMessage)
    outbox_old_payload = and_(
        outbox.c.state.in_(OUTBOX_DONE),
        or_(outbox.c.payload.is_not(None), outbox.c.reply_token.is_not(None)),
        func.coalesce(outbox.c.delivered_at, outbox.c.created_at) < payload_cutoff,
    )
    _erase(session, outbox, outbox_old_payload, ("payload", "reply_token"), counts)
    # why any state: a web reply never displayed, or a push that never went, is not coming now
    _delete(session, outbox, outbox.c.created_at < cutoff, counts)


def run_once(settings: Settings, *, dry_run: bool = False) -> dict[str, int]:
    """Runs :func:`purge` in its own transaction and logs the counts (never any content)."""
    from core.service_settings import retention_days

    with db.session_scope() as session:
        counts = purge(
            session,
            retention_days=retention_days(session, settings),
            payload_retention_days=settings.payload_retention_days,
            ticket_max_age_days=settings.ticket_max_age_days,
            dry_run=dry_run,
        )
    summary = " ".join(f"{k}={v}" for k, v in counts.items()) or "nothing"
    log.info("retention %s: %s", "dry run" if dry_run else "purge", summary, extra={"count": sum(counts.values())})
    return counts


def install(app, settings: Settings) -> None:
    """Adds the daily retention task to the service's background workers."""

    async def retention_worker(_app) -> None:
        await asyncio.sleep(FIRST_RUN_DELAY)
        while True:
            try:
                await asyncio.to_thread(run_once, settings)
            except Exception:
                # why keep going: a failed run (e.g. a locked database) must not stop tomorrow's
                log.exception("retention purge failed; will try again at the next run")
            await asyncio.sleep(INTERVAL)

    app.state.workers.append(retention_worker)


# --------------------------------------------------------------------------- helpers


def _any_recent(table: Table, cutoff: datetime) -> ColumnElement[bool]:
    """True when any timestamp column of the row is at or after ``cutoff`` (new columns count too)."""
    cols = [c for c in table.columns if _is_datetime(c)]
    if not cols:
        raise RuntimeError(f"retention needs a timestamp column on {table.name}")
    # why the NULL checks: "NULL >= cutoff" is NULL, and NOT(... OR NULL) would be NULL too, so
    # a row with an empty timestamp (a ticket never claimed) would never count as old
    return or_(*(and_(c.is_not(None), c >= cutoff) for c in cols))


def _is_datetime(column) -> bool:
    # why not python_type: SQLModel's UTCDateTime decorator reports ``object``
    kind = column.type
    return isinstance(getattr(kind, "impl_instance", kind), DateTime)


def _children(table: Table) -> Iterable[tuple[Table, Column[Any]]]:
    for child in SQLModel.metadata.sorted_tables:
        if child is table:
            continue
        for fk in child.foreign_keys:
            if fk.column.table is table:
                yield child, fk.parent


def _delete(session: Session, table: Table, where, counts: Counter, depth: int = 0) -> None:
    """Deletes rows of ``table`` matching ``where`` and, first, every row that references them."""
    if depth > 8:  # a foreign-key cycle would be a schema bug; refuse rather than loop
        raise RuntimeError(f"foreign keys under {table.name} nest too deeply")
    pk = list(table.primary_key.columns)
    if len(pk) != 1:
        raise RuntimeError(f"retention needs a single-column primary key on {table.name}")
    (pk_col,) = pk
    # why ids first: the condition may look at rows that the cascade below removes
    ids = list(session.execute(select(pk_col).where(where)).scalars())
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        for child, fk_col in _children(table):
            _delete(session, child, fk_col.in_(chunk), counts, depth + 1)
        session.execute(delete(table).where(pk_col.in_(chunk)))
    counts[table.name] += len(ids)


def _erase(session: Session, table: Table, where, columns: tuple[str, ...], counts: Counter) -> None:
    n = session.exec(update(table).where(where).values({c: None for c in columns})).rowcount
    counts[f"{table.name}.payload"] += n or 0
