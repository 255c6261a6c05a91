"""The values one engine turn reads and returns: the conversation as the engine may see it,
the context the service hands in, and the result (messages out and events for the service).

Why a module of its own: the engine's helpers (waiting room, intake, follow-up) and the service
need these types without importing the whole engine; :mod:`bot.engine` re-exports them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot import texts
from bot.states import DialogueState as S
from core.messages import OutMessage
from knowledge.kb import KnowledgeBase
from knowledge.understand import Understander, Understanding


@dataclass(frozen=True)
class ConversationView:
    """What the engine may know about a conversation (no platform ids, no history text)."""

    state: S = S.NEW
    consent_version: int | None = None  # accepted consent-A version
    consent_declined: bool = False
    ticket_open: bool = False  # a hand-off ticket is waiting or claimed
    pending: dict[str, Any] = field(default_factory=dict)  # e.g. {"place_for": id, "intake": {...}}
    ticket_waiting: bool = False  # the open ticket is not claimed yet: the bot keeps answering
    ticket_crisis: bool = False  # the open ticket is a crisis ticket: every message gets help now
    reopenable: bool = False  # staff closed a ticket within the grace period: a new message reopens it

    @property
    def consented(self) -> bool:
        return self.consent_version is not None


@dataclass
class EngineContext:
    kb: KnowledgeBase
    understander: Understander
    consent_version: int
    consent_text: str
    waiting_notice: Callable[[bool], str] = lambda urgent: texts.HANDOFF_DONE
    crisis_staff_line: Callable[[], str] = lambda: texts.CRISIS_STAFF  # hours-aware in the service
    consent_valid_from: int | None = None  # accepted versions >= this need no new prompt (None: only the current)
    # received + place in the queue + who reads when (hours-aware in the service); arg: crisis ticket
    waiting_ack: Callable[[bool], str] = lambda crisis: texts.HANDOFF_WAITING
    phone_callbacks: Callable[[], bool] = lambda: False  # the office calls people back (office settings)
    now: Callable[[], datetime] = lambda: datetime.now(UTC)


@dataclass
class Event:
    """Something the service must do: ``kind`` plus data (never message text)."""

    kind: str  # consent | handoff | delete_user | answered | abstained | crisis | staff_notify | intent
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class TurnResult:
    view: ConversationView
    out: list[OutMessage]
    events: list[Event]
    understanding: Understanding | None = None
    store_inbound: bool = False  # the inbound text may be kept (consent A given before this turn)
