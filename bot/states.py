"""Dialogue states of one conversation. Keep ``bot/flow.mmd`` in step with any change here."""
from __future__ import annotations

import enum


class DialogueState(str, enum.Enum):
    NEW = "new"  # nothing said yet, or everything was just deleted
    AWAIT_CONSENT = "await_consent"  # consent prompt shown; FAQ still answered, nothing stored
    READY = "ready"  # consent decided (given or declined); bot answers
    INTAKE = "intake"  # short skippable questions before a hand-off (consent given only)
    HANDED_OFF = "handed_off"  # a ticket is open: waiting → the bot acknowledges and answers; claimed → silent (crisis excepted)
    AWAIT_DELETE_CONFIRM = "await_delete_confirm"  # asked "really delete?"
