"""The short intake before a hand-off: typed answers, and the call-back after 「電話がいい」 (pure).

Why typed answers matter: 「今日から泊まるところがない」 typed at 「急ぎですか?」 is the most
urgent answer there is; treating it as "skipped" hid it from the queue's priority. A typed
answer that fits no option is kept word for word (encrypted with the intake) for staff.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from typing import TYPE_CHECKING

from bot import texts
from core.messages import A_CALLBACK, A_INTAKE, Button, OutMessage

if TYPE_CHECKING:
    from bot.engine import ConversationView, EngineContext, TurnResult

STEPS = [step for step, _q, _o in texts.INTAKE_STEPS]
_PHONE = re.compile(r"(?<!\d)0\d{1,4}-?\d{1,4}-?\d{3,4}(?!\d)")
_SKIP_WORDS = ("とばす", "飛ばす", "スキップ", "答えたくない", "こたえたくない")


def answered_steps(intake: dict[str, str]) -> int:
    """How many questions are answered (free-text keys like ``urgency_text`` do not count)."""
    return sum(1 for step in STEPS if step in intake)


def typed_answer(step: str, text: str) -> tuple[str, str | None]:
    """(option value, free text kept for staff or None) for a typed answer to ``step``."""
    t = unicodedata.normalize("NFKC", text).strip()
    if not t or any(w in t for w in _SKIP_WORDS):
        return "skip", None
    options = dict((label, value) for label, value in next(o for s, _q, o in texts.INTAKE_STEPS if s == step))
    for label, value in options.items():
        if label in t:
            return value, (t if t != label else None)
    for value, words in texts.INTAKE_WORDS.get(step, []):
        if any(w in t.lower() for w in words):
            return value, t
    return "other_text", t


def record(intake: dict[str, str], step: str, action: str, text: str) -> dict[str, str]:
    """The intake with this step's answer (a button, or typed words) added."""
    options = {v for _l, v in next(o for s, _q, o in texts.INTAKE_STEPS if s == step)}
    intake = dict(intake)
    if action.startswith(A_INTAKE):
        got_step, _, got_value = action[len(A_INTAKE):].partition(":")
        intake[step] = got_value if got_step == step and got_value in options else "skip"
    else:
        value, free = typed_answer(step, text)
        intake[step] = value
        if free:
            intake[f"{step}_text"] = free[:200]
    return intake


def find_phone(text: str) -> str | None:
    """A Japanese phone number in ``text`` (digits only), or None."""
    t = unicodedata.normalize("NFKC", text or "").replace(" ", "").replace("ー", "-").replace("−", "-")
    m = _PHONE.search(t)
    if m is None:
        return None
    digits = re.sub(r"\D", "", m.group(0))
    return digits if 10 <= len(digits) <= 11 else None


def phone_question() -> OutMessage:
    return OutMessage("text", texts.PHONE_ASK, buttons=[Button(texts.PHONE_SKIP_LABEL, f"{A_CALLBACK}none")])


def window_question() -> OutMessage:
    buttons = [Button(label, f"{A_CALLBACK}{value}") for label, value in texts.PHONE_WINDOWS]
    return OutMessage("text", texts.PHONE_WINDOW_ASK, buttons=buttons)


def callback_step(view: ConversationView, ctx: EngineContext, action: str, text: str) -> TurnResult | None:
    """The call-back questions while the ticket waits; None when this message is not an answer."""
    from bot.engine import Event, TurnResult

    asking = view.pending.get("ask_phone")
    rest = {k: v for k, v in view.pending.items() if k != "ask_phone"}
    if action.startswith(A_CALLBACK):
        value = action[len(A_CALLBACK):]
        if value == "none" or not asking:
            return TurnResult(replace(view, pending=rest), [OutMessage("text", texts.PHONE_SKIPPED)], [Event("staff_notify", {})])
        labels = dict((v, label) for label, v in texts.PHONE_WINDOWS)
        if value not in labels:
            return None
        done = texts.PHONE_DONE.format(window=labels[value])
        return TurnResult(replace(view, pending=rest), [OutMessage("text", done)], [Event("callback", {"window": value}), Event("staff_notify", {})])
    if asking == "number":
        phone = find_phone(text)
        if phone is None:
            return None
        new = replace(view, pending={**view.pending, "ask_phone": "window"})
        # why the number travels in the event and not in the view: the service stores it
        # encrypted on the ticket; the conversation context is not the place for it
        return TurnResult(new, [window_question()], [Event("callback", {"phone": phone}), Event("staff_notify", {})])
    return None
