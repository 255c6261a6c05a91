"""The upper bound on how long an open ticket keeps its content (``RISTAPO_TICKET_MAX_AGE_DAYS``).

Why: retention keeps everything of a conversation while a ticket is open there (staff need
the case's context), so a ticket nobody answered would keep the user's words for ever.
Run by the retention job (bot/retention.py) before it deletes anything.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, DateTime, and_, inspect, or_
from sqlmodel import Session, col, select

from core.rows import saved_id
from handoff.actions import _back_to_bot
from handoff.models import OPEN_STATES, Ticket, TicketNote, TicketState

EXPIRED_OUTCOME = "expired"
SYSTEM_STAFF_ID = 0  # no staff account has id 0: the console shows the note without a name
EXPIRED_NOTE = "{days}日間 対応の記録がなかったため、自動で閉じました(保存期間の上限)。内容は保存期間の決まりに従って消えます。"


def _activity_columns() -> list[ColumnElement[datetime]]:
    return [c for c in inspect(Ticket).columns if isinstance(getattr(c.type, "impl_instance", c.type), DateTime)]


def do_close_stale_tickets(session: Session, *, at: datetime, idle_since: datetime, days: int) -> int:
    """Closes open tickets with no activity since ``idle_since``; returns how many. Caller commits.

    Each gets outcome ``expired`` and a note, and its conversation goes back to the bot. Its
    transcript and intake then follow the ordinary retention rules (no open ticket protects
    them any more).
    """
    # NULL-safe: a timestamp never set (not claimed, never answered) is no activity
    active = or_(*(and_(c.is_not(None), c >= idle_since) for c in _activity_columns()))
    stale = session.exec(select(Ticket).where(col(Ticket.state).in_(OPEN_STATES), ~active)).all()
    for ticket in stale:
        ticket.state = TicketState.closed.value
        ticket.outcome = EXPIRED_OUTCOME
        ticket.closed_at = at
        session.add(ticket)
        session.add(TicketNote(ticket_id=saved_id(ticket), staff_id=SYSTEM_STAFF_ID, body=EXPIRED_NOTE.format(days=days), created_at=at))
        _back_to_bot(session, ticket)
    session.flush()
    return len(stale)
