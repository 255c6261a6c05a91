"""The hand-off queue for staff: list, read, claim, reply, close, refer; the live event stream."""
from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import StreamingResponse
from sqlmodel import Session, select

from admin import accounts
from admin.api.access import STAFF, RouteSpec, build_router
from admin.api.schemas import (
    CloseRequest,
    ColleaguePublic,
    CrisisOutcomeRequest,
    NoteCreatedPublic,
    NoteRequest,
    OkPublic,
    OrganisationRequest,
    ReplyPublic,
    ReplyRequest,
    ReturnRequest,
    TagsRequest,
    TransferRequest,
)
from admin.auth import find_session
from admin.deps import CurrentActor, SessionDep, SignedInDep, actor_for
from admin.models import Role, StaffUser
from admin.params import DbId
from core import db
from handoff import actions, views
from handoff.events import event_stream


def _names(session: Session) -> views.Names:
    cache: dict[int, str | None] = {}

    def name(staff_id: int | None) -> str | None:
        if staff_id is None:
            return None
        if staff_id not in cache:
            user = session.get(StaffUser, staff_id)
            cache[staff_id] = (user.display_name or user.username) if user else None
        return cache[staff_id]

    return name


def _titles(request: Request) -> Callable[[str], str | None]:
    def title(entry_id: str) -> str | None:
        try:
            entry = request.app.state.runtime.knowledge.kb.get(entry_id)
            return entry.title if entry else None
        except Exception:
            return None

    return title



QueueView = Annotated[str, Query(pattern="^(open|waiting|mine|closed_today)$")]


def read_queue(session: SessionDep, actor: CurrentActor, view: QueueView = "open") -> list[views.TicketSummaryPublic]:
    """The queue: crisis first, then urgent, then longest waiting. No message text here."""
    return views.list_queue(session, actor, view, _names(session))


def read_ticket(ticket_id: DbId, request: Request, session: SessionDep, actor: CurrentActor) -> views.TicketDetailPublic:
    """One ticket with its transcript, intake and notes (an audited read)."""
    ticket = actions.access_ticket_by_id(session, actor, ticket_id)
    actions.mark_read(session, actor, ticket)
    actor.audit(session, "ticket.read", f"ticket:{ticket.id}")
    result = views.detail(session, ticket, _names(session), _titles(request))
    session.commit()
    return result


def claim_ticket(ticket_id: DbId, session: SessionDep, actor: CurrentActor) -> views.TicketSummaryPublic:
    """Takes a waiting ticket; 409 when someone else was faster."""
    ticket = actions.check_claim_ticket(session, actor, ticket_id)
    actions.do_claim_ticket(session, actor, ticket)
    session.commit()
    return views.summary(session, ticket, _names(session))


def release_ticket(ticket_id: DbId, session: SessionDep, actor: CurrentActor) -> views.TicketSummaryPublic:
    """Puts a ticket you hold back in the queue."""
    ticket = actions.access_ticket_by_id(session, actor, ticket_id)
    actions.do_release_ticket(session, actor, ticket)
    session.commit()
    return views.summary(session, ticket, _names(session))


def transfer_ticket(ticket_id: DbId, body: TransferRequest, request: Request, session: SessionDep, actor: CurrentActor) -> views.TicketSummaryPublic:
    """Hands a ticket you hold to a colleague with the staff role."""
    colleague = accounts.colleague_actor(session, body.staff_id, lambda u: actor_for(u, None))
    ticket = actions.check_transfer_ticket(session, actor, ticket_id, colleague)
    assert colleague is not None  # check_transfer_ticket refuses a missing colleague
    actions.do_transfer_ticket(session, actor, ticket, colleague)
    session.commit()
    return views.summary(session, ticket, _names(session))


def reply_ticket(ticket_id: DbId, body: ReplyRequest, session: SessionDep, actor: CurrentActor) -> ReplyPublic:
    """Sends your reply to the user's channel (through the outbox)."""
    ticket = actions.check_reply(session, actor, ticket_id, body.text)
    outbox_id = actions.do_reply(session, actor, ticket, body.text)
    session.commit()
    return ReplyPublic(outbox_id=outbox_id)


def add_note(ticket_id: DbId, body: NoteRequest, session: SessionDep, actor: CurrentActor) -> NoteCreatedPublic:
    """Adds a private note (never sent to the user)."""
    ticket = actions.access_ticket_by_id(session, actor, ticket_id)
    note = actions.do_add_note(session, actor, ticket, body.body)
    session.commit()
    return NoteCreatedPublic(id=note.id)


def set_tags(ticket_id: DbId, body: TagsRequest, session: SessionDep, actor: CurrentActor) -> views.TicketSummaryPublic:
    """Replaces the ticket's tags."""
    ticket = actions.access_ticket_by_id(session, actor, ticket_id)
    actions.do_set_tags(session, actor, ticket, body.tags)
    session.commit()
    return views.summary(session, ticket, _names(session))


