"""The port every channel implements (LINE, Telegram, web); the engine never imports a platform SDK.

A webhook route verifies the request, turns the body into :class:`RawEvent` s and stores them
in the inbox (persist-then-ack). The inbox worker later asks the adapter to interpret each
stored payload (:meth:`ChannelAdapter.to_inbound`), runs the engine turn, and the delivery
worker hands outbox rows to :meth:`ChannelAdapter.send`.
"""
from __future__ import annotations

import abc
import enum
from dataclasses import dataclass
from datetime import datetime

from core.messages import Inbound, OutMessage


@dataclass
class RawEvent:
    """One platform event as stored in the inbox (payload is JSON text, encrypted at rest)."""

    external_id: str  # unique per channel: LINE webhookEventId, Telegram update_id
    platform_user_id: str | None  # None for events without a user (they are acknowledged and skipped)
    event_time: datetime | None
    payload: str


@dataclass
class Interpreted:
    """What the inbox worker needs to run a turn for a stored event."""

    platform_user_id: str
    inbound: Inbound | None  # None: no turn (e.g. unfollow, standby) — ``side_effect`` says why
    reply_token: str | None = None
    reply_deadline: datetime | None = None
    side_effect: str | None = None  # "unfollow" | "unsend:<message id>" | "ignore" | "group"


class SendOutcome(str, enum.Enum):
    delivered = "delivered"
    retry = "retry"  # transient: 5xx, timeout, 429 — try again later (``retry_after`` if known)
    failed = "failed"  # final: 4xx other than 409/429 — never retried
    user_gone = "user_gone"  # the user blocked/unfollowed the bot: mark inactive, stop
    # final, not retried: an earlier call may have delivered it and a new one could be a second
    # copy (LINE: a reply whose answer was lost, token now expired)
    unconfirmed = "unconfirmed"


@dataclass
class SendResult:
    outcome: SendOutcome
    retry_after: float | None = None
    error: str | None = None  # short, never message text
    # a message sent in several calls: how many went out before this failure; the outbox row
    # keeps it, so a retry in any process resumes after them (Telegram has no idempotency key)
    parts_sent: int | None = None
    # what became of a reply-token call: None = none was made, "failed" = known not delivered
    # (a push may follow), "unknown" = maybe delivered (only the same token may be tried again)
    reply: str | None = None


class ChannelAdapter(abc.ABC):
    """Contract for a channel. Implementations must be safe to call from one asyncio loop."""

    name: str

    @abc.abstractmethod
    def to_inbound(self, payload: str) -> Interpreted | None:
        """Interprets a stored payload; returns None when the event concerns no user."""

    @abc.abstractmethod
    async def send(
        self,
        platform_user_id: str,
        messages: list[OutMessage],
        *,
        retry_key: str,
        reply_token: str | None,
        reply_deadline: datetime | None,
        parts_sent: int = 0,
        reply_retry: bool = False,
    ) -> SendResult:
        """Delivers ``messages``. Must use ``retry_key`` so a retried call is never delivered twice.

        ``parts_sent``: calls of this message that an earlier attempt already made (skip them).
        ``reply_retry``: an earlier attempt may already have used ``reply_token`` (its outcome
        is unknown); a channel whose reply has no idempotency key must then not send the
        message any other way.
        """
