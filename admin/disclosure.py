"""Disclosure (開示): everything stored about one chat user, for the person themselves.

The export holds whole transcripts, so it follows the transcript rule (docs/security.md):
transcripts are read and exported by accounts with the ``staff`` role only. An admin-only
account manages accounts and settings and reads the audit log, but never reads what users
wrote. :func:`access_user_transcripts` is the only way to a user for an export; every export
writes a ``user.export`` audit row in the caller's transaction.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi.responses import JSONResponse
from sqlmodel import Session, col, select

from admin.accounts import NotFound
from core.clock import now
from core.models import ChannelUser, Consent, Conversation, Message
from handoff.actions import STAFF_ROLE, Actor
from handoff.intake import intake_lines
from handoff.models import Referral, Ticket, TicketNote


def access_user_transcripts(session: Session, actor: Actor, user_id: int) -> ChannelUser:
    """The chat user whose transcripts ``actor`` may export; 404 alike for missing and not allowed."""
    if STAFF_ROLE not in actor.roles:
        raise NotFound()
    user = session.get(ChannelUser, user_id)
    if user is None:
        raise NotFound()
    return user


def do_export_user(session: Session, actor: Actor, user: ChannelUser, *, via: str | None = None) -> dict[str, Any]:
    """The user's stored data, with its audit row (precondition: ``access_user_transcripts``)."""
    data = disclosure(session, user)
    actor.audit(session, "user.export", f"user:{user.id}", detail=via)
    return data


def attachment(data: dict[str, Any], user: ChannelUser) -> JSONResponse:
    return JSONResponse(
        data,
        headers={"Content-Disposition": f'attachment; filename="ristapo-user-{user.id}.json"', "Cache-Control": "no-store"},
    )


def disclosure(session: Session, user: ChannelUser) -> dict[str, Any]:
    """The user's stored data (platform id and its hash excluded: never shown in the console)."""

    def iso(d: datetime | None) -> str | None:
        return d.isoformat() if d else None

    convs = session.exec(select(Conversation).where(col(Conversation.user_id) == user.id).order_by(col(Conversation.started_at))).all()
    conversations = []
    tickets = []
    for c in convs:
        msgs = session.exec(select(Message).where(col(Message.conversation_id) == c.id).order_by(col(Message.created_at), col(Message.id))).all()
        conversations.append(
            {
                "id": c.id,
                "started_at": iso(c.started_at),
                "closed": c.closed,
                "messages": [
                    {"at": iso(m.created_at), "direction": m.direction, "sender": m.sender, "kind": m.kind, "text": m.body, "entry_id": m.entry_id, "entry_version": m.entry_version}
                    for m in msgs
                ],
            }
        )
        for t in session.exec(select(Ticket).where(Ticket.conversation_id == c.id)).all():
            notes = session.exec(select(TicketNote).where(TicketNote.ticket_id == t.id)).all()
            refs = session.exec(select(Referral).where(Referral.ticket_id == t.id)).all()
            tickets.append(
                {
                    "id": t.id,
                    "state": t.state,
                    "created_at": iso(t.created_at),
                    "closed_at": iso(t.closed_at),
                    "outcome": t.outcome,
                    "intake": intake_lines(json.loads(t.intake)) if t.intake else [],
                    "callback": {"phone": t.callback_phone, "window": t.callback_window} if t.callback_phone else None,
                    "tags": [x for x in (t.tags or "").split(",") if x],
                    "notes": [{"at": iso(n.created_at), "text": n.body} for n in notes],
                    "referrals": [{"organisation": r.organisation, "at": iso(r.created_at)} for r in refs],
                }
            )
    consents = session.exec(select(Consent).where(col(Consent.user_id) == user.id).order_by(col(Consent.created_at), col(Consent.id))).all()
    return {
        "exported_at": now().isoformat(),
        "user": {"pseudonym": user.pseudonym, "channel": user.channel, "created_at": iso(user.created_at), "active": user.active},
        "consents": [{"kind": c.kind, "version": c.version, "choice": c.choice, "at": iso(c.created_at), "ticket_id": c.ticket_id} for c in consents],
        "conversations": conversations,
        "tickets": tickets,
    }


