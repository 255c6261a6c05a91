"""Who may touch a ticket, and the few writes every ticket action shares.

:func:`access_ticket_by_id` is the only way the console gets a ticket for a staff member; the
errors carry an HTTP status and a short code so the JSON API and the HTML console map them the
same way. Split from :mod:`handoff.actions` so that the consent-B questions
(:mod:`handoff.consent_b`) use the same gatekeeper without importing every action.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session

from core.messages import OutMessage
from core.models import ChannelUser, Conversation, Message
from core.outbox import enqueue
from handoff.models import Ticket, TicketState

STAFF_ROLE = "staff"


class ActionError(Exception):
    """A refused action: ``status`` for HTTP, ``code`` for programs, ``message`` safe to show."""

    status = 400
    code = "refused"

    def __init__(self, message: str = "", code: str | None = None):
        super().__init__(message or self.code)
        self.message = message or self.code
        if code:
            self.code = code


class TicketNotFound(ActionError):
    status = 404
    code = "not_found"

    def __init__(self) -> None:
        super().__init__("見つかりません。")


class TicketConflict(ActionError):
    status = 409
    code = "conflict"


AuditWriter = Callable[[Session, "Actor", str, "str | None", "str | None"], None]


@dataclass(frozen=True)
class Actor:
    """A staff member as the queue sees them; built by admin/deps.py from a live session."""

    id: int
    name: str
    roles: frozenset[str]
    ip: str | None
    audit_writer: AuditWriter

    def audit(self, session: Session, action: str, target: str | None = None, detail: str | None = None) -> None:
        self.audit_writer(session, self, action, target, detail)


# --- the gatekeeper ---------------------------------------------------------------------------

def access_ticket_by_id(session: Session, actor: Actor, ticket_id: int) -> Ticket:
    """The only way the console gets a ticket. Never reveals whether a ticket exists.

    Staff work as one office team (two-person practice, colleagues cover each other), so any
    staff member may read any ticket; changing one needs the claim (see ``require_assignee``).
    """
    if STAFF_ROLE not in actor.roles:
        raise TicketNotFound()
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise TicketNotFound()
    return ticket


def require_assignee(actor: Actor, ticket: Ticket) -> None:
    if ticket.state != TicketState.claimed.value:
        raise TicketConflict("この相談は、いま担当中ではありません。", "not_claimed")
    if ticket.assignee_id != actor.id:
        raise TicketConflict("この相談は、ほかの職員が担当しています。", "not_assignee")


def target_of(ticket: Ticket) -> str:
    return f"ticket:{ticket.id}"


def user_of(session: Session, ticket: Ticket) -> ChannelUser:
    user = session.get(ChannelUser, ticket.user_id)
    assert user is not None
    return user


def send_to_user(session: Session, ticket: Ticket, msg: OutMessage, *, staff_id: int | None, store_as: str) -> str:
    """Outbox row for the user's channel + transcript row (text kept only with consent A)."""
    user = user_of(session, ticket)
    conv = session.get(Conversation, ticket.conversation_id)
    row = enqueue(session, user=user, messages=[msg], sender=store_as, staff_id=staff_id)
    consented = conv is not None and conv.consent_version is not None and not conv.closed
    session.add(
        Message(
            conversation_id=ticket.conversation_id,
            direction="out",
            sender=store_as,
            staff_id=staff_id,
            kind=msg.kind,
            # why: without consent A the user still gets the reply, but we keep no copy
            body=msg.plain_text() if consented else None,
            outbox_id=row.id,
        )
    )
    return row.id
