"""What staff do with one conversation: claim, reply, close, refer, note, erase (the ticket actions).

Thin routes (STYLE.md §3): each parses the form, calls the same ``check_*``/``do_*`` functions as
the JSON API (the gatekeeper ``handoff.actions.access_ticket_by_id`` is inside every ``check_*``)
and commits once. A refused action shows the conversation again with the reason
(admin.console.refusals); the pages themselves are in :mod:`admin.console.staff`.
"""
from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from admin import accounts, canned_text, disclosure
from admin.console import StaffPage
from admin.console.refusals import refused_with
from admin.console.staff import CHANNEL_LABELS, CHANNEL_LIMITS, _actor, _back, _office_facts, _refused, message_length
from admin.deps import SessionDep, SignedIn, actor_for
from admin.params import DbId, DbIdForm, OptionalDbIdForm
from handoff import actions, views
from handoff.actions import ActionError
from handoff.models import CannedReply, Outcome

router = APIRouter(prefix="/console", include_in_schema=False)


def _ticket_refused(exc: ActionError, *, request: Request, session: Session, login: SignedIn, ticket_id: int, **_form) -> HTMLResponse:
    """The refusal page of the ticket actions: the conversation again, with the reason."""
    return _refused(request, login, session, _actor(request, login), ticket_id, exc)


def _reply_refused(exc: ActionError, *, request: Request, session: Session, login: SignedIn, ticket_id: int, text: str, canned_id: int | None) -> HTMLResponse:
    """As :func:`_ticket_refused`, keeping the reply as typed (or the canned reply chosen) in the box."""
    draft = _reply_text(request, session, text, canned_id)
    return _refused(request, login, session, _actor(request, login), ticket_id, exc, draft=draft)


def _not_found(_exc: ActionError, **_route) -> HTMLResponse:
    return HTMLResponse("", status_code=404)


def _reply_text(request: Request, session: Session, text: str, canned_id: int | None) -> str:
    """The text to send: as typed, or (without JavaScript) the chosen canned reply filled in."""
    if not text.strip() and canned_id is not None:
        canned = session.get(CannedReply, canned_id)
        phone, hours = _office_facts(request, session)
        return canned_text.fill(canned.body, phone=phone, hours=hours) if canned else ""
    return text


@router.post("/tickets/{ticket_id}/claim", summary="Claim (staff)")
@refused_with(_ticket_refused)
def claim(request: Request, ticket_id: DbId, session: SessionDep, login: StaffPage):
    actor = _actor(request, login)
    ticket = actions.check_claim_ticket(session, actor, ticket_id)
    actions.do_claim_ticket(session, actor, ticket)
    session.commit()
    return _back(ticket_id, "claimed")


@router.post("/tickets/{ticket_id}/erase-user", summary="Erase the user's records on their request (staff)")
@refused_with(_ticket_refused)
def erase_user(request: Request, ticket_id: DbId, session: SessionDep, login: StaffPage, confirm: str | None = Form(None)):
    """Erases everything the user wrote and every note about them (asked by the user, e.g. by phone)."""
    actor = _actor(request, login)
    if confirm != "yes":
        raise ActionError("消す前に、確認のチェックを入れてください。", "confirm_needed")
    ticket = actions.check_erase_ticket_user(session, actor, ticket_id)
    actions.do_erase_ticket_user(session, actor, ticket)
    session.commit()
    return RedirectResponse("/console/inbox?view=closed_today", status_code=303)


@router.get("/tickets/{ticket_id}/export", summary="Disclosure export of the ticket's user (staff)")
@refused_with(_not_found)
def export_user(request: Request, ticket_id: DbId, session: SessionDep, login: StaffPage):
    """開示: everything stored about the ticket's user as a JSON file; audited like the API export."""
    actor = _actor(request, login)
    ticket = actions.access_ticket_by_id(session, actor, ticket_id)
    user = disclosure.access_user_transcripts(session, actor, ticket.user_id)
    data = disclosure.do_export_user(session, actor, user, via=f"ticket:{ticket.id}")
    session.commit()
    return disclosure.attachment(data, user)


@router.post("/tickets/{ticket_id}/release", summary="Release (staff)")
@refused_with(_ticket_refused)
def release(request: Request, ticket_id: DbId, session: SessionDep, login: StaffPage):
    actor = _actor(request, login)
    ticket = actions.access_ticket_by_id(session, actor, ticket_id)
    actions.do_release_ticket(session, actor, ticket)
    session.commit()
    return RedirectResponse("/console/inbox", status_code=303)


@router.post("/tickets/{ticket_id}/transfer", summary="Transfer to a colleague (staff)")
@refused_with(_ticket_refused)
def transfer(request: Request, ticket_id: DbId, session: SessionDep, login: StaffPage, colleague_id: DbIdForm):
    actor = _actor(request, login)
    colleague = accounts.colleague_actor(session, colleague_id, lambda u: actor_for(u, None))
    ticket = actions.check_transfer_ticket(session, actor, ticket_id, colleague)
    assert colleague is not None  # check_transfer_ticket refuses a missing colleague
    actions.do_transfer_ticket(session, actor, ticket, colleague)
    session.commit()
    return RedirectResponse("/console/inbox?view=mine", status_code=303)


