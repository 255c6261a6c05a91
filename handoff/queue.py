"""Opening hand-off tickets and telling the user honestly what happens next."""
from __future__ import annotations

import json

from sqlmodel import Session, col, func, select

from core.clock import now
from core.models import Conversation
from core.rows import saved_id
from handoff.models import OPEN_STATES, Ticket


def find_open_ticket(session: Session, conversation_id: int) -> Ticket | None:
    return session.exec(
        select(Ticket).where(Ticket.conversation_id == conversation_id, col(Ticket.state).in_(OPEN_STATES))
    ).first()


def queue_position(session: Session, *, urgent: bool) -> int:
    """1-based position a new ticket would take (crisis/urgent tickets go first)."""
    q = select(func.count()).select_from(Ticket).where(Ticket.state == "waiting")
    if urgent:
        q = q.where(Ticket.priority <= 1)
    return int(session.exec(q).one()) + 1


def ticket_position(session: Session, ticket: Ticket) -> int:
    """1-based place of a waiting ticket: tickets of higher priority, or equal and older, go first."""
    ahead = select(func.count()).select_from(Ticket).where(
        Ticket.state == "waiting",
        Ticket.id != ticket.id,
        (Ticket.priority < ticket.priority) | ((Ticket.priority == ticket.priority) & (Ticket.created_at <= ticket.created_at)),
    )
    return int(session.exec(ahead).one()) + 1


def do_open_ticket(
    session: Session,
    *,
    conversation: Conversation,
    crisis: bool,
    urgent: bool,
    consent_declined: bool,
    intake: dict[str, str],
    answered_topics: list[str],
) -> Ticket:
    """Creates a waiting ticket. Precondition: no open ticket exists for the conversation."""
    ticket = Ticket(
        conversation_id=saved_id(conversation),
        user_id=conversation.user_id,
        priority=0 if crisis else (1 if urgent else 2),
        crisis=crisis,
        consent_declined=consent_declined,
        intake=json.dumps(intake, ensure_ascii=False) if intake else None,
        answered_topics=",".join(dict.fromkeys(answered_topics)) or None,
        last_user_message_at=now(),
    )
    session.add(ticket)
    session.flush()
    return ticket


def do_escalate_to_crisis(session: Session, ticket: Ticket) -> None:
    """A danger message on an open ticket: it becomes a crisis ticket at the top of the queue."""
    ticket.crisis = True
    ticket.priority = 0
    session.add(ticket)


def do_reopen_ticket(session: Session, ticket: Ticket) -> None:
    """The user wrote soon after staff closed: the same ticket waits again (outcome kept for the record)."""
    ticket.state = "waiting"
    ticket.assignee_id = None
    ticket.claimed_at = None
    ticket.closed_at = None
    session.add(ticket)


def do_note_user_message(session: Session, ticket: Ticket) -> None:
    """Marks that the user wrote while staff own the chat (unread counter for the console)."""
    ticket.unread += 1
    ticket.last_user_message_at = now()
    session.add(ticket)
