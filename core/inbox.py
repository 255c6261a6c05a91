"""The durable inbox of raw webhook events, and the one way another room erases what it holds.

Why in core: the bot's pipeline writes and works the inbox, but erasure on request
(handoff/erase.py, reached from the bot and from the console) must erase its payloads too, and
handoff may import neither bot nor admin. So the table lives here, like the outbox
(core/outbox.py), and erasure calls :func:`do_erase_processed_payloads` instead of writing the
table by name. ``bot.models`` re-exports :class:`InboxEvent` for the pipeline.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, UniqueConstraint, text, update
from sqlmodel import Field, Session, SQLModel, col

from core.clock import now
from core.crypto import EncryptedText


class InboxEvent(SQLModel, table=True):
    """A raw webhook event stored before the 200 (persist-then-ack).

    ``payload`` is encrypted and erased once processed for users without consent A; the row
    keeps only ids and state so a redelivery is still recognised as a duplicate.
    """

    __tablename__ = "inbox_event"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        # why partial: the workers ask "is there an earlier *pending* event of this user?" for
        # every candidate; over pending rows only, the answer does not grow with history
        Index(
            "ix_inbox_event_pending_user", "channel", "user_key", "event_time", "id",
            sqlite_where=text("state = 'pending'"), postgresql_where=text("state = 'pending'"),
        ),
        # the oldest pending events first, without sorting the whole backlog on every pass
        Index(
            "ix_inbox_event_pending_time", "event_time", "id",
            sqlite_where=text("state = 'pending'"), postgresql_where=text("state = 'pending'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str
    external_id: str  # LINE webhookEventId / Telegram update_id
    user_key: str | None = Field(default=None, index=True)  # keyed hash: per-user ordering
    event_time: datetime | None = None  # platform timestamp (ordering)
    payload: str | None = Field(default=None, sa_column=Column(EncryptedText))
    state: str = Field(default="pending", index=True)  # pending | done | failed
    attempts: int = 0
    lease_until: datetime | None = None
    last_error: str | None = None
    received_at: datetime = Field(default_factory=now)
    processed_at: datetime | None = None


def do_erase_processed_payloads(session: Session, user_hash: str) -> None:
    """Erases the text of the user's processed raw events (the rows keep ids and state); caller commits.

    Pending events are left to the inbox worker, which erases them after processing (no consent now).
    """
    session.execute(
        update(InboxEvent)
        .where(
            col(InboxEvent.user_key) == user_hash,
            col(InboxEvent.state) != "pending",
            col(InboxEvent.payload).is_not(None),
        )
        .values(payload=None)
    )
