"""The dialogue engine: one pure step ``turn(view, inbound, ctx) -> TurnResult``.

It never touches the database or a channel; ``bot/service.py`` loads the view, calls
``turn`` and applies the events in one transaction. The decision order is fixed:

crisis → danger check → consent → (waiting for staff: acknowledge, keep answering; staff own the
chat: silent) → intents → FAQ answer → honest "don't know".

States and transitions: :class:`bot.states.DialogueState`, drawn in ``bot/flow.mmd``.
"""
from __future__ import annotations

from dataclasses import replace

from bot import answers, texts, waiting
from bot import intake as intake_mod
from bot.facet_follow_up import facet_follow_up
from bot.followup import about_someone_else, involves_violence, is_emergency
from bot.states import DialogueState as S
from bot.turn_types import ConversationView, EngineContext, Event, TurnResult  # re-exported for the service and helpers
from core.messages import (
    A_CHOICE,
    A_CONSENT_NO,
    A_CONSENT_YES,
    A_DANGER_NO,
    A_DANGER_YES,
    A_DELETE,
    A_DELETE_NO,
    A_DELETE_YES,
    A_EMERGENCY,
    A_ENTRY,
    A_FURIGANA,
    A_HANDOFF,
    A_INTAKE,
    A_MENU,
    Button,
    Inbound,
    OutMessage,
)
from knowledge.crisis import detect_crisis
from knowledge.feelings import told_feeling
from knowledge.hotlines import crisis_phone_text
from knowledge.normalize import normalize
from knowledge.places import find_place, format_offices, office_request, offices_for
from knowledge.romaji import kana_from_romaji
from knowledge.understand import Understanding


def turn(view: ConversationView, inbound: Inbound, ctx: EngineContext) -> TurnResult:
    """Decides the bot's answer to one inbound message."""
    store = view.consented and inbound.kind == "text"
    result = _decide(view, inbound, ctx)
    result.store_inbound = store
    return result


def _decide(view: ConversationView, inbound: Inbound, ctx: EngineContext) -> TurnResult:
    # why here: every step reads the text (cannot-call, consent words, places, facets, feelings),
    # and 「denwa dekinai」 must mean the same to all of them as でんわ できない
    text = kana_from_romaji((inbound.text or "").strip())
    action = inbound.action or ""
    und: Understanding | None = ctx.understander.classify(text) if inbound.kind == "text" and text else None

    safety = _safety_first(view, ctx, und, action, text)
    if safety is not None:
        return safety
    if view.pending.get("danger_check"):
        view = _without(view, "danger_check")

    if inbound.kind == "follow":
        return _ask_consent(replace(view, state=S.NEW), ctx, greeting=True)
    if inbound.kind == "unsupported":
        return TurnResult(view, [OutMessage("text", texts.ONLY_TEXT, quick_replies=texts.common_quick_replies())], [])

    # consent buttons are honoured in any state
    if action in (A_CONSENT_YES, A_CONSENT_NO) or (und and _is_consent_word(text) and view.state == S.AWAIT_CONSENT):
        yes = action == A_CONSENT_YES or (not action and _is_consent_word(text) == "yes")
        return _record_consent(view, ctx, yes)

    # deletion is a right, available in every state (also while staff own the chat)
    if view.state == S.AWAIT_DELETE_CONFIRM and action in (A_DELETE_YES, A_DELETE_NO):
        return _confirm_delete(view, action == A_DELETE_YES)
    if action == A_DELETE or (und and und.intent == "delete_data"):
        return TurnResult(
            replace(view, state=S.AWAIT_DELETE_CONFIRM, pending={**view.pending, "before_delete": view.state.value}),
            [OutMessage("confirm", texts.DELETE_CONFIRM, buttons=texts.DELETE_BUTTONS)],
            [Event("intent", {"intent": "delete_data"})],
            und,
        )

    if view.ticket_open and view.ticket_waiting and view.state != S.INTAKE:
        # why answer: nobody reads yet; a message that gets no reply feels like nobody ever will.
        return waiting.waiting_room(replace(view, state=S.HANDED_OFF), ctx, und, action, text, respond=_respond)
    if view.ticket_open:
        # why silent: a person owns this chat now; two voices confuse an anxious reader.
        return TurnResult(replace(view, state=S.HANDED_OFF), [], [Event("staff_notify", {})], und)
    if view.reopenable and waiting.is_for_staff(und, action):
        # why: a message soon after staff closed is for them, not for the fallback nobody sees
        return waiting.reopen(view, ctx, und, action, text, respond=_respond)

    # why not "!= current": a new text that keeps the same data must not interrupt everyone again
    valid_from = ctx.consent_valid_from or ctx.consent_version
    needs_consent_prompt = view.state in (S.NEW,) or (
        view.consent_version is not None and not (valid_from <= view.consent_version <= ctx.consent_version)
    )
    if view.state == S.INTAKE and view.consented:
        return _intake_step(view, ctx, action, text)

    result = _respond(view, ctx, und, action, text)
    if needs_consent_prompt:
        # why not greet twice: when the reply already said こんにちは (a greeting), the prompt doesn't
        greeted = bool(und and und.intent == "greeting")
        prompt = _ask_consent(result.view, ctx, greeting=view.state == S.NEW and not greeted, renewed=view.state != S.NEW)
        result.out.extend(prompt.out)
        result.view = prompt.view
    elif view.state == S.AWAIT_CONSENT and not view.consent_declined and result.out:
        result.out[-1].quick_replies = texts.CONSENT_BUTTONS + result.out[-1].quick_replies[:1]
    return result


