"""Erasing a user's content on request (「記録を消して」), keeping only content-free rows."""
from __future__ import annotations

from sqlmodel import Session, select

from core.models import ChannelUser, Conversation, Message, OutboxMessage
from handoff.models import OPEN_STATES, Ticket


def do_erase_user(session: Session, user: ChannelUser) -> Conversation:
    """Deletes every stored message and intake answer of ``user`` and starts a fresh conversation.

    Consent rows stay (they record decisions, not content). Returns the new conversation.
    """
    conv_ids = [c.id for c in session.exec(select(Conversation).where(Conversation.user_id == user.id)).all()]
    if conv_ids:
        for msg in session.exec(select(Message).where(Message.conversation_id.in_(conv_ids))).all():
            session.delete(msg)
        for ticket in session.exec(select(Ticket).where(Ticket.conversation_id.in_(conv_ids))).all():
            ticket.intake = None
            ticket.answered_topics = None
            if ticket.state in OPEN_STATES:
                ticket.state = "closed"
                ticket.outcome = "deleted_by_user"
            session.add(ticket)
    for row in session.exec(select(OutboxMessage).where(OutboxMessage.user_id == user.id)).all():
        if row.state in ("delivered", "failed", "dead"):
            row.payload = None
            row.reply_token = None
            session.add(row)
    for conv in session.exec(select(Conversation).where(Conversation.user_id == user.id)).all():
        conv.closed = True
        conv.context = None
        conv.consent_version = None
        session.add(conv)
    session.flush()
    fresh = Conversation(user_id=user.id, state="new")
    session.add(fresh)
    session.flush()
    return fresh
