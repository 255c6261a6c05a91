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

import hashlib
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, select

from core.clock import now
from core.settings import get_settings
from core.messages import Button, OutMessage
from core.models import ChannelUser, Consent, Conversation, Message
from core.outbox import enqueue
from handoff import notify
from handoff.erase import do_erase_user
from handoff.models import ConsentB, CrisisOutcome, Outcome, Referral, Ticket, TicketNote, TicketState

STAFF_ROLE = "staff"
MAX_TAGS = 10
TAG_RE = re.compile(r"^[\w\u3000-\u30ff\u4e00-\u9fff・ー-]{1,20}$")

CONSENT_B_VERSION = 1
A_CONSENT_B = "b:"  # postback: "b:y:<ticket id>:<question id>" / "b:n:<ticket id>:<question id>"
CONSENT_B_TEXT = (
    "担当の職員から、お願いがあります。\n"
    "あなたの相談を「{org}」に伝えて、いっしょに支援を考えたいと思っています。"
    "伝えるのは、相談の内容のうち支援に必要なことだけです。\n"
    "伝えてよいですか?(断っても、ここでの相談はこのまま続けられます)"
)
CONSENT_B_THANKS = "ありがとうございます。「{org}」に伝えてよいと、職員に知らせました。"
CONSENT_B_DECLINED = "わかりました。「{org}」には伝えません。ここでの相談はこのまま続けられます。"
CONSENT_B_STALE = "このボタンの質問は、もう使えません。いちばん新しい質問のボタンを押してください。何も伝えていません。"
CLOSED_TEXT = "職員との相談は、いったん終わりました。また困ったら、いつでもこのチャットに送ってください。よくある質問には自動で答えます。"
RETURNED_TEXT = "このあとは自動の案内が答えます。職員と話したいときは「人と話したい」を押してください。"


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

    def __init__(self):
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
    staff member may read any ticket; changing one needs the claim (see ``_require_assignee``).
    """
    if STAFF_ROLE not in actor.roles:
        raise TicketNotFound()
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise TicketNotFound()
    return ticket


def _require_assignee(actor: Actor, ticket: Ticket) -> None:
    if ticket.state != TicketState.claimed.value:
        raise TicketConflict("この相談は、いま担当中ではありません。", "not_claimed")
    if ticket.assignee_id != actor.id:
        raise TicketConflict("この相談は、ほかの職員が担当しています。", "not_assignee")


def _target(ticket: Ticket) -> str:
    return f"ticket:{ticket.id}"


def _user_of(session: Session, ticket: Ticket) -> ChannelUser:
    user = session.get(ChannelUser, ticket.user_id)
    assert user is not None
    return user


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


def _send(session: Session, ticket: Ticket, msg: OutMessage, *, staff_id: int | None, store_as: str) -> str:
    """Outbox row for the user's channel + transcript row (text kept only with consent A)."""
    user = _user_of(session, ticket)
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
    result = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.assignee_id.is_(None), Ticket.state == TicketState.waiting.value)
        .values(assignee_id=actor.id, state=TicketState.claimed.value, claimed_at=at)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise TicketConflict("この相談は、すでにほかの職員が担当しています。", "already_claimed")
    session.refresh(ticket)
    actor.audit(session, "ticket.claim", _target(ticket))
    notify.publish(session, "ticket_claimed", ticket_id=ticket.id, staff_id=actor.id)
    return ticket


