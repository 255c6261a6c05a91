"""The delivery worker: claims due outbox rows, calls the channel adapter, records the outcome.

Due rows are taken with a lease, :meth:`ChannelAdapter.send` is called and the outcome
recorded; sending is idempotent (LINE ``X-Line-Retry-Key`` = outbox id; the calls of a
multi-call message already made are kept in the row), so a crash between "sent" and
"recorded" costs at most a 409, never a second message.

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
"""
from __future__ import annotations

import asyncio
import functools
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, case, exists, literal_column, or_, select, update
from sqlalchemy.orm import aliased
from sqlmodel import col

from bot.channels.base import SendOutcome, SendResult
from bot.pipeline.registry import get_adapter, worker_channels
from bot.pipeline.store import is_postgres
from bot.pipeline.tuning import MAX_SEND_ATTEMPTS, SEND_CONCURRENCY, TUNING, backoff
from core import clock, db
from core.messages import OutMessage
from core.models import ChannelUser, OutboxMessage, OutboxState

log = logging.getLogger("ristapo.pipeline")


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



def _outbox_due():
    """A row is due: open, its time come, not leased, and no earlier open row of its user."""
    earlier = aliased(OutboxMessage)
    open_states = (OutboxState.pending.value, OutboxState.sending.value)
    blocked = exists().where(
        earlier.user_id == OutboxMessage.user_id,
        # literals, as the partial index ix_outbox_message_open_user says (see inbox._not_blocked)
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
    return due


@functools.cache
def _outbox_statements() -> dict:
    """Statements built once, parameterised by ``channels``, ``now``, ``lease``, ``limit``, ``oids``."""
    due = _outbox_due()
    job_columns = (
        col(OutboxMessage.id), col(OutboxMessage.channel), col(OutboxMessage.user_id), col(OutboxMessage.payload),
        col(OutboxMessage.reply_token), col(OutboxMessage.reply_deadline), col(OutboxMessage.attempts), col(OutboxMessage.created_at),
        col(OutboxMessage.parts_sent), col(OutboxMessage.reply_state),
    )
    take = dict(
        state=OutboxState.sending.value,
        attempts=col(OutboxMessage.attempts) + 1,
        lease_until=case(
            (and_(col(OutboxMessage.reply_token).is_not(None), col(OutboxMessage.reply_deadline) > bindparam("now")), bindparam("reply_lease")),
            else_=bindparam("lease"),
        ),
        # recorded before the call (see the module docstring): a fresh token becomes "sending";
        # "sending" found again means its attempt died mid-call: "unknown"
        reply_state=case(
            (col(OutboxMessage.reply_state) == "sending", "unknown"),
            (
                and_(
                    col(OutboxMessage.reply_state).is_(None),
                    col(OutboxMessage.reply_token).is_not(None),
                    col(OutboxMessage.reply_deadline) > bindparam("now"),
                ),
                "sending",
            ),
            else_=col(OutboxMessage.reply_state),
        ),
    )
    return {
        "candidates": select(col(OutboxMessage.id)).where(due).order_by(col(OutboxMessage.created_at)).limit(bindparam("limit")),
        # SQLite: the conditional UPDATE re-checks "due" under the write lock, so a row is
        # leased by exactly one process; RETURNING says which
        "lease": update(OutboxMessage)
        .where(col(OutboxMessage.id).in_(bindparam("oids", expanding=True)), due)
        .values(**take)
        .returning(col(OutboxMessage.id)),
        # PostgreSQL: the due rows locked for this transaction (other workers skip them), then leased
        "claim_pg": select(*job_columns).where(due).order_by(col(OutboxMessage.created_at)).limit(bindparam("limit")).with_for_update(skip_locked=True),
        "lease_pg": update(OutboxMessage).where(col(OutboxMessage.id).in_(bindparam("oids", expanding=True))).values(**take),
        "jobs": select(*job_columns).where(col(OutboxMessage.id).in_(bindparam("oids", expanding=True))),
        "users": select(col(ChannelUser.id), col(ChannelUser.platform_id), col(ChannelUser.active)).where(col(ChannelUser.id).in_(bindparam("uids", expanding=True))),
        # why the attempts check: a row whose lease ran out may have been taken by another worker
        "delivered": update(OutboxMessage)
        .where(
            col(OutboxMessage.id).in_(bindparam("oids", expanding=True)),
            col(OutboxMessage.state) == OutboxState.sending.value,
            col(OutboxMessage.attempts) == bindparam("tries"),
        )
        .values(state=OutboxState.delivered.value, delivered_at=bindparam("at"), lease_until=None, last_error=None, reply_token=None),
    }


def claim_outbox(limit: int) -> list[SendJob]:
    """Leases up to ``limit`` due rows (one per user, oldest first) and returns what to send.

    A reply token goes with the job while the row's ``reply_state`` says a reply is due
    ("sending") or may already have been made ("unknown"); see the module docstring.
    """
    if not worker_channels() or limit <= 0:
        return []
    with db.session_scope() as session:
        return _claim(session, limit)


def finish_and_claim(done: list[tuple[SendJob, SendResult]], limit: int) -> list[SendJob]:
    """:func:`finish_jobs` then :func:`claim_outbox`, in ONE transaction (the delivery loop's round).

    Why one: at moderate rates sends complete a few at a time, and a transaction to record them
    plus another to claim their successors was most of the delivery worker's cost per message.
    The claim sees the outcomes just recorded (a user's next row is due once the earlier one
    is delivered). All or nothing: if it fails, nothing is recorded and nothing is leased.
    """
    if not done and (limit <= 0 or not worker_channels()):
        return []
    with db.session_scope() as session:
        if done:
            _record(session, done)
        return _claim(session, limit) if limit > 0 and worker_channels() else []


def _claim(session, limit: int) -> list[SendJob]:
    """The claim of :func:`claim_outbox` inside the caller's transaction (Core statements only)."""
    stmts = _outbox_statements()
    conn = session.connection()  # Core only: nothing here needs ORM objects
    now = clock.now()
    params = {
        "channels": worker_channels(), "now": now, "limit": limit,
        "lease": now + timedelta(seconds=TUNING.outbox_lease_seconds), "reply_lease": now + timedelta(seconds=TUNING.reply_lease_seconds),
    }
    if is_postgres(session):
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
    return [_job(row, users.get(row.user_id), leased, now) for row in rows]


def _job(row, user, leased: int, now: datetime) -> SendJob:
    attempts = (row.attempts or 0) + leased
    # PostgreSQL read the row before the lease's UPDATE: apply its reply_state CASE here too
    reply_state = _reply_state_after_lease(row, now) if leased else row.reply_state
    try:
        messages = [OutMessage.from_dict(d) for d in json.loads(row.payload or "[]")]
    except Exception:
        messages = []
    return SendJob(
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
    with db.session_scope() as session:
        _record(session, done)


def _record(session, done: list[tuple[SendJob, SendResult]]) -> None:
    """The body of :func:`finish_jobs`, inside the caller's transaction."""
    from handoff import notify

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
        for r in session.execute(select(OutboxMessage).where(col(OutboxMessage.id).in_([job.outbox_id for job, _ in others]))).scalars()
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
    session.flush()  # why: a claim in the same transaction (finish_and_claim) must see these outcomes


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
    delay = backoff(row.attempts, result.retry_after)
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
