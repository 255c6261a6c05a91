"""Writing to the transactional outbox (the only way anything is sent to a user)."""
from __future__ import annotations

import json
from datetime import datetime

from sqlmodel import Session

from core.clock import now
from core.messages import OutMessage
from core.models import ChannelUser, OutboxMessage, OutboxState, new_uuid
from core.rows import saved_id

# Channels whose "delivery" happens in the request itself (nothing for a worker to do).
IMMEDIATE_CHANNELS = {"terminal"}


def enqueue(
    session: Session,
    *,
    user: ChannelUser,
    messages: list[OutMessage],
    reply_token: str | None = None,
    reply_deadline: datetime | None = None,
    sender: str = "bot",
    staff_id: int | None = None,
) -> OutboxMessage:
    """Adds an outbox row in the caller's transaction; the delivery worker sends it."""
    row = OutboxMessage(
        user_id=saved_id(user),
        channel=user.channel,
        payload=json.dumps([m.to_dict() for m in messages], ensure_ascii=False),
        reply_token=reply_token,
        reply_deadline=reply_deadline,
        sender=sender,
        staff_id=staff_id,
    )
    if user.channel in IMMEDIATE_CHANNELS:
        row.state = "delivered"
        row.delivered_at = now()
    session.add(row)
    session.flush()
    return row


OUTBOX_ADDED = "ristapo_outbox_added"  # session.info flag: wake the delivery worker after commit


def outbox_values(
    *,
    user: ChannelUser,
    messages: list[OutMessage],
    reply_token: str | None = None,
    reply_deadline: datetime | None = None,
) -> dict:
    """The column values of a bot's outbox row (for :func:`core.db.insert_rows`); nothing is written."""
    at = now()
    immediate = user.channel in IMMEDIATE_CHANNELS
    row = dict(
        id=new_uuid(),
        user_id=saved_id(user),
        channel=user.channel,
        payload=json.dumps([m.to_dict() for m in messages], ensure_ascii=False),
        reply_token=reply_token,
        reply_deadline=reply_deadline,
        state="delivered" if immediate else OutboxState.pending.value,
        attempts=0,
        parts_sent=0,
        reply_state=None,
        next_try_at=at,
        lease_until=None,
        last_error=None,
        sender="bot",
        staff_id=None,
        created_at=at,
        delivered_at=at if immediate else None,
    )
    return row


def payload_messages(row: OutboxMessage) -> list[OutMessage]:
    return [OutMessage.from_dict(d) for d in json.loads(row.payload or "[]")]