def do_release_ticket(session: Session, actor: Actor, ticket: Ticket) -> Ticket:
    """Puts a ticket the actor holds back in the queue (waiting, nobody assigned)."""
    _require_assignee(actor, ticket)
    result = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.assignee_id == actor.id, Ticket.state == TicketState.claimed.value)
        .values(assignee_id=None, state=TicketState.waiting.value, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise TicketConflict("この相談は、いまあなたの担当ではありません。", "not_assignee")
    session.refresh(ticket)
    actor.audit(session, "ticket.release", _target(ticket))
    notify.publish(session, "ticket_released", ticket_id=ticket.id, urgent=ticket.priority <= 1)
    return ticket


def check_transfer_ticket(session: Session, actor: Actor, ticket_id: int, colleague: Actor | None) -> Ticket:
    """``colleague`` is an enabled staff account looked up by the console (None = no such staff)."""
    ticket = access_ticket_by_id(session, actor, ticket_id)
    _require_assignee(actor, ticket)
    if colleague is None or STAFF_ROLE not in colleague.roles:
        raise ActionError("引き継ぎ先の職員が見つかりません。", "no_such_colleague")
    if colleague.id == actor.id:
        raise ActionError("自分には引き継げません。", "same_staff")
    return ticket


def do_transfer_ticket(session: Session, actor: Actor, ticket: Ticket, colleague: Actor) -> Ticket:
    """Hands a ticket the actor holds to a colleague. Precondition: :func:`check_transfer_ticket`."""
    result = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.assignee_id == actor.id, Ticket.state == TicketState.claimed.value)
        .values(assignee_id=colleague.id, claimed_at=now())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise TicketConflict("この相談は、いまあなたの担当ではありません。", "not_assignee")
    session.refresh(ticket)
    actor.audit(session, "ticket.transfer", _target(ticket), detail=f"to:staff:{colleague.id}")
    notify.publish(session, "ticket_transferred", ticket_id=ticket.id, staff_id=colleague.id)
    return ticket


def release_all_of(session: Session, staff_id: int) -> list[int]:
    """Puts every ticket a (disabled) staff member holds back in the queue; returns their ids."""
    ids = list(session.exec(select(Ticket.id).where(Ticket.assignee_id == staff_id, Ticket.state == TicketState.claimed.value)).all())
    if ids:
        session.execute(
            update(Ticket)
            .where(Ticket.id.in_(ids), Ticket.state == TicketState.claimed.value)
            .values(assignee_id=None, state=TicketState.waiting.value, claimed_at=None)
            .execution_options(synchronize_session=False)
        )
        for tid in ids:
            notify.publish(session, "ticket_released", ticket_id=tid, urgent=False)
    return ids


# --- reply / note / tags -----------------------------------------------------------------------

def check_reply(session: Session, actor: Actor, ticket_id: int, text: str) -> Ticket:
    ticket = access_ticket_by_id(session, actor, ticket_id)
    _require_assignee(actor, ticket)
    if not text.strip():
        raise ActionError("返事が空です。", "empty")
    return ticket


def do_reply(session: Session, actor: Actor, ticket: Ticket, text: str) -> str:
    """Sends a staff reply: outbox row + transcript row in the caller's transaction; returns the outbox id.

    Precondition: :func:`check_reply` (the actor holds the ticket).
    """
    outbox_id = _send(session, ticket, OutMessage("staff", text.strip()), staff_id=actor.id, store_as="staff")
    ticket.last_staff_reply_at = now()
    ticket.first_staff_reply_at = ticket.first_staff_reply_at or ticket.last_staff_reply_at
    ticket.unread = 0
    session.add(ticket)
    session.flush()
    actor.audit(session, "ticket.reply", _target(ticket))
    notify.publish(session, "staff_replied", ticket_id=ticket.id, staff_id=actor.id)
    return outbox_id


def do_add_note(session: Session, actor: Actor, ticket: Ticket, body: str) -> TicketNote:
    """Adds a private note (encrypted; never sent to the user). Any staff member with access may."""
    if not body.strip():
        raise ActionError("メモが空です。", "empty")
    note = TicketNote(ticket_id=ticket.id, staff_id=actor.id, body=body.strip())
    session.add(note)
    session.flush()
    actor.audit(session, "ticket.note", _target(ticket))
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
    actor.audit(session, "ticket.tags", _target(ticket))
    return ticket


def mark_read(session: Session, actor: Actor, ticket: Ticket) -> None:
    """The assignee opened the ticket: the unread counter goes back to zero."""
    if ticket.assignee_id == actor.id and ticket.unread:
        ticket.unread = 0
        session.add(ticket)


