"""The port every webhook channel implements (LINE, Telegram); the engine never imports a platform SDK.

One generic webhook mount (bot/channels/webhook_asgi.py) serves every adapter: it hands the
request to :meth:`ChannelAdapter.parse_webhook`, stores the :class:`RawEvent` s it returns in
the inbox (persist-then-ack) and answers. The inbox worker later asks the adapter to interpret
each stored payload (:meth:`ChannelAdapter.to_inbound`), runs the engine turn, and the delivery
worker hands outbox rows to :meth:`ChannelAdapter.send`.

:class:`Channel` is how the composition root (bot/app.py, bot/cli.py) sees a channel package:
what it mounts on the app and which commands it adds. The web chat and the terminal run their
turns at once (no webhook, no outbox), so they are channels without an adapter.
"""
from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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


@dataclass
class WebhookAnswer:
    """What the generic mount does with one webhook request: store, answer, then ``after``."""

    status: int = 200
    text: str = "OK"
    events: list[RawEvent] = field(default_factory=list)  # stored before the answer is sent
    after: Callable[[], Coroutine[Any, Any, None]] | None = None  # best-effort platform calls (never raise)
    # True: ``after`` runs as a detached task, so a burst of webhooks never waits for it (LINE);
    # False: it runs once the answer is sent, before the request ends, like Starlette's
    # BackgroundTask (Telegram: the button's spinner stops before the next update is read)
    detach_after: bool = True


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
    webhook_path: str  # where the generic mount serves :meth:`parse_webhook`
    max_body_bytes: int = 1_000_000  # larger bodies get 413 without being read

    @abc.abstractmethod
    def parse_webhook(self, headers: dict[str, str], body: bytes) -> WebhookAnswer:
        """Verifies one webhook request and says what to store and answer; no database, no network.

        ``headers`` have lower-case names. A refused request (bad signature or secret, not the
        platform's shape) is an answer (4xx, nothing stored), never an exception; the log line
        says why in a short code and never carries the body.
        """

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


@dataclass(frozen=True)
class Channel:
    """One channel package as the composition root mounts it (``CHANNELS`` in bot/channels/__init__.py).

    ``install(app, settings)`` mounts what the channel serves when its settings turn it on;
    ``register_cli(subparsers, parser)`` adds its ``ristapo`` commands.
    """

    name: str
    install: Callable[[Any, Any], None] | None = None
    register_cli: Callable[[Any, Any], None] | None = None