def _safety_first(view: ConversationView, ctx: EngineContext, und: Understanding | None, action: str,
                  text: str) -> TurnResult | None:
    """Danger first: a crisis message, the 緊急 button and the answer to 「いま危ない状態ですか?」."""
    # why first: danger to life outranks consent, staff ownership and any FAQ match.
    if und and und.intent == "crisis":
        result = _crisis(view, ctx, und, text=text, by_button=False)
        if crisis_tier(und, text) == "possible" and not view.ticket_crisis:
            # why a ticket AND a question: a message that may mean danger must reach staff and
            # keep every later message answered (電話はむり → text help); the question lets the
            # person say how urgent it is, and staff see the answer.
            result.out.insert(1, OutMessage("text", texts.DANGER_QUESTION, buttons=texts.danger_buttons()))
            result.view = replace(result.view, pending={**result.view.pending, "danger_check": True})
        return result
    # why a question first: a curious tap on 緊急のとき must not raise a false urgent alarm.
    if action == A_EMERGENCY:
        return _danger_check(view, ctx, None, text, possible=False)
    if action == A_DANGER_YES or (view.pending.get("danger_check") and not action and text in texts.DANGER_YES_WORDS):
        return _crisis(_without(view, "danger_check"), ctx, und, text=text, by_button=True)
    if action == A_DANGER_NO or (view.pending.get("danger_check") and not action and text in texts.DANGER_NO_WORDS):
        return TurnResult(_without(view, "danger_check"), [OutMessage("text", texts.DANGER_NO, buttons=texts.menu_buttons(), quick_replies=texts.common_quick_replies())], [Event("intent", {"intent": "danger_no"})], und)
    return None