# --- close / return to bot ---------------------------------------------------------------------

def check_close_ticket(session: Session, actor: Actor, ticket_id: int) -> Ticket:
    ticket = access_ticket_by_id(session, actor, ticket_id)
    _require_assignee(actor, ticket)
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
        _send(session, ticket, OutMessage("text", CLOSED_TEXT), staff_id=actor.id, store_as="bot")
    session.flush()
    actor.audit(session, "ticket.close", _target(ticket), detail=ticket.outcome)
    notify.publish(session, "ticket_closed", ticket_id=ticket.id)
    return ticket


def check_return_to_bot(session: Session, actor: Actor, ticket_id: int) -> Ticket:
    """A waiting ticket may be returned by any staff member; a claimed one only by its holder."""
    ticket = access_ticket_by_id(session, actor, ticket_id)
    if ticket.state == TicketState.waiting.value:
        return ticket
    _require_assignee(actor, ticket)
    return ticket


def do_return_to_bot(session: Session, actor: Actor, ticket: Ticket, *, tell_user: bool = True) -> Ticket:
    """Ends the hand-off without an outcome (e.g. the bot can answer): the bot answers again."""
    same_holder = Ticket.assignee_id.is_(None) if ticket.assignee_id is None else Ticket.assignee_id == ticket.assignee_id
    result = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.state == ticket.state, same_holder)
        .values(state=TicketState.returned_to_bot.value, closed_at=now(), closed_by=actor.id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise TicketConflict("この相談の状態が変わりました。もう一度開いてください。", "changed")
    session.refresh(ticket)
    _back_to_bot(session, ticket)
    if tell_user:
        _send(session, ticket, OutMessage("text", RETURNED_TEXT, quick_replies=[Button("人と話したい", "h")]), staff_id=actor.id, store_as="bot")
    session.flush()
    actor.audit(session, "ticket.return_to_bot", _target(ticket))
    notify.publish(session, "ticket_closed", ticket_id=ticket.id)
    return ticket


# --- consent B and referral --------------------------------------------------------------------

def consent_b_text(org: str) -> str:
    return CONSENT_B_TEXT.format(org=org)


def _consent_b_hash(org: str) -> str:
    return hashlib.sha256(consent_b_text(org).encode("utf-8")).hexdigest()


def check_request_consent_b(session: Session, actor: Actor, ticket_id: int, organisation: str) -> Ticket:
    ticket = access_ticket_by_id(session, actor, ticket_id)
    _require_assignee(actor, ticket)
    if not organisation.strip():
        raise ActionError("機関の名前が空です。", "empty")
    return ticket


def do_request_consent_b(session: Session, actor: Actor, ticket: Ticket, organisation: str) -> Ticket:
    """Asks the user, through the bot, whether their case may be shared with ``organisation``."""
    org = organisation.strip()
    # why a question id: two questions on one ticket must not share a button (a tap under the
    # first would authorise the second organisation)
    question = secrets.token_hex(4)
    buttons = [Button("伝えてよい", f"{A_CONSENT_B}y:{ticket.id}:{question}"), Button("伝えないで", f"{A_CONSENT_B}n:{ticket.id}:{question}")]
    _send(session, ticket, OutMessage("consent", consent_b_text(org), title="ほかの機関に伝えることについて", buttons=buttons), staff_id=actor.id, store_as="bot")
    ticket.consent_b = ConsentB.requested.value
    ticket.consent_b_org = org
    ticket.consent_b_question = question
    ticket.consent_b_at = now()
    session.add(ticket)
    session.flush()
    actor.audit(session, "ticket.consent_b_request", _target(ticket))
    return ticket


def is_consent_b_action(action: str | None) -> bool:
    return bool(action) and action.startswith(A_CONSENT_B)


def do_answer_consent_b(session: Session, *, user: ChannelUser, action: str) -> list[OutMessage]:
    """Records the user's consent-B answer (append-only Consent row, per ticket); the bot's reply.

    Called by bot/service.py for ``b:y:<id>:<question>`` / ``b:n:<id>:<question>`` postbacks. A
    button for another user's ticket is ignored (no reply, nothing recorded); a button of an
    earlier question on this ticket answers that it no longer applies (nothing recorded).
    """
    choice, _, rest = action[len(A_CONSENT_B):].partition(":")
    raw_id, _, question = rest.partition(":")
    ticket = session.get(Ticket, int(raw_id)) if raw_id.isdigit() else None
    if ticket is None or ticket.user_id != user.id or choice not in ("y", "n") or not ticket.consent_b_org:
        return []
    if not question or question != ticket.consent_b_question:
        return [OutMessage("text", CONSENT_B_STALE)]
    org = ticket.consent_b_org
    yes = choice == "y"
    session.add(
        Consent(user_id=user.id, kind="B", version=CONSENT_B_VERSION, text_hash=_consent_b_hash(org), choice="given" if yes else "declined", channel=user.channel, ticket_id=ticket.id)
    )
    ticket.consent_b = (ConsentB.given if yes else ConsentB.declined).value
    ticket.consent_b_at = now()
    session.add(ticket)
    session.flush()
    notify.publish(session, "consent_b_answered", ticket_id=ticket.id)
    return [OutMessage("text", (CONSENT_B_THANKS if yes else CONSENT_B_DECLINED).format(org=org))]


def latest_consent_b(session: Session, ticket: Ticket) -> Consent | None:
    return session.exec(
        select(Consent).where(Consent.ticket_id == ticket.id, Consent.kind == "B").order_by(Consent.created_at.desc(), Consent.id.desc())
    ).first()


def check_refer_ticket(session: Session, actor: Actor, ticket_id: int, organisation: str) -> tuple[Ticket, Consent]:
    """Refuses a referral unless the user gave consent B for this ticket and this organisation."""
    ticket = access_ticket_by_id(session, actor, ticket_id)
    _require_assignee(actor, ticket)
    consent = latest_consent_b(session, ticket)
    org = organisation.strip()
    # why the text hash too: the grant must be for exactly the question that named this organisation
    if consent is None or consent.choice != "given" or ticket.consent_b_org != org or consent.text_hash != _consent_b_hash(org):
        raise TicketConflict("この機関に伝える同意(同意B)がありません。先にボットから同意をたずねてください。", "consent_b_missing")
    return ticket, consent


def do_refer_ticket(session: Session, actor: Actor, ticket: Ticket, consent: Consent, organisation: str) -> Referral:
    """Records that the case was passed to ``organisation``. Precondition: :func:`check_refer_ticket`."""
    ref = Referral(ticket_id=ticket.id, organisation=organisation.strip(), staff_id=actor.id, consent_id=consent.id)
    session.add(ref)
    session.flush()
    actor.audit(session, "ticket.refer", _target(ticket), detail=f"consent:{consent.id}")
    return ref


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
    actor.audit(session, "ticket.crisis_outcome", _target(ticket), detail=outcome)
    return ticket


# --- erasure by staff --------------------------------------------------------------------------

def check_erase_ticket_user(session: Session, actor: Actor, ticket_id: int) -> Ticket:
    """A claimed ticket's user may be erased only by its holder; otherwise by any staff member."""
    ticket = access_ticket_by_id(session, actor, ticket_id)
    if ticket.state == TicketState.claimed.value:
        _require_assignee(actor, ticket)
    return ticket


def do_erase_ticket_user(session: Session, actor: Actor, ticket: Ticket) -> None:
    """Erases the content of the ticket's user on their request (e.g. asked by phone); audited."""
    user = _user_of(session, ticket)
    do_erase_user(session, user)
    actor.audit(session, "user.erase", f"user:{user.id}", detail=_target(ticket))
    notify.publish(session, "ticket_closed", ticket_id=ticket.id)
