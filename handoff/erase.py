"""Erasing a user's content (「記録を消して」, or staff/admin on request), keeping only content-free rows.

Lives in handoff/ so both the bot (user asks) and the console (staff act on a request) can
call it: rooms import inward only, and tickets and notes are handoff's tables.
"""
from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, SQLModel, select

from core.clock import now
from core.models import ChannelUser, Conversation, Message, OutboxMessage
from handoff.models import OPEN_STATES, Ticket, TicketNote


def do_erase_user(session: Session, user: ChannelUser) -> Conversation:
    """Deletes every stored message, intake answer and staff note of ``user``; starts a fresh conversation.

    Consent rows, referral records and audit rows stay (they record decisions, not content).
    Returns the new conversation. Caller commits.
    """
    conv_ids = [c.id for c in session.exec(select(Conversation).where(Conversation.user_id == user.id)).all()]
    if conv_ids:
        for msg in session.exec(select(Message).where(Message.conversation_id.in_(conv_ids))).all():
            session.delete(msg)
        for ticket in session.exec(select(Ticket).where(Ticket.conversation_id.in_(conv_ids))).all():
            for note in session.exec(select(TicketNote).where(TicketNote.ticket_id == ticket.id)).all():
                session.delete(note)
            ticket.intake = None
            ticket.callback_phone = None
            ticket.callback_window = None
            ticket.answered_topics = None
            ticket.tags = None
            if ticket.state in OPEN_STATES:
                ticket.state = "closed"
                ticket.outcome = "deleted_by_user"
                ticket.closed_at = now()
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
        conv.current_ticket_id = None
        session.add(conv)
    _erase_raw_events(session, user)
    session.flush()
    fresh = Conversation(user_id=user.id, state="new")
    session.add(fresh)
    session.flush()
    return fresh


def _erase_raw_events(session: Session, user: ChannelUser) -> None:
    """Erases the text of the user's processed raw webhook events (the inbox keeps ids and state).

    Why by table name: the inbox is bot/'s table and handoff/ must not import bot/. Pending
    events are left to the inbox worker, which erases them after processing (no consent now).
    """
    inbox = SQLModel.metadata.tables.get("inbox_event")
    if inbox is None:
        return
    session.execute(
        update(inbox)
        .where(inbox.c.user_key == user.user_hash, inbox.c.state != "pending", inbox.c.payload.is_not(None))
        .values(payload=None)
    )
