"""Which turns the bot was asked and could not answer (for the editors' view and the dashboard).

A turn counts when the engine abstained (its ``abstained`` event, kept as
``Message.intent == INTENT_ABSTAINED`` on the bot's reply by bot/service.py) and no hand-off
ticket was open for the conversation at that moment: while a ticket is open, what people write
is meant for staff, not a question the knowledge base failed. Intake answers and place names
typed on request never carry the mark, because the engine does not abstain on them.
"""
from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from core.models import INTENT_ABSTAINED
from handoff.models import Ticket

__all__ = ["INTENT_ABSTAINED", "OpenTickets", "open_tickets"]


def _aware(at: datetime) -> datetime:

    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class OpenTickets:
    """The spans during which each conversation had a hand-off ticket open."""

    def __init__(self, spans: dict[int, list[tuple[datetime, datetime | None]]]) -> None:
        self._spans = {conv: sorted(((_aware(a), _aware(b) if b else None) for a, b in s), key=lambda x: x[0]) for conv, s in spans.items()}
        self._starts = {conv: [a for a, _b in s] for conv, s in self._spans.items()}

    def covers(self, conversation_id: int, at: datetime) -> bool:
        """True when a ticket of this conversation was open at ``at`` (created ≤ at < closed)."""
        spans = self._spans.get(conversation_id)
        if not spans:
            return False
        at = _aware(at)
        i = bisect_right(self._starts[conversation_id], at)
        return any(end is None or at < end for _start, end in spans[:i])


def open_tickets(session: Session, conversation_ids: Iterable[int]) -> OpenTickets:
    """Reads the ticket spans of these conversations (ids and times only)."""
    ids = sorted(set(conversation_ids))
    spans: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
        rows = session.exec(select(Ticket.conversation_id, Ticket.created_at, Ticket.closed_at).where(col(Ticket.conversation_id).in_(chunk))).all()
        for conv, created, closed in rows:
            spans[conv].append((created, closed))
    return OpenTickets(dict(spans))