def _respond(view: ConversationView, ctx: EngineContext, und: Understanding | None, action: str, text: str) -> TurnResult:
    """Intents, button actions and FAQ answers for a conversation the bot owns."""
    # why: 「群馬の定着支援センターの電話番号は？」 names a place and asks for its office; the
    # directory answers it (the handoff pattern also matches 電話番号, the FAQ may match 保護観察).
    asked = office_request(text) if und is not None and not action else None
    if action == A_HANDOFF or (und and und.intent == "handoff" and asked is None):
        return _start_handoff(view, ctx)
    if action == A_MENU or (und and und.intent == "menu"):
        return TurnResult(view, [_menu()], [Event("intent", {"intent": "menu"})], und)
    if action.startswith(A_ENTRY):
        entry = ctx.kb.get(action[len(A_ENTRY):])
        if entry is not None:
            return answers.answer(view, entry, None, None)
    if action.startswith(A_CHOICE):
        return _choice_taken(view, ctx, action[len(A_CHOICE):])
    if action == A_FURIGANA:
        return answers.with_readings(view, ctx)
    if und is None:
        return TurnResult(view, [_menu()], [], und)
    if view.pending.get("place_for"):
        place = find_place(text)
        if place is not None:
            pending = {k: v for k, v in view.pending.items() if k != "place_for"}
            offices = format_offices(offices_for(place))
            return TurnResult(replace(view, pending=pending), [OutMessage("text", offices, quick_replies=texts.common_quick_replies())], [Event("intent", {"intent": "place"})], und)
    if und.intent == "greeting":
        return TurnResult(view, [OutMessage("text", texts.GREETING + texts.MENU_INTRO, buttons=texts.menu_buttons(), quick_replies=texts.common_quick_replies())], [Event("intent", {"intent": "greeting"})], und)
    if und.intent == "thanks":
        return TurnResult(view, [OutMessage("text", texts.THANKS, quick_replies=texts.common_quick_replies())], [Event("intent", {"intent": "thanks"})], und)
    followed = facet_follow_up(view, ctx, und, text)
    if followed is not None:
        return followed
    entry = ctx.kb.get(und.topic) if und.intent == "faq" and und.topic else None
    if asked is not None and (entry is None or not entry.needs_place):
        offices = format_offices(offices_for(asked))
        return TurnResult(view, [OutMessage("text", offices, quick_replies=texts.common_quick_replies())], [Event("intent", {"intent": "place"})], und)
    if und.intent == "faq" and len([t for t in und.clarify if ctx.kb.get(t)]) >= 2:
        return _ask_back(view, ctx, und)
    if entry is not None:
        return answers.answer(view, entry, und, text)
    if told_feeling(normalize(text)):
        label, entry_id = texts.FEELINGS_ENTRY
        out = OutMessage("text", texts.FEELINGS, buttons=[Button(label, A_ENTRY + entry_id)], quick_replies=texts.common_quick_replies())
        return TurnResult(view, [out], [Event("abstained", {"score": und.score, "candidates": und.candidates[:3]})], und)
    return TurnResult(
        view,
        [OutMessage("text", texts.DONT_KNOW, buttons=texts.menu_buttons()[:4], quick_replies=texts.common_quick_replies())],
        [Event("abstained", {"score": und.score, "candidates": und.candidates[:3]})],
        und,
    )


def _ask_back(view: ConversationView, ctx: EngineContext, und: Understanding) -> TurnResult:
    """Two or three entries fit almost equally: ask which one, rather than guess.

    Why record it: which choice was taken is what editors review as a candidate training line
    (never added automatically); the service marks the person's message ``clarify`` and, once a
    choice is tapped, ``clarified`` with the chosen entry.
    """
    choices = [t for t in und.clarify if ctx.kb.get(t)][:3]
    buttons = [Button(answers.short(t), A_CHOICE + t) for t in choices] + [Button(texts.ASK_BACK_NONE_LABEL, A_CHOICE + "none")]
    pending = {**view.pending, "clarify": choices}
    return TurnResult(
        replace(view, pending=pending),
        [OutMessage("text", texts.ASK_BACK, buttons=buttons, quick_replies=texts.common_quick_replies())],
        [Event("clarify_asked", {"candidates": choices})],
        replace(und, intent="clarify"),
    )


def _choice_taken(view: ConversationView, ctx: EngineContext, entry_id: str) -> TurnResult:
    offered = view.pending.get("clarify") or []
    pending = {k: v for k, v in view.pending.items() if k != "clarify"}
    view = replace(view, pending=pending)
    entry = ctx.kb.get(entry_id) if entry_id != "none" else None
    event = Event("clarify_chosen", {"entry_id": entry.id if entry else None, "offered": bool(offered)})
    if entry is None:
        out = OutMessage("text", texts.ASK_BACK_NONE, buttons=texts.menu_buttons()[:4], quick_replies=texts.common_quick_replies())
        return TurnResult(view, [out], [event])
    result = answers.answer(view, entry, None, None)
    result.events.insert(0, event)
    return result


def _menu() -> OutMessage:
    return OutMessage("menu", texts.MENU_INTRO, buttons=texts.menu_buttons(), quick_replies=[Button(texts.HANDOFF_LABEL, A_HANDOFF), texts.delete_menu_button()])


