"""The waiting room: what the bot says while a ticket waits for staff (pure, no I/O).

Why: after 「人と話したい」 or a crisis reply, a person may wait hours. Every message gets a
sign of life (received, place in the queue, honest time); FAQ questions, the menu and the
buttons still answer, marked as automatic; staff see every turn in the transcript. On a crisis
ticket every message also gets the shortest way to help now, and 「電話できない」 gets
text-based help that is open at that hour. Once staff claim the ticket the bot is silent.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot import texts
from bot.followup import cannot_call, involves_violence
from bot.intake import callback_step
from core.messages import A_CALLBACK, A_HANDOFF, OutMessage
from knowledge.hotlines import hotline_text, text_help_text

if TYPE_CHECKING:
    from bot.engine import ConversationView, EngineContext, TurnResult
    from knowledge.understand import Understanding

# why 5 minutes: often enough that nobody feels ignored, rarely enough not to bury staff replies
ACK_REPEAT = timedelta(minutes=5)
_SHORT_NUMBERS = ("110", "119", "0120-279-338")
# why not greetings or thanks: while waiting they are words for staff; a sign of life is enough
_ANSWERED_INTENTS = ("faq", "menu")


def waiting_room(view: ConversationView, ctx: EngineContext, und: Understanding | None, action: str, text: str,
                 *, respond: Callable[..., TurnResult]) -> TurnResult:
    """Acknowledges a message while the ticket waits; answers what the bot can answer."""
    from bot.engine import Event, TurnResult

    if view.pending.get("ask_phone") or action.startswith(A_CALLBACK):
        answered = callback_step(view, ctx, action, text)
        if answered is not None:
            return answered
    events = [Event("staff_notify", {"urgent": view.ticket_crisis})]
    if view.ticket_crisis and text and cannot_call(text):
        return TurnResult(view, [_text_help(ctx, text, und, violence=bool(view.pending.get("violence")),
                                                 emergency=bool(view.pending.get("emergency")))], events + [Event("intent", {"intent": "text_help"})], und)
    out: list[OutMessage] = []
    if action == A_HANDOFF or (und and und.intent == "handoff"):
        out.append(OutMessage("text", texts.WAITING_ALREADY))
    elif action or (und and und.intent in _ANSWERED_INTENTS):
        answered = respond(replace(view, ticket_open=False), ctx, und, action, text)
        out.extend(answered.out)
        events.extend(answered.events)
        view = replace(answered.view, ticket_open=True, state=view.state)
    ack, view = _ack(view, ctx, text, und, answered=bool(out) and action != A_HANDOFF)
    out.append(ack)
    return TurnResult(view, out, events, und)


def _ack(view: ConversationView, ctx: EngineContext, text: str, und, *, answered: bool) -> tuple[OutMessage, ConversationView]:
    """The sign of life: the full notice at most every few minutes, else one short line."""
    at = ctx.now()
    if view.ticket_crisis:
        # why never shortened: on a crisis ticket each message gets the shortest way to help now
        violence = view.pending.get("violence") or involves_violence(text, getattr(und, "crisis_id", None))
        numbers = hotline_text(_SHORT_NUMBERS + (("0120-279-889", "189") if violence else ()))
        body = "\n".join([ctx.waiting_ack(True), "いますぐ話したいとき(電話):", numbers, texts.CRISIS_TEXT_HINT])
        return OutMessage("text", body, quick_replies=texts.crisis_quick_replies(), urgent=True), view
    last = view.pending.get("ack_at")
    recent = False
    if last:
        try:
            recent = at - datetime.fromisoformat(last) < ACK_REPEAT
        except ValueError:
            recent = False
    quick = [texts.common_quick_replies()[1], texts.crisis_quick_replies()[1]]
    if recent:
        line = texts.WAITING_AUTO_NOTE if answered else texts.WAITING_SHORT_ACK
        return OutMessage("text", line, quick_replies=quick), view
    body = (texts.WAITING_AUTO_NOTE + "\n" if answered else "") + ctx.waiting_ack(False)
    return OutMessage("text", body, quick_replies=quick), replace(view, pending={**view.pending, "ack_at": at.isoformat()})


def _text_help(ctx: EngineContext, text: str, und, *, violence: bool, emergency: bool = False) -> OutMessage:
    """For a person on a crisis ticket who cannot or will not phone: chat services open now."""
    violence = violence or involves_violence(text, getattr(und, "crisis_id", None))
    services = text_help_text(violence=violence, at=ctx.now())
    if emergency:
        # a collapse or violence now: someone nearby can call; never "you need not phone"
        lines = [texts.TEXT_HELP_EMERGENCY, texts.TEXT_HELP_INTRO_EMERGENCY if services else texts.TEXT_HELP_NONE]
    else:
        lines = [texts.TEXT_HELP_INTRO if services else texts.TEXT_HELP_NONE]
    if services:
        lines.append(services)
    lines += [texts.TEXT_HELP_STAY, ctx.waiting_ack(True)]
    return OutMessage("text", "\n".join(lines), quick_replies=[texts.crisis_quick_replies()[1]], urgent=True)


def is_for_staff(und: Understanding | None, action: str) -> bool:
    """A typed message meant for staff: anything but a button, the menu, thanks or a greeting."""
    if action or und is None:
        return False
    return und.intent not in ("menu", "greeting", "thanks", "delete_data")


def reopen(view: ConversationView, ctx: EngineContext, und: Understanding | None, action: str, text: str,
           *, respond: Callable[..., TurnResult]) -> TurnResult:
    """Reopens the ticket staff closed a short while ago: it waits again, and the message is answered as in the waiting room."""
    from bot.engine import Event
    from bot.states import DialogueState as S

    new = replace(view, state=S.HANDED_OFF, ticket_open=True, ticket_waiting=True, reopenable=False)
    result = waiting_room(new, ctx, und, action, text, respond=respond)
    result.out.insert(0, OutMessage("text", texts.REOPENED))
    result.events.insert(0, Event("reopen", {}))
    return result

