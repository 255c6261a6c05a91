"""What staff do with hand-off tickets: ``check_*`` validates and authorises, ``do_*`` writes.

Conventions (Zulip-style, see STYLE.md):
- :func:`access_ticket_by_id` is the only way to get a ticket for a staff member;
- every ``do_*`` writes the audit row through ``actor.audit`` and publishes a notification
  (delivered after commit); it flushes but never commits: the caller owns the transaction;
- errors are :class:`ActionError` subclasses carrying an HTTP status and a short code, so the
  JSON API and the HTML console map them the same way.

Why ``Actor`` and not ``StaffUser``: rooms import inward only (admin imports handoff), so the
console hands us a small value with the staff id, roles, IP and its audit writer.
"""
from __future__ import annotations

import json
import re
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from core.clock import now
from core.messages import Button, OutMessage
from core.models import Conversation
from core.rows import saved_id
from core.settings import get_settings
from handoff import notify
from handoff.consent_b import (
    A_CONSENT_B,
    CONSENT_B_DECLINED,
    CONSENT_B_STALE,
    CONSENT_B_TEXT,
    CONSENT_B_THANKS,
    CONSENT_B_VERSION,
    check_refer_ticket,
    check_request_consent_b,
    consent_b_text,
    do_answer_consent_b,
    do_refer_ticket,
    do_request_consent_b,
    is_consent_b_action,
    latest_consent_b,
)
from handoff.erase import do_erase_user
from handoff.models import CrisisOutcome, Outcome, Ticket, TicketNote, TicketState
from handoff.ticket_access import (
    STAFF_ROLE,
    ActionError,
    Actor,
    AuditWriter,
    TicketConflict,
    TicketNotFound,
    access_ticket_by_id,
    require_assignee,
    send_to_user,
    target_of,
    user_of,
)

# Re-exported: the console, the API and the bot import the errors, Actor and the consent-B
# actions from here, the one module of "what staff do with tickets".
REEXPORTED = (
    STAFF_ROLE, ActionError, Actor, AuditWriter, TicketConflict, TicketNotFound, access_ticket_by_id,
    require_assignee, send_to_user, target_of, user_of, A_CONSENT_B, CONSENT_B_DECLINED, CONSENT_B_STALE,
    CONSENT_B_TEXT, CONSENT_B_THANKS, CONSENT_B_VERSION, check_refer_ticket, check_request_consent_b,
    consent_b_text, do_answer_consent_b, do_refer_ticket, do_request_consent_b, is_consent_b_action,
    latest_consent_b,
)
MAX_TAGS = 10
TAG_RE = re.compile(r"^[\w\u3000-\u30ff\u4e00-\u9fff・ー-]{1,20}$")

CLOSED_TEXT = "職員との相談は、いったん終わりました。また困ったら、いつでもこのチャットに送ってください。よくある質問には自動で答えます。"
RETURNED_TEXT = "このあとは自動の案内が答えます。職員と話したいときは「人と話したい」を押してください。"


def _back_to_bot(session: Session, ticket: Ticket, *, reopenable: bool = False) -> None:
    """Gives the conversation back to the bot: it answers again from the next message.

    ``reopenable``: for the grace period (``RISTAPO_HANDOFF_REOPEN_HOURS``) a message the bot
    cannot answer itself reopens this ticket (bot/waiting.py), so it reaches staff again.
    """
    conv = session.get(Conversation, ticket.conversation_id)
    if conv is not None and conv.current_ticket_id in (ticket.id, None):
        conv.state = "ready"
        conv.current_ticket_id = None
        pending = json.loads(conv.context) if conv.context else {}
        pending.pop("reopen", None)
        hours = get_settings().handoff_reopen_hours
        if reopenable and hours:
            until = now() + timedelta(hours=hours)
            pending["reopen"] = {"ticket": ticket.id, "until": until.isoformat()}
        conv.context = json.dumps(pending, ensure_ascii=False) if pending else None
        session.add(conv)


