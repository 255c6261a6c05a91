"""Channel-neutral inbound and outbound messages, the engine's only vocabulary.

Adapters turn platform payloads into :class:`Inbound` and render :class:`OutMessage` in the
platform's own UI (LINE Flex + quick replies, Telegram inline keyboards, web buttons).
Button actions are short ASCII strings (LINE postback ≤ 300 chars, Telegram ≤ 64 bytes).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class Inbound:
    kind: str = "text"  # text | postback | follow | unsupported
    text: str | None = None
    action: str | None = None  # postback action, e.g. "c:y"
    external_id: str | None = None  # platform message id (LINE unsend)


@dataclass
class Button:
    label: str
    action: str  # short ASCII action; "t:<text>" would be free text, never used for user data


@dataclass
class OutMessage:
    kind: str  # text | answer | consent | crisis | handoff | menu | confirm | staff
    text: str
    title: str | None = None
    source_line: str | None = None
    buttons: list[Button] = field(default_factory=list)
    quick_replies: list[Button] = field(default_factory=list)
    entry_id: str | None = None
    entry_version: int | None = None
    urgent: bool = False

    def to_dict(self) -> dict[str, Any]:
        """What ``dataclasses.asdict`` gives (same keys, same order), without its deep copy.

        Why by hand: every turn serialises its replies into the outbox, and ``asdict``'s
        recursive copy cost ≈ 0.1 ms per message, more than the JSON encoding. Every value
        is a str, int, bool or None, or a list of buttons, so nothing needs copying.
        """
        d = {name: getattr(self, name) for name in _OUT_FIELDS}
        d["buttons"] = [_button_dict(b) for b in self.buttons]
        d["quick_replies"] = [_button_dict(b) for b in self.quick_replies]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutMessage:
        data = dict(data)
        data["buttons"] = [Button(**b) for b in data.get("buttons", [])]
        data["quick_replies"] = [Button(**b) for b in data.get("quick_replies", [])]
        return cls(**data)

    def plain_text(self) -> str:
        """The message as plain text (terminal, logs-free fallbacks, SMS-like channels)."""
        parts = [f"【{self.title}】" if self.title else "", self.text, self.source_line or ""]
        return "\n".join(p for p in parts if p)


_OUT_FIELDS = tuple(f.name for f in fields(OutMessage))
_BUTTON_FIELDS = tuple(f.name for f in fields(Button))


def _button_dict(button: Button) -> dict[str, Any]:
    return {name: getattr(button, name) for name in _BUTTON_FIELDS}


# Action ids (postback data). Keep them short and ASCII.
A_CONSENT_YES = "c:y"
A_CONSENT_NO = "c:n"
A_HANDOFF = "h"
A_MENU = "m"
A_EMERGENCY = "x"  # the 緊急のとき button: numbers + "いま危ない状態ですか?"
A_DANGER_YES = "x:y"  # answer to that question: only this raises an urgent ticket
A_DANGER_NO = "x:n"
A_DELETE = "d"
A_DELETE_YES = "d:y"
A_DELETE_NO = "d:n"
A_ENTRY = "e:"  # + entry id
A_FURIGANA = "f"  # the last answer again, with readings after the kanji words
A_CHOICE = "q:"  # + entry id, or "q:none": the answer to the bot's question back
A_INTAKE = "i:"  # + step:value, or "i:skip"
A_CALLBACK = "cb:"  # + am | pm | any | none: the call-back window after 「電話がいい」