def _ask_consent(view: ConversationView, ctx: EngineContext, *, greeting: bool, renewed: bool = False) -> TurnResult:
    intro = texts.GREETING + "\n" if greeting else (texts.CONSENT_NEW_VERSION + "\n" if renewed else "")
    msg = OutMessage("consent", intro + ctx.consent_text, title="記録について(同意のお願い)",
                     buttons=texts.CONSENT_BUTTONS + [texts.consent_details_button()])
    return TurnResult(replace(view, state=S.AWAIT_CONSENT), [msg], [Event("consent_asked", {"version": ctx.consent_version})])


def _is_consent_word(text: str) -> str | None:
    t = text.replace(" ", "").replace("　", "")
    if t in ("同意しない", "どういしない", "同意しません", "いいえ", "しない"):
        return "no"
    if t in ("同意する", "どういする", "同意します", "はい", "同意"):
        return "yes"
    return None


def _record_consent(view: ConversationView, ctx: EngineContext, yes: bool) -> TurnResult:
    event = Event("consent", {"kind": "A", "choice": "given" if yes else "declined", "version": ctx.consent_version})
    if yes:
        new = replace(view, state=S.READY, consent_version=ctx.consent_version, consent_declined=False)
        out = [OutMessage("text", texts.CONSENT_THANKS, buttons=texts.menu_buttons(), quick_replies=texts.common_quick_replies())]
    else:
        new = replace(view, state=S.READY, consent_version=None, consent_declined=True)
        out = [OutMessage("text", texts.CONSENT_DECLINED, buttons=texts.menu_buttons(), quick_replies=texts.common_quick_replies())]
    if view.ticket_open:
        new = replace(new, state=S.HANDED_OFF)
    return TurnResult(new, out, [event])


def _confirm_delete(view: ConversationView, yes: bool) -> TurnResult:
    if yes:
        return TurnResult(ConversationView(state=S.NEW), [OutMessage("text", texts.DELETE_DONE)], [Event("delete_user", {})])
    before = view.pending.get("before_delete", S.READY.value)
    pending = {k: v for k, v in view.pending.items() if k != "before_delete"}
    return TurnResult(replace(view, state=S(before), pending=pending), [OutMessage("text", texts.DELETE_CANCELLED, quick_replies=texts.common_quick_replies())], [])


def crisis_tier(und: Understanding | None, text: str) -> str:
    """"now" (raise an urgent ticket) or "possible" (ask first); the crisis detector decides."""
    tier = getattr(und, "tier", None) or getattr(und, "crisis_tier", None)
    if tier is None and text:
        tier = getattr(detect_crisis(text), "tier", None)
    return tier or "now"


def _without(view: ConversationView, key: str) -> ConversationView:
    return replace(view, pending={k: v for k, v in view.pending.items() if k != key})


def crisis_body(ctx: EngineContext, *, violence: bool, someone_else: bool = False) -> str:
    """Kind line, numbers (110/119 first), the text-help hint, then who reads this chat and when.

    ``someone_else``: a relative or friend reported the danger; the kind line then names that
    person as well as the writer (a mother telling of her son's note is not herself the one at risk).
    """
    phones = crisis_phone_text(violence=violence, at=ctx.now())
    intro = texts.CRISIS_INTRO_OTHER if someone_else else texts.CRISIS_INTRO
    return "\n".join([intro, phones, texts.CRISIS_TEXT_HINT, ctx.crisis_staff_line()])


def _crisis(view: ConversationView, ctx: EngineContext, und: Understanding | None, *, text: str, by_button: bool) -> TurnResult:
    violence = involves_violence(text, getattr(und, "crisis_id", None))
    out = [
        OutMessage(
            "crisis",
            crisis_body(ctx, violence=violence, someone_else=about_someone_else(text)),
            title="いますぐ相談できる電話",
            quick_replies=texts.crisis_quick_replies(),
            urgent=True,
        )
    ]
    events = [Event("crisis", {"lexicon_id": getattr(und, "crisis_id", None), "by_button": by_button})]
    new_view = replace(view, pending={**view.pending, "violence": True}) if violence else view
    if is_emergency(getattr(und, "crisis_id", None)):
        new_view = replace(new_view, pending={**new_view.pending, "emergency": True})
    if not view.ticket_open:
        events.append(Event("handoff", {"urgent": True, "intake": {}}))
        new_view = replace(new_view, ticket_open=True, ticket_waiting=True, ticket_crisis=True)
    else:
        events.append(Event("staff_notify", {"urgent": True}))
        new_view = replace(new_view, ticket_crisis=True)
    if view.state in (S.NEW,):
        # still ask for consent afterwards, but never before the hotlines
        prompt = _ask_consent(new_view, ctx, greeting=False)
        out.extend(prompt.out)
    return TurnResult(replace(new_view, state=S.HANDED_OFF), out, events, und)


