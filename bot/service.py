"""Applies one engine turn to the database: the only place a turn's effects are written.

``handle_inbound`` runs inside the caller's transaction: the stored message, consent record,
ticket and outbox row of a turn commit together or not at all (transactional outbox).

The inbox worker runs the turns of many users in one transaction (see bot/pipeline/inbox.py): it
loads their rows with :func:`load_turns` and collects the transcript and outbox rows in a
:class:`TurnWrites`, so a batch of turns costs a handful of statements instead of a handful
per turn. A single turn (web chat, terminal, demo) uses the same code with immediate writes.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from bot import engine
from bot.engine import ConversationView, EngineContext, TurnResult
from bot.erase import do_erase_user
from bot.runtime import Runtime, consent_for_turn
from bot.states import DialogueState
from bot.turn_load import (  # re-exported: the pipeline and tests load users through the service
    Loaded as Loaded,
)
from bot.turn_load import (
    _insert,
    _load_turn,
)
from bot.turn_load import (
    create_users as create_users,
)
from bot.turn_load import (
    get_open_conversation as get_open_conversation,
)
from bot.turn_load import (
    get_or_create_user as get_or_create_user,
)
from bot.turn_load import (
    load_turns as load_turns,
)
from bot.turn_settings import turn_settings
from core.clock import now
from core.messages import Inbound, OutMessage
from core.models import INTENT_ABSTAINED, ChannelUser, Consent, Conversation, Message, OutboxMessage
from core.outbox import OUTBOX_ADDED, enqueue, outbox_values
from core.rows import saved_id
from handoff import actions as handoff_actions
from handoff import notify
from handoff.models import OPEN_STATES, Ticket, TicketState
from handoff.notice import crisis_staff_line, waiting_ack, waiting_notice
from handoff.queue import do_escalate_to_crisis, do_note_user_message, do_open_ticket, do_reopen_ticket
from knowledge.kb import render_answer

log = logging.getLogger("ristapo.service")


@dataclass
class Handled:
    out: list[OutMessage]
    user_id: int
    conversation_id: int
    outbox_id: str | None = None
    events: list[str] = field(default_factory=list)
    # the conversation row as the turn left it (the session's identity map holds it only weakly)
    conversation: Conversation | None = field(default=None, repr=False, compare=False)


class TurnWrites:
    """The transcript and outbox rows of one or more turns, inserted together.

    Why: nothing in a turn reads these rows back, and written one statement each they cost more
    than the turn's thinking. With ``deferred`` the inbox worker collects a whole batch of turns
    and calls :meth:`flush` once before its commit (one executemany per table); otherwise every
    add is written at once, as a single turn needs.
    """

    def __init__(self, *, deferred: bool = False) -> None:
        self.deferred = deferred
        self.messages: list[dict] = []
        self.outbox: list[dict] = []

    def add_messages(self, session: Session, rows: list[dict]) -> None:
        self.messages.extend(rows)
        if not self.deferred:
            self.flush(session)

    def add_outbox(self, session: Session, row: dict) -> None:
        self.outbox.append(row)
        if row["state"] == "pending":
            session.info[OUTBOX_ADDED] = True  # wakes the delivery worker after the commit
        if not self.deferred:
            self.flush(session)

    def flush(self, session: Session) -> None:
        """Inserts what was collected (in the caller's transaction)."""
        if self.messages:
            rows, self.messages = self.messages, []
            session.execute(_insert(Message), rows)  # executemany
        if self.outbox:
            rows, self.outbox = self.outbox, []
            session.execute(_insert(OutboxMessage), rows)


def _message_row(conversation_id: int, **values) -> dict:
    row = dict.fromkeys(("staff_id", "body", "entry_id", "entry_version", "intent", "score", "external_id", "outbox_id"))
    row.update(conversation_id=conversation_id, kind="text", created_at=now())
    row.update(values)
    return row


def _view(conv: Conversation, ticket: Ticket | None) -> ConversationView:
    pending = json.loads(conv.context) if conv.context else {}
    reopen = pending.get("reopen") or {}
    return ConversationView(
        state=DialogueState(conv.state),
        consent_version=conv.consent_version,
        consent_declined=conv.consent_declined,
        ticket_open=ticket is not None,
        pending=pending,
        ticket_waiting=ticket is not None and ticket.state == TicketState.waiting.value,
        ticket_crisis=ticket is not None and ticket.crisis,
        reopenable=ticket is None and bool(reopen.get("until")) and reopen["until"] > now().isoformat(),
    )


def _reopen(session: Session, conv: Conversation, result: TurnResult) -> Ticket | None:
    """Reopens the ticket named in the conversation (closed within the grace period)."""
    reopen = result.view.pending.pop("reopen", None) or {}
    ticket = session.get(Ticket, reopen.get("ticket")) if reopen.get("ticket") else None
    if ticket is None or ticket.conversation_id != conv.id or ticket.state in OPEN_STATES:
        return None
    do_reopen_ticket(session, ticket)
    conv.current_ticket_id = ticket.id
    notify.publish(session, "ticket_reopened", ticket_id=ticket.id, staff_id=ticket.closed_by, urgent=ticket.priority <= 1)
    return ticket


def handle_inbound(
    session: Session,
    rt: Runtime,
    *,
    channel: str,
    platform_id: str,
    inbound: Inbound,
    reply_token: str | None = None,
    reply_deadline: datetime | None = None,
    loaded: Loaded | None = None,
    writes: TurnWrites | None = None,
) -> Handled:
    """Runs one turn for a user and writes everything it causes. Caller commits.

    ``loaded``: this user's rows from :func:`load_turns` (None: looked up here). ``writes``: a
    deferred :class:`TurnWrites` the caller flushes before its commit (None: written now).
    """
    deferred = writes is not None
    writes = writes or TurnWrites()
    user, conv, ticket = _load_turn(session, channel, platform_id, loaded)
    if inbound.kind == "postback" and handoff_actions.is_consent_b_action(inbound.action):
        # consent B (share with an organisation) was asked by staff through the bot: record it
        out = handoff_actions.do_answer_consent_b(session, user=user, action=inbound.action or "")
        row = enqueue(session, user=user, messages=out, reply_token=reply_token, reply_deadline=reply_deadline) if out else None
        session.flush()
        return Handled(out, saved_id(user), saved_id(conv), row.id if row else None, ["consent_b"])
    consent = consent_for_turn(session)
    current = turn_settings(session)
    values = current.answer_values()
    ctx = _engine_context(session, rt, consent, current, values, ticket)
    result = engine.turn(_view(conv, ticket), inbound, ctx)
    fill_placeholders(result.out, values)
    if inbound.kind == "text":
        _record_inbound(session, writes, conv, inbound, result)
    kinds, ticket = _apply_events(session, writes, result, user=user, conv=conv, ticket=ticket, consent=consent,
                                  channel=channel)
    if "delete_user" in kinds:
        writes.flush(session)  # why: the erase below must see (and delete) this turn's rows too
        session.add(Consent(user_id=saved_id(user), kind="A", version=consent.version, text_hash=consent.text_hash, choice="withdrawn", channel=channel))
        conv = do_erase_user(session, user)
        ticket = None

    _apply_view(conv, result)
    outbox_id = _record_outbound(session, writes, result, kinds, user=user, conv=conv, reply_token=reply_token,
                                 reply_deadline=reply_deadline)
    if not deferred:
        session.flush()
    return Handled(result.out, saved_id(user), saved_id(conv), outbox_id, kinds, conv)


def _engine_context(session: Session, rt: Runtime, consent, current, values: dict[str, str],
                    ticket: Ticket | None) -> EngineContext:
    """What the engine may ask during the turn: texts, hours-aware lines, the knowledge."""
    knowledge = rt.knowledge

    def notice(urgent: bool) -> str:
        return waiting_notice(session, urgent=urgent)

    return EngineContext(
        knowledge.kb,
        knowledge.understander,
        consent.version,
        render_answer(consent.text, values),
        notice,
        lambda: crisis_staff_line(session),
        consent_valid_from=consent.valid_from or None,
        waiting_ack=lambda crisis: waiting_ack(session, ticket, crisis=crisis),
        now=now,
        phone_callbacks=lambda: current.hours.phone_callbacks,
    )


def _record_inbound(session: Session, writes: TurnWrites, conv: Conversation, inbound: Inbound, result: TurnResult) -> None:
    und = result.understanding
    # why: without consent A not even what the text was about is kept (topic, intent, score);
    # a crisis still opens an urgent ticket and marks the reply, which is what staff act on
    keep = result.store_inbound and und is not None
    writes.add_messages(session, [
        _message_row(
            saved_id(conv),
            direction="in",
            sender="user",
            body=inbound.text if result.store_inbound else None,
            intent=und.intent if keep and und is not None else None,
            entry_id=und.topic if keep and und is not None else None,
            score=und.score if keep and und is not None else None,
            external_id=inbound.external_id,
        )
    ])


def _open_ticket_for_turn(session: Session, conv: Conversation, result: TurnResult, data: dict) -> Ticket:
    """A new hand-off ticket, with the topics the bot already answered (only with consent)."""
    consented = result.view.consent_version is not None
    answered = [
        e
        for e in session.exec(
            select(Message.entry_id).where(Message.conversation_id == conv.id, Message.direction == "out", col(Message.entry_id).is_not(None))
        ).all()
        if e
    ] if consented else []
    crisis = any(e.kind == "crisis" for e in result.events)
    ticket = do_open_ticket(
        session,
        conversation=conv,
        crisis=crisis,
        urgent=bool(data.get("urgent")),
        consent_declined=result.view.consent_version is None,
        intake=data.get("intake") or {},
        answered_topics=answered,
    )
    conv.current_ticket_id = ticket.id
    notify.publish(session, "ticket_created", ticket_id=ticket.id, urgent=ticket.priority <= 1, crisis=crisis)
    return ticket


def _apply_events(session: Session, writes: TurnWrites, result: TurnResult, *, user: ChannelUser,
                  conv: Conversation, ticket: Ticket | None, consent, channel: str) -> tuple[list[str], Ticket | None]:
    """Does what the turn's events ask (consent rows, tickets, notifications); returns their kinds."""
    kinds = []
    for ev in result.events:
        kinds.append(ev.kind)
        if ev.kind == "consent":
            session.add(
                Consent(user_id=saved_id(user), kind="A", version=consent.version, text_hash=consent.text_hash, choice=ev.data["choice"], channel=channel)
            )
        elif ev.kind == "handoff" and ticket is None and (existing := _open_ticket_of_user(session, user)) is not None:
            # one open ticket per person: a new hand-off (a crisis above all) joins the open one
            ticket = existing
            _merge_into(session, ticket, crisis=any(e.kind == "crisis" for e in result.events))
        elif ev.kind == "handoff" and ticket is None:
            ticket = _open_ticket_for_turn(session, conv, result, ev.data)
        elif ev.kind == "callback" and ticket is not None:
            # the number is stored encrypted on the ticket (erased with the user's other records)
            ticket.callback_phone = ev.data.get("phone") or ticket.callback_phone
            ticket.callback_window = ev.data.get("window") or ticket.callback_window or "any"
            session.add(ticket)
        elif ev.kind == "reopen" and ticket is None:
            ticket = _reopen(session, conv, result)
        elif ev.kind == "staff_notify" and ticket is not None:
            do_note_user_message(session, ticket)
            notify.publish(session, "user_message", ticket_id=ticket.id, urgent=bool(ev.data.get("urgent")))
        elif ev.kind == "crisis":
            if ticket is not None and not ticket.crisis:
                do_escalate_to_crisis(session, ticket)
                notify.publish(session, "ticket_escalated", ticket_id=ticket.id, urgent=True, crisis=True)
            # why no conversation id: it would tie a person to a crisis in the logs; the ticket
            # (and its audited reads) is where staff see who it is. The rule id only.
            log.warning("crisis flagged", extra={"lexicon": ev.data.get("lexicon_id")})
        elif ev.kind == "clarify_chosen" and result.view.consent_version is not None:
            # The answer to a question back: kept beside the message it answers (marked
            # intent "clarify"), so that editors can review the pair as a training line.
            writes.add_messages(session, [_message_row(
                saved_id(conv), direction="in", sender="user", kind="choice", body=None,
                intent="clarified", entry_id=ev.data.get("entry_id"),
            )])
        elif ev.kind == "danger_check":
            log.info("danger check asked", extra={"lexicon": ev.data.get("lexicon_id")})
    return kinds, ticket


def _record_outbound(session: Session, writes: TurnWrites, result: TurnResult, kinds: list[str], *,
                     user: ChannelUser, conv: Conversation, reply_token: str | None,
                     reply_deadline: datetime | None) -> str | None:
    """The bot's messages in the transcript (text only with consent) and one outbox row."""
    store_out = result.view.consent_version is not None and "delete_user" not in kinds
    abstained = "abstained" in kinds  # the unanswered-questions view and the dashboard count these
    writes.add_messages(session, [
        _message_row(
            saved_id(conv),
            direction="out",
            sender="bot",
            kind=m.kind,
            body=m.plain_text() if store_out else None,
            # the answered topic is metadata about the user too: kept only with consent
            entry_id=m.entry_id if store_out else None,
            entry_version=m.entry_version if store_out else None,
            intent=INTENT_ABSTAINED if abstained and i == 0 else None,
        )
        for i, m in enumerate(result.out)
    ])
    if not result.out:
        return None
    values_row = outbox_values(user=user, messages=result.out, reply_token=reply_token, reply_deadline=reply_deadline)
    writes.add_outbox(session, values_row)
    return values_row["id"]


def answer_values(session: Session) -> dict[str, str]:
    """What ``{office_hours}`` and ``{retention_days}`` in answers and the consent text mean now."""
    return turn_settings(session).answer_values()


def fill_placeholders(out: list[OutMessage], values: dict[str, str]) -> None:
    """Fills the settings placeholders in FAQ answers (entries say {office_hours}, not a time)."""
    for m in out:
        if m.kind in ("answer", "consent"):
            m.text = render_answer(m.text, values)


def _open_ticket_of_user(session: Session, user: ChannelUser) -> Ticket | None:
    """The user's open ticket in any of their conversations (the turn's own was not open)."""
    return session.exec(
        select(Ticket).where(Ticket.user_id == user.id, col(Ticket.state).in_(OPEN_STATES)).order_by(col(Ticket.id))
    ).first()


def _merge_into(session: Session, ticket: Ticket, *, crisis: bool) -> None:
    """Counts a repeated hand-off as a message on the open ticket; a crisis makes it a crisis ticket."""
    if crisis and not ticket.crisis:
        ticket.crisis, ticket.priority = True, 0
    do_note_user_message(session, ticket)
    notify.publish(session, "user_message", ticket_id=ticket.id, urgent=crisis or ticket.priority <= 1)


def _apply_view(conv: Conversation, result: TurnResult) -> None:
    v = result.view
    conv.state = v.state.value
    conv.consent_version = v.consent_version
    conv.consent_declined = v.consent_declined
    conv.context = json.dumps(v.pending, ensure_ascii=False) if v.pending else None
    conv.last_activity_at = now()
