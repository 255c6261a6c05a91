"""Neutral :class:`OutMessage` s → LINE message objects (plain dicts in Messaging API JSON).

Answers become a Flex bubble (title, body, a small source-and-date line, buttons for related
entries and 「人と話したい」); short texts with choices become a bubble with buttons; consent,
confirmations, crisis text and long texts stay plain text (phone numbers auto-link there)
with the choices as quick replies. Postback data is always our short ASCII action id.

The SDK checks some LINE limits and not others, so this module enforces all of them itself:
≤ 5 messages a request (:func:`chunk`), text ≤ 5,000 UTF-16 code units (:func:`split_text`),
≤ 13 quick-reply items, postback data ≤ 300 chars, labels ≤ 20 chars, altText always set.
"""
from __future__ import annotations

import json
import logging
import re

from core.messages import A_HANDOFF, Button, OutMessage

log = logging.getLogger("ristapo.line")

MAX_MESSAGES_PER_REQUEST = 5
MAX_TEXT_UNITS = 5000  # UTF-16 code units
MAX_QUICK_REPLIES = 13
MAX_POSTBACK_DATA = 300
MAX_LABEL = 20
MAX_ALT_TEXT = 400  # LINE allows 1,500; a notification preview needs far less
MAX_BUBBLE_BYTES = 25_000  # LINE's bubble limit is 30 KB of JSON; keep a margin
BUBBLE_TEXT_UNITS = 1200  # longer texts read better as plain messages
MAX_FOOTER_BUTTONS = 8
HANDOFF_LABEL = "人と話したい"
SOURCE_COLOR = "#777777"

_SENTENCE_END = re.compile(r"(?<=[。！？!?\n])")


def utf16_len(text: str) -> int:
    """Length as LINE counts it (UTF-16 code units: an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def _cut_units(text: str, limit: int) -> tuple[str, str]:
    """Splits ``text`` after at most ``limit`` UTF-16 units, never inside a surrogate pair."""
    # why the fast paths: every Flex answer's altText is cut here, and a per-character loop
    # over a long answer cost more than the rest of its rendering; with no character outside
    # the BMP, units and characters are the same thing
    units_total = utf16_len(text)
    if units_total <= limit:
        return text, ""
    if units_total == len(text):
        return text[:limit], text[limit:]
    units = 0
    for i, ch in enumerate(text):
        w = 2 if ord(ch) > 0xFFFF else 1
        if units + w > limit:
            return text[:i], text[i:]
        units += w
    return text, ""


def split_text(text: str, limit: int = MAX_TEXT_UNITS) -> list[str]:
    """Splits a long text into parts of ≤ ``limit`` UTF-16 units, on sentence ends (。！？ newline) when possible."""
    if utf16_len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    current = ""
    for sentence in (s for s in _SENTENCE_END.split(text) if s):
        while utf16_len(sentence) > limit:  # one "sentence" longer than the limit: hard cut
            if current:
                parts.append(current)
                current = ""
            head, sentence = _cut_units(sentence, limit)
            parts.append(head)
        if utf16_len(current) + utf16_len(sentence) > limit:
            parts.append(current)
            current = sentence
        else:
            current += sentence
    if current:
        parts.append(current)
    return [p for p in (p.strip("\n") for p in parts) if p.strip()]


def label(text: str) -> str:
    """A button label within LINE's 20 characters."""
    text = text.strip() or "…"
    if utf16_len(text) <= MAX_LABEL:
        return text
    head, _ = _cut_units(text, MAX_LABEL - 1)
    return head + "…"


def _action(button: Button) -> dict | None:
    if len(button.action) > MAX_POSTBACK_DATA or not button.action.isascii():
        log.warning("button dropped: action id not short ASCII", extra={"kind": "postback_data"})
        return None
    lab = label(button.label)
    return {"type": "postback", "label": lab, "data": button.action, "displayText": lab}


def quick_reply(buttons: list[Button]) -> dict | None:
    """Up to 13 quick-reply items (duplicates by action dropped)."""
    items, seen = [], set()
    for b in buttons:
        if b.action in seen:
            continue
        action = _action(b)
        if action is None:
            continue
        seen.add(b.action)
        items.append({"type": "action", "action": action})
        if len(items) == MAX_QUICK_REPLIES:
            break
    return {"items": items} if items else None