def _danger_check(view: ConversationView, ctx: EngineContext, und: Understanding | None, text: str, *, possible: bool) -> TurnResult:
    """Shows the numbers and asks 「いま危ない状態ですか?」; only はい raises an urgent ticket."""
    violence = involves_violence(text, getattr(und, "crisis_id", None))
    intro = texts.DANGER_POSSIBLE_INTRO if possible else texts.DANGER_INTRO
    body = "\n".join([intro, crisis_phone_text(violence=violence, at=ctx.now()), texts.DANGER_QUESTION])
    out = [OutMessage("crisis", body, title="緊急のとき", buttons=texts.danger_buttons(), urgent=True)]
    event = Event("danger_check", {"lexicon_id": getattr(und, "crisis_id", None), "possible": possible})
    return TurnResult(replace(view, pending={**view.pending, "danger_check": True}), out, [event], und)


def _start_handoff(view: ConversationView, ctx: EngineContext) -> TurnResult:
    if view.consented:
        step, question, options = texts.INTAKE_STEPS[0]
        pending = {**view.pending, "intake": {}}
        out = [OutMessage("text", texts.INTAKE_START), _intake_question(0)]
        return TurnResult(replace(view, state=S.INTAKE, pending=pending), out, [Event("intent", {"intent": "handoff"})])
    return _open_ticket(view, ctx, intake={})


def _intake_question(index: int) -> OutMessage:
    step, question, options = texts.INTAKE_STEPS[index]
    buttons = [Button(label, f"{A_INTAKE}{step}:{value}") for label, value in options]
    buttons.append(Button(texts.INTAKE_SKIP_LABEL, f"{A_INTAKE}{step}:skip"))
    return OutMessage("text", question, buttons=buttons)


def _intake_step(view: ConversationView, ctx: EngineContext, action: str, text: str) -> TurnResult:
    intake_now = dict(view.pending.get("intake") or {})
    index = min(intake_mod.answered_steps(intake_now), len(texts.INTAKE_STEPS) - 1)
    step = intake_mod.STEPS[index]
    intake_now = intake_mod.record(intake_now, step, action, text)
    noted = [OutMessage("text", texts.INTAKE_NOTED)] if intake_now.get(step) == "other_text" else []
    if intake_mod.answered_steps(intake_now) < len(texts.INTAKE_STEPS):
        return TurnResult(replace(view, pending={**view.pending, "intake": intake_now}),
                          [*noted, _intake_question(intake_mod.answered_steps(intake_now))], [])
    pending = {k: v for k, v in view.pending.items() if k != "intake"}
    return _open_ticket(replace(view, pending=pending), ctx, intake=intake_now)


def _open_ticket(view: ConversationView, ctx: EngineContext, *, intake: dict[str, str]) -> TurnResult:
    """Opens the ticket with the honest waiting notice (and the call-back question after 「電話がいい」)."""
    urgent = intake.get("urgency") == "tonight"
    notice = ctx.waiting_notice(urgent)
    if view.consent_declined or not view.consented:
        notice = notice + "\n" + texts.HANDOFF_DECLINED_NOTE
    out = [OutMessage("handoff", notice, quick_replies=[Button("緊急の電話番号", A_EMERGENCY)])]
    pending = dict(view.pending)
    if intake.get("contact") == "phone":
        # why ask only where offered: never promise a call the office does not make
        if ctx.phone_callbacks():
            out.append(intake_mod.phone_question())
            pending["ask_phone"] = "number"
        else:
            out.append(OutMessage("text", texts.PHONE_NOT_OFFERED))
    return TurnResult(
        replace(view, state=S.HANDED_OFF, ticket_open=True, ticket_waiting=True, pending=pending),
        out,
        [Event("handoff", {"urgent": urgent, "intake": intake})],
    )
