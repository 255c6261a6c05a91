"""Consent B: asking the person, through the bot, whether their case may go to another
organisation, and the referral that needs exactly that grant.

Why a module of its own: it is the one place where a staff action becomes a question to the
person and their tap becomes a record (append-only ``Consent`` rows per ticket); the referral
checks that exact grant (the organisation and the question's text hash).
"""
from __future__ import annotations

import hashlib
import secrets

from sqlmodel import Session, col, select

from core.clock import now
from core.messages import Button, OutMessage
from core.models import ChannelUser, Consent
from core.rows import saved_id
from handoff import notify
from handoff.models import ConsentB, Referral, Ticket
from handoff.ticket_access import (
    ActionError,
    Actor,
    TicketConflict,
    access_ticket_by_id,
    require_assignee,
    send_to_user,
    target_of,
)

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


def _consent_b_hash(org: str) -> str:
    return hashlib.sha256(consent_b_text(org).encode("utf-8")).hexdigest()


def consent_b_text(org: str) -> str:
    return CONSENT_B_TEXT.format(org=org)


def check_request_consent_b(session: Session, actor: Actor, ticket_id: int, organisation: str) -> Ticket:
    ticket = access_ticket_by_id(session, actor, ticket_id)
    require_assignee(actor, ticket)
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
    send_to_user(session, ticket, OutMessage("consent", consent_b_text(org), title="ほかの機関に伝えることについて", buttons=buttons), staff_id=actor.id, store_as="bot")
    ticket.consent_b = ConsentB.requested.value
    ticket.consent_b_org = org
    ticket.consent_b_question = question
    ticket.consent_b_at = now()
    session.add(ticket)
    session.flush()
    actor.audit(session, "ticket.consent_b_request", target_of(ticket))
    return ticket


def is_consent_b_action(action: str | None) -> bool:
    return action is not None and action.startswith(A_CONSENT_B)


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
        select(Consent).where(Consent.ticket_id == ticket.id, Consent.kind == "B").order_by(col(Consent.created_at).desc(), col(Consent.id).desc())
    ).first()


def check_refer_ticket(session: Session, actor: Actor, ticket_id: int, organisation: str) -> tuple[Ticket, Consent]:
    """Refuses a referral unless the user gave consent B for this ticket and this organisation."""
    ticket = access_ticket_by_id(session, actor, ticket_id)
    require_assignee(actor, ticket)
    consent = latest_consent_b(session, ticket)
    org = organisation.strip()
    # why the text hash too: the grant must be for exactly the question that named this organisation
    if consent is None or consent.choice != "given" or ticket.consent_b_org != org or consent.text_hash != _consent_b_hash(org):
        raise TicketConflict("この機関に伝える同意(同意B)がありません。先にボットから同意をたずねてください。", "consent_b_missing")
    return ticket, consent


def do_refer_ticket(session: Session, actor: Actor, ticket: Ticket, consent: Consent, organisation: str) -> Referral:
    """Records that the case was passed to ``organisation``. Precondition: :func:`check_refer_ticket`."""
    ref = Referral(ticket_id=saved_id(ticket), organisation=organisation.strip(), staff_id=actor.id, consent_id=saved_id(consent))
    session.add(ref)
    session.flush()
    actor.audit(session, "ticket.refer", target_of(ticket), detail=f"consent:{consent.id}")
    return ref
