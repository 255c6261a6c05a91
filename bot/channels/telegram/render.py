"""Neutral messages as Telegram sendMessage calls: text split at 4,096 UTF-16 units, inline keyboards."""
from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from core.messages import Button, OutMessage

log = logging.getLogger("ristapo.telegram")

MAX_TEXT = 4096  # Bot API sendMessage limit; PTB does not check it (research §0.6)
MAX_CALLBACK_DATA = 64  # bytes, UTF-8


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Splits ``text`` into parts of at most ``limit`` UTF-16 units, at line breaks when possible.

    Why UTF-16: Telegram counts entity offsets in UTF-16 units; counting the same way is the
    safe reading of the 4,096 limit (research §4).
    """
    if _utf16_len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    rest = text
    while rest:
        if _utf16_len(rest) <= limit:
            parts.append(rest)
            break
        cut, units = 0, 0
        for i, ch in enumerate(rest):
            units += 2 if ord(ch) > 0xFFFF else 1
            if units > limit:
                break
            cut = i + 1
        newline = rest.rfind("\n", 0, cut)
        if newline > cut // 2:
            cut = newline + 1  # keep the break with the first part
        parts.append(rest[:cut].rstrip("\n") or rest[:cut])
        rest = rest[cut:]
    return [p for p in parts if p]


def callback_ok(action: str) -> bool:
    return bool(action) and action.isascii() and len(action.encode()) <= MAX_CALLBACK_DATA


def keyboard(m: OutMessage) -> InlineKeyboardMarkup | None:
    """Buttons one per row (labels can be long), quick replies two per row below them."""
    rows: list[list[InlineKeyboardButton]] = []

    def ok(b: Button) -> bool:
        if callback_ok(b.action):
            return True
        # why: Telegram rejects the whole message for one bad button; drop it, say which kind
        log.warning("telegram: button dropped, callback data not ASCII or over 64 bytes", extra={"kind": m.kind})
        return False

    for b in m.buttons:
        if ok(b):
            rows.append([InlineKeyboardButton(b.label, callback_data=b.action)])
    quick = [InlineKeyboardButton(b.label, callback_data=b.action) for b in m.quick_replies if ok(b)]
    seen = {r[0].callback_data for r in rows}
    quick = [q for q in quick if q.callback_data not in seen]
    for i in range(0, len(quick), 2):
        rows.append(quick[i : i + 2])
    return InlineKeyboardMarkup(rows) if rows else None


def render(messages: list[OutMessage]) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """Neutral messages → (text, keyboard) per sendMessage call; the keyboard rides on the last part."""
    calls: list[tuple[str, InlineKeyboardMarkup | None]] = []
    for m in messages:
        parts = split_text(m.plain_text())
        markup = keyboard(m)
        for i, part in enumerate(parts):
            calls.append((part, markup if i == len(parts) - 1 else None))
    return calls