def close_ticket(ticket_id: DbId, body: CloseRequest, session: SessionDep, actor: CurrentActor) -> views.TicketSummaryPublic:
    """Closes a ticket you hold with an outcome code; the bot answers the user again."""
    ticket = actions.check_close_ticket(session, actor, ticket_id)
    actions.do_close_ticket(session, actor, ticket, body.outcome, tell_user=body.tell_user)
    session.commit()
    return views.summary(session, ticket, _names(session))


def return_to_bot(ticket_id: DbId, body: ReturnRequest, session: SessionDep, actor: CurrentActor) -> views.TicketSummaryPublic:
    """Ends the hand-off without an outcome: the bot answers the user again."""
    ticket = actions.check_return_to_bot(session, actor, ticket_id)
    actions.do_return_to_bot(session, actor, ticket, tell_user=body.tell_user)
    session.commit()
    return views.summary(session, ticket, _names(session))


def request_consent_b(ticket_id: DbId, body: OrganisationRequest, session: SessionDep, actor: CurrentActor) -> views.TicketSummaryPublic:
    """Asks the user, through the bot, whether the case may be shared with an organisation."""
    ticket = actions.check_request_consent_b(session, actor, ticket_id, body.organisation)
    actions.do_request_consent_b(session, actor, ticket, body.organisation)
    session.commit()
    return views.summary(session, ticket, _names(session))


def record_crisis_outcome(ticket_id: DbId, body: CrisisOutcomeRequest, session: SessionDep, actor: CurrentActor) -> views.TicketSummaryPublic:
    """Records what was done about a crisis ticket (110番・119番をすすめた / 連絡がとれた)."""
    ticket = actions.check_record_crisis_outcome(session, actor, ticket_id, body.outcome)
    actions.do_record_crisis_outcome(session, actor, ticket, body.outcome)
    session.commit()
    return views.summary(session, ticket, _names(session))


def refer_ticket(ticket_id: DbId, body: OrganisationRequest, session: SessionDep, actor: CurrentActor) -> views.ReferralPublic:
    """Records a referral to an organisation; refused without the user's consent B for it."""
    ticket, consent = actions.check_refer_ticket(session, actor, ticket_id, body.organisation)
    ref = actions.do_refer_ticket(session, actor, ticket, consent, body.organisation)
    session.commit()
    return views.ReferralPublic(organisation=ref.organisation, at=ref.created_at, staff_name=_names(session)(actor.id))


def erase_ticket_user(ticket_id: DbId, session: SessionDep, actor: CurrentActor) -> OkPublic:
    """Erases everything the ticket's user wrote (their request, e.g. by phone); audited."""
    ticket = actions.check_erase_ticket_user(session, actor, ticket_id)
    actions.do_erase_ticket_user(session, actor, ticket)
    session.commit()
    return OkPublic()


def read_colleagues(session: SessionDep) -> list[ColleaguePublic]:
    """Enabled staff members a ticket can be transferred to."""
    users = session.exec(select(StaffUser).where(StaffUser.disabled == False).order_by(StaffUser.username)).all()  # noqa: E712
    return [ColleaguePublic(id=u.id, display_name=u.display_name or u.username) for u in users if Role.staff.value in u.role_set]


async def stream_events(request: Request, login: SignedInDep) -> StreamingResponse:
    """Server-sent events for the console: new/urgent tickets, claims, closes (ids only)."""
    token = login.token

    def still_allowed() -> bool:
        with Session(db.engine()) as s:
            return find_session(s, token) is not None

    return StreamingResponse(
        event_stream(request.is_disconnected, still_allowed),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )



ROUTES: list[RouteSpec] = [
    RouteSpec("GET", "/tickets", read_queue, STAFF),
    RouteSpec("GET", "/tickets/{ticket_id}", read_ticket, STAFF),
    RouteSpec("POST", "/tickets/{ticket_id}/claim", claim_ticket, STAFF),
    RouteSpec("POST", "/tickets/{ticket_id}/release", release_ticket, STAFF),
    RouteSpec("POST", "/tickets/{ticket_id}/transfer", transfer_ticket, STAFF),
    RouteSpec("POST", "/tickets/{ticket_id}/reply", reply_ticket, STAFF),
    RouteSpec("POST", "/tickets/{ticket_id}/notes", add_note, STAFF),
    RouteSpec("PUT", "/tickets/{ticket_id}/tags", set_tags, STAFF),
    RouteSpec("POST", "/tickets/{ticket_id}/close", close_ticket, STAFF),
    RouteSpec("POST", "/tickets/{ticket_id}/return-to-bot", return_to_bot, STAFF),
    RouteSpec("POST", "/tickets/{ticket_id}/consent-b", request_consent_b, STAFF),
    RouteSpec("POST", "/tickets/{ticket_id}/referral", refer_ticket, STAFF),
    RouteSpec("POST", "/tickets/{ticket_id}/crisis-outcome", record_crisis_outcome, STAFF),
    RouteSpec("POST", "/tickets/{ticket_id}/erase-user", erase_ticket_user, STAFF),
    RouteSpec("GET", "/colleagues", read_colleagues, STAFF),
    RouteSpec("GET", "/events", stream_events, STAFF),
]
router = build_router(ROUTES)
