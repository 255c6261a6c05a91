"""Tables shared by several rooms: channel users, conversations, messages, consent, outbox.

Why here and not in bot/: the hand-off queue (handoff/) and the console (admin/) must read
transcripts and write staff replies to the outbox, and dependencies point inward only.
Message text is always an ``EncryptedText`` column.
"""
from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from core.clock import now
from core.crypto import EncryptedText


def new_uuid() -> str:
    return str(uuid.uuid4())


class Channel(str, enum.Enum):
    line = "line"
    telegram = "telegram"
    web = "web"
    terminal = "terminal"


class ChannelUser(SQLModel, table=True):
    """One person on one channel, known to staff only by ``pseudonym``."""

    __tablename__ = "channel_user"
    __table_args__ = (UniqueConstraint("channel", "user_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(index=True)
    user_hash: str = Field(index=True)  # keyed hash of the platform id (HMAC), never the id
    platform_id: str | None = Field(default=None, sa_column=Column(EncryptedText))  # only for sending
    pseudonym: str = Field(index=True)
    active: bool = True
    is_demo: bool = False
    created_at: datetime = Field(default_factory=now)


class Conversation(SQLModel, table=True):
    """The one open conversation of a user and its dialogue state (an Enum value in bot/states)."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="channel_user.id", index=True)
    state: str = "new"
    consent_version: int | None = None  # accepted consent-A version, None = not given
    consent_declined: bool = False
    context: str | None = Field(default=None, sa_column=Column(EncryptedText))  # JSON: pending steps, intake
    current_ticket_id: int | None = None
    closed: bool = False
    started_at: datetime = Field(default_factory=now)
    last_activity_at: datetime = Field(default_factory=now, index=True)


# ``Message.intent`` of the bot's first reply in a turn where the engine abstained (its
# ``abstained`` event): the bot was asked and could not answer. The inbound row's ``intent`` is
# only what the understanding guessed, also for lines the bot never tried to answer (a place
# name it asked for, a message to staff), so it cannot say this.
INTENT_ABSTAINED = "abstained"


class Message(SQLModel, table=True):
    """One turn of the transcript. ``body`` is stored only with consent A."""

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    direction: str  # in | out
    sender: str  # user | bot | staff
    staff_id: int | None = None
    body: str | None = Field(default=None, sa_column=Column(EncryptedText))
    kind: str = "text"  # text | answer | consent | crisis | handoff | system ...
    # what the turn was about is as sensitive as the text: encrypted, and kept only with consent A
    entry_id: str | None = Field(default=None, sa_column=Column(EncryptedText))
    entry_version: int | None = None
    intent: str | None = Field(default=None, sa_column=Column(EncryptedText))
    score: float | None = None
    external_id: str | None = Field(default=None, index=True)  # e.g. LINE message id for unsend
    outbox_id: str | None = None
    created_at: datetime = Field(default_factory=now, index=True)


class ConsentText(SQLModel, table=True):
    """A published version of a consent text; the newest one is asked."""

    __tablename__ = "consent_text"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = "A"
    version: int
    text: str
    text_hash: str
    published_at: datetime = Field(default_factory=now)
    published_by: int | None = None


class Consent(SQLModel, table=True):
    """Append-only record of a consent decision (A: keep what I write, B: share with an organisation)."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="channel_user.id", index=True)
    kind: str  # A | B
    version: int
    text_hash: str
    choice: str  # given | declined | withdrawn
    channel: str
    ticket_id: int | None = None
    created_at: datetime = Field(default_factory=now)


class OutboxState(str, enum.Enum):
    pending = "pending"
    sending = "sending"
    delivered = "delivered"
    failed = "failed"  # final 4xx
    dead = "dead"  # gave up after N attempts: staff alerted
    # a reply whose outcome is unknown and whose token has expired: not pushed again, because
    # LINE most likely delivered it and a push would be a second copy (bot/channels/line/adapter.py)
    unconfirmed = "unconfirmed"
    cancelled = "cancelled"  # never sent: the user erased their data first (handoff/erase.py)


class OutboxMessage(SQLModel, table=True):
    """A message waiting to be delivered; written in the same transaction as its cause.

    ``id`` is a UUID and doubles as LINE's ``X-Line-Retry-Key`` so a retried push is never
    delivered twice.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (
        # why partial: "is an earlier message of this user still open?" is asked for every
        # due row; over open rows only, the answer does not grow with the delivered history
        Index(
            "ix_outbox_message_open_user", "user_id", "created_at", "id",
            sqlite_where=text("state IN ('pending', 'sending')"), postgresql_where=text("state IN ('pending', 'sending')"),
        ),
        # the oldest open rows first, without sorting the whole backlog on every claim
        Index(
            "ix_outbox_message_open_time", "created_at", "id",
            sqlite_where=text("state IN ('pending', 'sending')"), postgresql_where=text("state IN ('pending', 'sending')"),
        ),
    )
    id: str = Field(default_factory=new_uuid, primary_key=True)
    user_id: int = Field(foreign_key="channel_user.id", index=True)
    channel: str
    payload: str | None = Field(default=None, sa_column=Column(EncryptedText))  # JSON list of neutral messages
    reply_token: str | None = Field(default=None, sa_column=Column(EncryptedText))
    reply_deadline: datetime | None = None
    state: str = Field(default=OutboxState.pending.value, index=True)
    attempts: int = 0
    parts_sent: int = 0  # calls of a multi-call message already delivered (resume after them)
    # the reply-token call, recorded before it is made (see bot/pipeline/outbox.py "Reply tokens"):
    # None = not used, "sending" = this attempt will call reply, "unknown" = an earlier attempt
    # may have called it (crash, 5xx, timeout), "failed" = known not delivered (push is safe)
    reply_state: str | None = None
    next_try_at: datetime = Field(default_factory=now, index=True)
    lease_until: datetime | None = None
    last_error: str | None = None
    sender: str = "bot"  # bot | staff
    staff_id: int | None = None
    created_at: datetime = Field(default_factory=now)
    delivered_at: datetime | None = None


class ServiceSetting(SQLModel, table=True):
    """A setting an admin changes at run time (e.g. the retention period).

    Why in the database: every process on every machine must apply the same value (state
    lives only in the database); environment variables give the defaults.
    """

    __tablename__ = "service_setting"
    key: str = Field(primary_key=True, max_length=64)
    value: str
    updated_at: datetime = Field(default_factory=now)
    updated_by: int | None = None
