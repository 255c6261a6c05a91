"""What the console shows about tickets: explicit Public schemas and the queries behind them.

Public schemas list their fields on purpose: a pseudonym and the channel type, never the
platform user id, profile name or hashes. Message text appears only in the transcript of
one ticket (an audited read), never in lists or notifications.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session, SQLModel, col, select

from core.clock import JST, now
from core.models import ChannelUser, Conversation, Message
from core.rows import saved_id
from handoff.actions import Actor
from handoff.intake import intake_lines
from handoff.models import ConsentB, Referral, Ticket, TicketNote, TicketState

QUEUE_VIEWS = ("open", "waiting", "mine", "closed_today", "callback")
Names = Callable[[int | None], str | None]


class TicketSummaryPublic(SQLModel):
    id: int
    state: str
    priority: int
    crisis: bool
    urgent: bool
    pseudonym: str
    channel: str
    created_at: datetime
    waiting_minutes: int
    assignee_id: int | None
    assignee_name: str | None
    unread: int
    tags: list[str]
    consent_a: str  # given | declined | none
    consent_b: str
    intake_summary: list[str]
    outcome: str | None
    closed_at: datetime | None
    is_demo: bool
    crisis_outcome: str | None = None  # CrisisOutcome name: advised_emergency | reached
    callback_window: str | None = None  # am | pm | any: the person asked to be called back


class TranscriptItemPublic(SQLModel):
    id: int
    at: datetime
    direction: str
    sender: str
    kind: str
    text: str | None
    stored: bool  # False: the user did not consent, so the text was not kept
    entry_id: str | None
    entry_version: int | None
    staff_name: str | None


class NotePublic(SQLModel):
    id: int
    at: datetime
    staff_name: str | None
    body: str | None


class TopicPublic(SQLModel):
    entry_id: str
    title: str | None


class ReferralPublic(SQLModel):
    organisation: str
    at: datetime
    staff_name: str | None


class TicketDetailPublic(SQLModel):
    ticket: TicketSummaryPublic
    intake: list[str]
    answered_topics: list[TopicPublic]
    transcript: list[TranscriptItemPublic]
    notes: list[NotePublic]
    consent_b_org: str | None
    referrals: list[ReferralPublic]
    callback_phone: str | None = None  # only in the detail staff open (the read is audited)


def _consent_a(conv: Conversation | None) -> str:
    if conv is not None and conv.consent_version is not None:
        return "given"
    if conv is not None and conv.consent_declined:
        return "declined"
    return "none"


def summary(session: Session, ticket: Ticket, names: Names) -> TicketSummaryPublic:
    user = session.get(ChannelUser, ticket.user_id)
    conv = session.get(Conversation, ticket.conversation_id)
    until = ticket.claimed_at or ticket.closed_at or now()
    intake = json.loads(ticket.intake) if ticket.intake else {}
    return TicketSummaryPublic(
        id=saved_id(ticket),
        state=ticket.state,
        priority=ticket.priority,
        crisis=ticket.crisis,
        urgent=ticket.priority <= 1,
        pseudonym=user.pseudonym if user else "相談者 ----",
        channel=user.channel if user else "unknown",
        created_at=ticket.created_at,
        waiting_minutes=max(0, int((until - ticket.created_at).total_seconds() // 60)),
        assignee_id=ticket.assignee_id,
        assignee_name=names(ticket.assignee_id),
        unread=ticket.unread,
        tags=[t for t in (ticket.tags or "").split(",") if t],
        consent_a=_consent_a(conv),
        consent_b=ticket.consent_b or ConsentB.not_asked.value,
        intake_summary=intake_lines(intake, short=True),
        outcome=ticket.outcome,
        closed_at=ticket.closed_at,
        is_demo=ticket.is_demo,
        crisis_outcome=ticket.crisis_outcome,
        callback_window=ticket.callback_window if ticket.callback_phone else None,
    )


def start_of_today_utc() -> datetime:
    local = now().astimezone(JST)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def list_queue(session: Session, actor: Actor, view: str, names: Names, *, limit: int = 200) -> list[TicketSummaryPublic]:
    """The queue: crisis first, then urgent, then the longest-waiting. ``view`` filters it."""
    q = select(Ticket)
    if view == "waiting":
        q = q.where(Ticket.state == TicketState.waiting.value)
    elif view == "mine":
        q = q.where(Ticket.state == TicketState.claimed.value, Ticket.assignee_id == actor.id)
    elif view == "closed_today":
        q = q.where(col(Ticket.state).in_((TicketState.closed.value, TicketState.returned_to_bot.value)), col(Ticket.closed_at) >= start_of_today_utc())
    elif view == "callback":  # the call-back list: open tickets whose person asked for a call
        q = q.where(col(Ticket.state).in_((TicketState.waiting.value, TicketState.claimed.value)), col(Ticket.callback_window).is_not(None))
    else:
        q = q.where(col(Ticket.state).in_((TicketState.waiting.value, TicketState.claimed.value)))
    if view == "closed_today":
        q = q.order_by(col(Ticket.closed_at).desc(), col(Ticket.id).desc())
    else:
        q = q.order_by(col(Ticket.crisis).desc(), col(Ticket.priority).asc(), col(Ticket.created_at).asc(), col(Ticket.id).asc())
    return [summary(session, t, names) for t in session.exec(q.limit(limit)).all()]


def detail(session: Session, ticket: Ticket, names: Names, titles: Callable[[str], str | None] = lambda _e: None) -> TicketDetailPublic:
    """One ticket with its conversation's transcript (the caller audits the read)."""
    intake = json.loads(ticket.intake) if ticket.intake else {}
    msgs = session.exec(
        select(Message).where(Message.conversation_id == ticket.conversation_id).order_by(col(Message.created_at), col(Message.id))
    ).all()
    # why the consent check: a declined user's topics are not shown even if an old row kept them
    consented = _consent_a(session.get(Conversation, ticket.conversation_id)) == "given"
    transcript = [
        TranscriptItemPublic(
            id=saved_id(m),
            at=m.created_at,
            direction=m.direction,
            sender=m.sender,
            kind=m.kind,
            text=m.body,
            stored=m.body is not None,
            entry_id=m.entry_id if m.sender != "user" and consented else None,
            entry_version=m.entry_version,
            staff_name=names(m.staff_id) if m.sender == "staff" else None,
        )
        for m in msgs
    ]
    notes = [
        NotePublic(id=saved_id(n), at=n.created_at, staff_name=names(n.staff_id), body=n.body)
        for n in session.exec(select(TicketNote).where(TicketNote.ticket_id == ticket.id).order_by(col(TicketNote.created_at), col(TicketNote.id))).all()
    ]
    referrals = [
        ReferralPublic(organisation=r.organisation, at=r.created_at, staff_name=names(r.staff_id))
        for r in session.exec(select(Referral).where(Referral.ticket_id == ticket.id)).all()
    ]
    topics = [TopicPublic(entry_id=e, title=titles(e)) for e in (ticket.answered_topics or "").split(",") if e and consented]
    return TicketDetailPublic(
        ticket=summary(session, ticket, names),
        intake=intake_lines(intake),
        answered_topics=topics,
        transcript=transcript,
        notes=notes,
        consent_b_org=ticket.consent_b_org,
        referrals=referrals,
        callback_phone=ticket.callback_phone,
    )