def _alt(msg: OutMessage) -> str:
    text = (f"{msg.title}\n" if msg.title else "") + msg.text
    text = " ".join(text.split()) or "りすたぽからのメッセージ"
    head, rest = _cut_units(text, MAX_ALT_TEXT - 1)
    return head + ("…" if rest else "")


def _button(b: Button, *, primary: bool = False) -> dict | None:
    action = _action(b)
    if action is None:
        return None
    return {"type": "button", "style": "primary" if primary else "secondary", "height": "sm", "action": action}


def _bubble(body: list[dict], buttons: list[Button], *, handoff_primary: bool = False) -> dict:
    bubble: dict = {"type": "bubble", "body": {"type": "box", "layout": "vertical", "spacing": "md", "contents": body}}
    footer = [c for c in (_button(b, primary=handoff_primary and b.action == A_HANDOFF) for b in buttons) if c]
    if footer:
        bubble["footer"] = {"type": "box", "layout": "vertical", "spacing": "sm", "contents": footer}
    return bubble


def _flex(msg: OutMessage, bubble: dict) -> dict:
    return {"type": "flex", "altText": _alt(msg), "contents": bubble}


def _answer_bubble(msg: OutMessage) -> dict:
    body = []
    if msg.title:
        body.append({"type": "text", "text": msg.title, "weight": "bold", "size": "lg", "wrap": True})
    body.append({"type": "text", "text": msg.text, "wrap": True})
    if msg.source_line:
        body.append({"type": "text", "text": msg.source_line, "size": "xs", "color": SOURCE_COLOR, "wrap": True})
    buttons = list(msg.buttons[: MAX_FOOTER_BUTTONS - 1])
    if not any(b.action == A_HANDOFF for b in buttons):
        buttons.append(Button(HANDOFF_LABEL, A_HANDOFF))
    return _bubble(body, buttons, handoff_primary=True)


def _choice_bubble(msg: OutMessage) -> dict:
    body = []
    if msg.title:
        body.append({"type": "text", "text": msg.title, "weight": "bold", "wrap": True})
    body.append({"type": "text", "text": msg.text, "wrap": True})
    return _bubble(body, msg.buttons[:MAX_FOOTER_BUTTONS])


def _fits(bubble: dict) -> bool:
    return len(json.dumps(bubble, ensure_ascii=False).encode("utf-8")) <= MAX_BUBBLE_BYTES


def _as_texts(msg: OutMessage, extra_choices: list[Button]) -> list[dict]:
    """Plain text message(s); choices go into the last one's quick replies."""
    text = msg.text
    if msg.title:
        text = f"【{msg.title}】\n{text}"
    if msg.source_line:
        text = f"{text}\n\n{msg.source_line}"
    out: list[dict] = [{"type": "text", "text": part} for part in split_text(text)]
    qr = quick_reply(extra_choices + msg.quick_replies)
    if out and qr:
        out[-1]["quickReply"] = qr
    return out


def render_one(msg: OutMessage) -> list[dict]:
    """One neutral message → one or more LINE message objects."""
    if not msg.text.strip():
        return []
    if msg.kind == "answer":
        bubble = _answer_bubble(msg)
        if _fits(bubble):
            out = _flex(msg, bubble)
            qr = quick_reply(msg.quick_replies)
            if qr:
                out["quickReply"] = qr
            return [out]
        return _as_texts(msg, msg.buttons + [Button(HANDOFF_LABEL, A_HANDOFF)])
    plain = msg.kind in ("consent", "confirm", "crisis", "handoff", "staff") or not msg.buttons
    if not plain and utf16_len(msg.text) <= BUBBLE_TEXT_UNITS:
        bubble = _choice_bubble(msg)
        if _fits(bubble):
            out = _flex(msg, bubble)
            qr = quick_reply(msg.buttons[MAX_FOOTER_BUTTONS:] + msg.quick_replies)
            if qr:
                out["quickReply"] = qr
            return [out]
    return _as_texts(msg, msg.buttons)


def render(messages: list[OutMessage]) -> list[dict]:
    """Every message rendered, in order. LINE shows only the last message's quick replies."""
    out: list[dict] = []
    for m in messages:
        out.extend(render_one(m))
    return out


def chunk(items: list[dict], size: int = MAX_MESSAGES_PER_REQUEST) -> list[list[dict]]:
    """Groups rendered messages into requests of at most five."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def text_message(text: str) -> dict:
    return {"type": "text", "text": split_text(text)[0] if text else "…"}