@router.post("/tickets/{ticket_id}/close", summary="Close with an outcome (staff)")
@refused_with(_ticket_refused)
def close(request: Request, ticket_id: DbId, session: SessionDep, login: StaffPage, outcome: str = Form(...), tell_user: str | None = Form(None)):
    actor = _actor(request, login)
    if outcome not in {o.value for o in Outcome}:
        raise ActionError("結果を選んでください。", "bad_outcome")
    ticket = actions.check_close_ticket(session, actor, ticket_id)
    actions.do_close_ticket(session, actor, ticket, Outcome(outcome), tell_user=tell_user is not None)
    session.commit()
    return RedirectResponse("/console/inbox?view=closed_today", status_code=303)


@router.post("/tickets/{ticket_id}/return", summary="Return to the bot (staff)")
@refused_with(_ticket_refused)
def return_to_bot(request: Request, ticket_id: DbId, session: SessionDep, login: StaffPage, tell_user: str | None = Form(None)):
    actor = _actor(request, login)
    ticket = actions.check_return_to_bot(session, actor, ticket_id)
    actions.do_return_to_bot(session, actor, ticket, tell_user=tell_user is not None)
    session.commit()
    return RedirectResponse("/console/inbox", status_code=303)


@router.post("/tickets/{ticket_id}/reply", summary="Reply to the user (staff)")
@refused_with(_reply_refused)
def reply(request: Request, ticket_id: DbId, session: SessionDep, login: StaffPage, text: str = Form(""), canned_id: OptionalDbIdForm = None):
    """Sends the text (or, without JavaScript, the chosen canned reply) through the outbox."""
    actor = _actor(request, login)
    text = _reply_text(request, session, text, canned_id)
    ticket = actions.check_reply(session, actor, ticket_id, text)
    channel = views.summary(session, ticket, lambda _i: None).channel
    limit = CHANNEL_LIMITS.get(channel, 2000)
    if message_length(text.strip(), channel) > limit:
        raise ActionError(f"長すぎます。{CHANNEL_LABELS.get(channel, channel)}では1回に{limit:,}文字までです。", "too_long")
    actions.do_reply(session, actor, ticket, text)
    session.commit()
    return _back(ticket_id, "sent")


@router.post("/tickets/{ticket_id}/consent-b", summary="Ask consent B through the bot (staff)")
@refused_with(_ticket_refused)
def ask_consent_b(request: Request, ticket_id: DbId, session: SessionDep, login: StaffPage, organisation: str = Form("")):
    """Asks the user whether the case may be shared with the named organisation."""
    actor = _actor(request, login)
    ticket = actions.check_request_consent_b(session, actor, ticket_id, organisation[:100])
    actions.do_request_consent_b(session, actor, ticket, organisation[:100])
    session.commit()
    return _back(ticket_id, "asked")


@router.post("/tickets/{ticket_id}/crisis-outcome", summary="Record what was done about a crisis (staff)")
@refused_with(_ticket_refused)
def crisis_outcome(request: Request, ticket_id: DbId, session: SessionDep, login: StaffPage, outcome: str = Form("")):
    """One tap: 「110番・119番をすすめた」 or 「連絡がとれた」 (counted on the dashboard)."""
    actor = _actor(request, login)
    ticket = actions.check_record_crisis_outcome(session, actor, ticket_id, outcome)
    actions.do_record_crisis_outcome(session, actor, ticket, outcome)
    session.commit()
    return _back(ticket_id, "recorded")


@router.post("/tickets/{ticket_id}/referral", summary="Record a referral (staff)")
@refused_with(_ticket_refused)
def refer(request: Request, ticket_id: DbId, session: SessionDep, login: StaffPage, organisation: str = Form("")):
    """Records that the case was passed on; refused without the user's consent B for it."""
    actor = _actor(request, login)
    ticket, consent = actions.check_refer_ticket(session, actor, ticket_id, organisation[:100])
    actions.do_refer_ticket(session, actor, ticket, consent, organisation[:100])
    session.commit()
    return _back(ticket_id, "referred")


@router.post("/tickets/{ticket_id}/note", summary="Private note (staff)")
@refused_with(_ticket_refused)
def add_note(request: Request, ticket_id: DbId, session: SessionDep, login: StaffPage, body: str = Form("")):
    actor = _actor(request, login)
    ticket = actions.access_ticket_by_id(session, actor, ticket_id)
    actions.do_add_note(session, actor, ticket, body)
    session.commit()
    return _back(ticket_id, "noted")


@router.post("/tickets/{ticket_id}/tags", summary="Tags (staff)")
@refused_with(_ticket_refused)
def set_tags(request: Request, ticket_id: DbId, session: SessionDep, login: StaffPage, tags: str = Form("")):
    actor = _actor(request, login)
    ticket = actions.access_ticket_by_id(session, actor, ticket_id)
    parts = tags.replace("、", ",").replace(" ", ",").replace("\u3000", ",").split(",")
    actions.do_set_tags(session, actor, ticket, parts)
    session.commit()
    return _back(ticket_id, "tagged")
