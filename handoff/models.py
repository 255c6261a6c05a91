"""Hand-off tables."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from core.clock import now
from core.crypto import EncryptedText


class TicketState(str, enum.Enum):
    waiting = "waiting"
    claimed = "claimed"
    closed = "closed"
    returned_to_bot = "returned_to_bot"


OPEN_STATES = (TicketState.waiting.value, TicketState.claimed.value)


class Ticket(SQLModel, table=True):
    """One hand-off of a conversation to staff. Priority 0 = crisis, 1 = urgent, 2 = normal."""

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    user_id: int = Field(foreign_key="channel_user.id", index=True)
    state: str = Field(default=TicketState.waiting.value, index=True)
    priority: int = 2
    crisis: bool = False
    consent_declined: bool = False
    assignee_id: int | None = Field(default=None, index=True)
    intake: str | None = Field(default=None, sa_column=Column(EncryptedText))  # JSON
    answered_topics: str | None = None  # comma-separated entry ids the bot already answered
    outcome: str | None = None
    tags: str | None = None
    is_demo: bool = False
    created_at: datetime = Field(default_factory=now, index=True)
    claimed_at: datetime | None = None
    closed_at: datetime | None = None
    last_user_message_at: datetime | None = None
    unread: int = 0