# --- claim / release / transfer ----------------------------------------------------------------

def check_claim_ticket(session: Session, actor: Actor, ticket_id: int) -> Ticket:
    ticket = access_ticket_by_id(session, actor, ticket_id)
    if ticket.state != TicketState.waiting.value or ticket.assignee_id is not None:
        raise TicketConflict("この相談は、すでにほかの職員が担当しているか、終わっています。", "already_claimed")
    return ticket


def do_claim_ticket(session: Session, actor: Actor, ticket: Ticket) -> Ticket:
    """Takes a waiting ticket. ONE conditional UPDATE decides the race; losers get TicketConflict.

    Precondition: ``ticket`` came from :func:`check_claim_ticket`. Under PostgreSQL READ
    COMMITTED a second updater waits and re-evaluates the WHERE on the new row (0 rows);
    SQLite serialises writers. Either way exactly one claim wins.
    """
    at = now()
    result = session.exec(
        update(Ticket)
        .where(col(Ticket.id) == ticket.id, col(Ticket.assignee_id).is_(None), col(Ticket.state) == TicketState.waiting.value)
        .values(assignee_id=actor.id, state=TicketState.claimed.value, claimed_at=at)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise TicketConflict("この相談は、すでにほかの職員が担当しています。", "already_claimed")
    session.refresh(ticket)
    actor.audit(session, "ticket.claim", target_of(ticket))
    notify.publish(session, "ticket_claimed", ticket_id=ticket.id, staff_id=actor.id)
    return ticket


def do_release_ticket(session: Session, actor: Actor, ticket: Ticket) -> Ticket:
    """Puts a ticket the actor holds back in the queue (waiting, nobody assigned)."""
    require_assignee(actor, ticket)
    result = session.exec(
        update(Ticket)
        .where(col(Ticket.id) == ticket.id, col(Ticket.assignee_id) == actor.id, col(Ticket.state) == TicketState.claimed.value)
        .values(assignee_id=None, state=TicketState.waiting.value, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise TicketConflict("この相談は、いまあなたの担当ではありません。", "not_assignee")
    session.refresh(ticket)
    actor.audit(session, "ticket.release", target_of(ticket))
    notify.publish(session, "ticket_released", ticket_id=ticket.id, urgent=ticket.priority <= 1)
    return ticket


def check_transfer_ticket(session: Session, actor: Actor, ticket_id: int, colleague: Actor | None) -> Ticket:
    """``colleague`` is an enabled staff account looked up by the console (None = no such staff)."""
    ticket = access_ticket_by_id(session, actor, ticket_id)
    require_assignee(actor, ticket)
    if colleague is None or STAFF_ROLE not in colleague.roles:
        raise ActionError("引き継ぎ先の職員が見つかりません。", "no_such_colleague")
    if colleague.id == actor.id:
        raise ActionError("自分には引き継げません。", "same_staff")
    return ticket


def do_transfer_ticket(session: Session, actor: Actor, ticket: Ticket, colleague: Actor) -> Ticket:
    """Hands a ticket the actor holds to a colleague. Precondition: :func:`check_transfer_ticket`."""
    result = session.exec(
        update(Ticket)
        .where(col(Ticket.id) == ticket.id, col(Ticket.assignee_id) == actor.id, col(Ticket.state) == TicketState.claimed.value)
        .values(assignee_id=colleague.id, claimed_at=now())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise TicketConflict("この相談は、いまあなたの担当ではありません。", "not_assignee")
    session.refresh(ticket)
    actor.audit(session, "ticket.transfer", target_of(ticket), detail=f"to:staff:{colleague.id}")
    notify.publish(session, "ticket_transferred", ticket_id=ticket.id, staff_id=colleague.id)
    return ticket


def release_all_of(session: Session, staff_id: int) -> list[int]:
    """Puts every ticket a (disabled) staff member holds back in the queue; returns their ids."""
    ids = [tid for tid in session.exec(select(col(Ticket.id)).where(Ticket.assignee_id == staff_id, Ticket.state == TicketState.claimed.value)).all() if tid is not None]
    if ids:
        session.exec(
            update(Ticket)
            .where(col(Ticket.id).in_(ids), col(Ticket.state) == TicketState.claimed.value)
            .values(assignee_id=None, state=TicketState.waiting.value, claimed_at=None)
            .execution_options(synchronize_session=False)
        )
        for tid in ids:
            notify.publish(session, "ticket_released", ticket_id=tid, urgent=False)
    return ids


# --- reply / note / tags -----------------------------------------------------------------------

def check_reply(session: Session, actor: Actor, ticket_id: int, text: str) -> Ticket:
    ticket = access_ticket_by_id(session, actor, ticket_id)
    require_assignee(actor, ticket)
    if not text.strip():
        raise ActionError("返事が空です。", "empty")
    return ticket


def do_reply(session: Session, actor: Actor, ticket: Ticket, text: str) -> str:
    """Sends a staff reply: outbox row + transcript row in the caller's transaction; returns the outbox id.

    Precondition: :func:`check_reply` (the actor holds the ticket).
    """
    outbox_id = send_to_user(session, ticket, OutMessage("staff", text.strip()), staff_id=actor.id, store_as="staff")
    ticket.last_staff_reply_at = now()
    ticket.first_staff_reply_at = ticket.first_staff_reply_at or ticket.last_staff_reply_at
    ticket.unread = 0
    session.add(ticket)
    session.flush()
    actor.audit(session, "ticket.reply", target_of(ticket))
    notify.publish(session, "staff_replied", ticket_id=ticket.id, staff_id=actor.id)
    return outbox_id


def do_add_note(session: Session, actor: Actor, ticket: Ticket, body: str) -> TicketNote:
    """Adds a private note (encrypted; never sent to the user). Any staff member with access may."""
    if not body.strip():
        raise ActionError("メモが空です。", "empty")
    note = TicketNote(ticket_id=saved_id(ticket), staff_id=actor.id, body=body.strip())
    session.add(note)
    session.flush()
    actor.audit(session, "ticket.note", target_of(ticket))
    return note


def normalise_tags(tags: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
    if len(cleaned) > MAX_TAGS:
        raise ActionError(f"タグは{MAX_TAGS}個までです。", "too_many_tags")
    for t in cleaned:
        if not TAG_RE.match(t):
            raise ActionError("タグは20文字までの文字・数字です(カンマや記号は使えません)。", "bad_tag")
    return cleaned


def do_set_tags(session: Session, actor: Actor, ticket: Ticket, tags: list[str]) -> Ticket:
    """Replaces the ticket's tags (short labels for statistics, not content)."""
    ticket.tags = ",".join(normalise_tags(tags)) or None
    session.add(ticket)
    session.flush()
    actor.audit(session, "ticket.tags", target_of(ticket))
    return ticket


def mark_read(session: Session, actor: Actor, ticket: Ticket) -> None:
    """The assignee opened the ticket: the unread counter goes back to zero."""
    if ticket.assignee_id == actor.id and ticket.unread:
        ticket.unread = 0
        session.add(ticket)


# --- close / return to bot ---------------------------------------------------------------------

def check_close_ticket(session: Session, actor: Actor, ticket_id: int) -> Ticket:
    ticket = access_ticket_by_id(session, actor, ticket_id)
    require_assignee(actor, ticket)
    return ticket


def do_close_ticket(session: Session, actor: Actor, ticket: Ticket, outcome: Outcome, *, tell_user: bool = True) -> Ticket:
    """Closes a ticket with an outcome code; the conversation goes back to the bot ("ready").

    Precondition: :func:`check_close_ticket`.
    """
    ticket.state = TicketState.closed.value
    ticket.outcome = Outcome(outcome).value
    ticket.closed_at = now()
    ticket.closed_by = actor.id
    session.add(ticket)
    _back_to_bot(session, ticket, reopenable=True)
    if tell_user:
        send_to_user(session, ticket, OutMessage("text", CLOSED_TEXT), staff_id=actor.id, store_as="bot")
    session.flush()
    actor.audit(session, "ticket.close", target_of(ticket), detail=ticket.outcome)
    notify.publish(session, "ticket_closed", ticket_id=ticket.id)
    return ticket


def check_return_to_bot(session: Session, actor: Actor, ticket_id: int) -> Ticket:
    """A waiting ticket may be returned by any staff member; a claimed one only by its holder."""
    ticket = access_ticket_by_id(session, actor, ticket_id)
    if ticket.state == TicketState.waiting.value:
        return ticket
    require_assignee(actor, ticket)
    return ticket


def do_return_to_bot(session: Session, actor: Actor, ticket: Ticket, *, tell_user: bool = True) -> Ticket:
    """Ends the hand-off without an outcome (e.g. the bot can answer): the bot answers again."""
    same_holder = col(Ticket.assignee_id).is_(None) if ticket.assignee_id is None else col(Ticket.assignee_id) == ticket.assignee_id
    result = session.exec(
        update(Ticket)
        .where(col(Ticket.id) == ticket.id, col(Ticket.state) == ticket.state, same_holder)
        .values(state=TicketState.returned_to_bot.value, closed_at=now(), closed_by=actor.id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise TicketConflict("この相談の状態が変わりました。もう一度開いてください。", "changed")
    session.refresh(ticket)
    _back_to_bot(session, ticket)
    if tell_user:
        send_to_user(session, ticket, OutMessage("text", RETURNED_TEXT, quick_replies=[Button("人と話したい", "h")]), staff_id=actor.id, store_as="bot")
    session.flush()
    actor.audit(session, "ticket.return_to_bot", target_of(ticket))
    notify.publish(session, "ticket_closed", ticket_id=ticket.id)
    return ticket


# --- crisis outcome ----------------------------------------------------------------------------

def check_record_crisis_outcome(session: Session, actor: Actor, ticket_id: int, outcome: str) -> Ticket:
    """Any staff member may record what was done about a crisis ticket (colleagues cover each other)."""
    ticket = access_ticket_by_id(session, actor, ticket_id)
    if not ticket.crisis:
        raise ActionError("緊急の相談ではありません。", "not_crisis")
    if outcome not in {o.name for o in CrisisOutcome}:
        raise ActionError("選べない結果です。", "bad_outcome")
    return ticket


def do_record_crisis_outcome(session: Session, actor: Actor, ticket: Ticket, outcome: str) -> Ticket:
    """Records 「110番・119番をすすめた」 / 「連絡がとれた」 (one tap; counted on the dashboard)."""
    ticket.crisis_outcome = outcome
    ticket.crisis_outcome_at = now()
    session.add(ticket)
    session.flush()
    actor.audit(session, "ticket.crisis_outcome", target_of(ticket), detail=outcome)
    return ticket


# --- erasure by staff --------------------------------------------------------------------------

def check_erase_ticket_user(session: Session, actor: Actor, ticket_id: int) -> Ticket:
    """A claimed ticket's user may be erased only by its holder; otherwise by any staff member."""
    ticket = access_ticket_by_id(session, actor, ticket_id)
    if ticket.state == TicketState.claimed.value:
        require_assignee(actor, ticket)
    return ticket


def do_erase_ticket_user(session: Session, actor: Actor, ticket: Ticket) -> None:
    """Erases the content of the ticket's user on their request (e.g. asked by phone); audited."""
    user = user_of(session, ticket)
    do_erase_user(session, user)
    actor.audit(session, "user.erase", f"user:{user.id}", detail=target_of(ticket))
    notify.publish(session, "ticket_closed", ticket_id=ticket.id)
