"""Erasing a user's content (「記録を消して」, or staff/admin on request), keeping only content-free rows.

Lives in handoff/ so both the bot (user asks) and the console (staff act on a request) can
call it: rooms import inward only, and tickets and notes are handoff's tables.

Every column that can hold what a user wrote (or what was written to them) is declared in
:data:`USER_TEXT`, with how erasure finds it; every other encrypted column is declared in
:data:`NOT_USER_TEXT` with the reason. tests/bot/test_privacy_erasure.py checks both against
``SQLModel.metadata``, so a new table with text cannot be added without saying how it is
erased.
"""
from __future__ import annotations

from sqlalchemy import or_
from sqlmodel import Session, col, select

from core.clock import now
from core.inbox import do_erase_processed_payloads
from core.models import ChannelUser, Conversation, Message, OutboxMessage, OutboxState
from core.rows import saved_id
from handoff.models import OPEN_STATES, Ticket, TicketNote

# table.column → how do_erase_user finds the user's rows (by user id, directly or through them)
USER_TEXT: dict[str, str] = {
    "message.body": "deleted: every message of every conversation of the user",
    "message.intent": "deleted with the message",
    "message.entry_id": "deleted with the message",
    "conversation.context": "cleared: every conversation of the user",
    "ticket.intake": "cleared: tickets of the user (user id) or of their conversations",
    "ticket.answered_topics": "cleared with the intake",
    "ticket.tags": "cleared with the intake",
    "ticket.callback_phone": "cleared with the intake (the number given after 「電話がいい」)",
    "ticket_note.body": "deleted: notes on those tickets",
    "outbox_message.payload": "erased in every state; an unsent one is cancelled (user id)",
    "outbox_message.reply_token": "erased with the payload",
    "inbox_event.payload": "erased once processed (user hash); a pending one when the worker, seeing no consent, has processed it",
}

# encrypted columns that hold no words of a user, and why they stay
NOT_USER_TEXT: dict[str, str] = {
    "channel_user.platform_id": "the address to send to; the user row stays so the next message asks consent again",
    "staff_user.totp_secret": "a staff account's second factor",
    "staff_session.totp_pending_secret": "a staff account's second factor being enrolled, bound to its session",
}


def do_erase_user(session: Session, user: ChannelUser) -> Conversation:
    """Deletes every stored message, intake answer, staff note and unsent reply of ``user``; starts a fresh conversation.

    Consent rows, referral records and audit rows stay (they record decisions, not content).
    Returns the new conversation. Caller commits.
    """
    conv_ids = [c.id for c in session.exec(select(Conversation).where(Conversation.user_id == user.id)).all()]
    if conv_ids:
        for msg in session.exec(select(Message).where(col(Message.conversation_id).in_(conv_ids))).all():
            session.delete(msg)
    # why by user id too: a ticket is the user's even if its conversation row were gone
    mine = col(Ticket.user_id) == user.id
    for ticket in session.exec(select(Ticket).where(or_(mine, col(Ticket.conversation_id).in_(conv_ids)) if conv_ids else mine)).all():
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
        if row.state in (OutboxState.pending.value, OutboxState.sending.value):
            # why cancel: a staff reply not yet sent quotes the case; it must not go out (or
            # stay stored) after the user asked for everything to be deleted
            row.state = OutboxState.cancelled.value
            row.lease_until = None
            row.last_error = "erased"
        row.payload = None
        row.reply_token = None
        session.add(row)
    for conv in session.exec(select(Conversation).where(Conversation.user_id == user.id)).all():
        conv.closed = True
        conv.context = None
        conv.consent_version = None
        conv.current_ticket_id = None
        session.add(conv)
    do_erase_processed_payloads(session, user.user_hash)
    session.flush()
    fresh = Conversation(user_id=saved_id(user), state="new")
    session.add(fresh)
    session.flush()
    return fresh


