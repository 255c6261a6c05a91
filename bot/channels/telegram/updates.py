"""Telegram updates: what the webhook keeps of one (ids, text, button data) and what a stored one means."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from telegram import Update

from bot.channels.base import Interpreted, RawEvent
from bot.channels.telegram.render import MAX_CALLBACK_DATA
from core.messages import A_DELETE, A_MENU, Inbound

# Commands a Telegram user may type; anything else is ordinary text for the engine.
_COMMANDS = {"/start": "follow", "/menu": A_MENU, "/help": A_MENU, "/delete": A_DELETE}


def _user(u: dict[str, Any]) -> dict[str, Any]:
    # why: first_name/last_name/username are personal and never needed; PTB requires the key
    return {"id": int(u["id"]), "is_bot": bool(u.get("is_bot")), "first_name": ""}


def _chat(c: dict[str, Any]) -> dict[str, Any]:
    return {"id": int(c["id"]), "type": str(c.get("type") or "")}


def chat_of(data: dict[str, Any]) -> dict[str, Any] | None:
    """The chat an update belongs to (message chat, or the chat of the pressed button)."""
    if isinstance(data.get("message"), dict):
        return data["message"].get("chat")
    q = data.get("callback_query")
    if isinstance(q, dict) and isinstance(q.get("message"), dict):
        return q["message"].get("chat")
    return None


def is_private(data: dict[str, Any]) -> bool:
    chat = chat_of(data)
    if chat is None:
        # a callback on an inaccessible message: only private chats ever get our buttons
        return isinstance(data.get("callback_query"), dict)
    return chat.get("type") == "private"


def minimal_update(data: dict[str, Any]) -> dict[str, Any] | None:
    """The part of an update the bot keeps: ids, date, chat type, text or button data.

    Returns None for update kinds we do not serve (edited messages, channel posts, ...).
    Anything but plain text (photos, stickers, contacts, locations) is reduced to its ids so
    the engine answers "text only" without the content ever reaching the database.
    """
    update_id = int(data["update_id"])
    m = data.get("message")
    if isinstance(m, dict):
        kept: dict[str, Any] = {"message_id": int(m["message_id"]), "date": int(m.get("date") or 0), "chat": _chat(m["chat"])}
        if isinstance(m.get("from"), dict):
            kept["from"] = _user(m["from"])
        if isinstance(m.get("text"), str):
            kept["text"] = m["text"]
        return {"update_id": update_id, "message": kept}
    q = data.get("callback_query")
    if isinstance(q, dict):
        kept = {"id": str(q["id"]), "chat_instance": str(q.get("chat_instance") or ""), "from": _user(q["from"])}
        if isinstance(q.get("data"), str):
            kept["data"] = q["data"]
        if isinstance(q.get("message"), dict):
            qm = q["message"]
            kept["message"] = {"message_id": int(qm["message_id"]), "date": int(qm.get("date") or 0), "chat": _chat(qm["chat"])}
        return {"update_id": update_id, "callback_query": kept}
    return None


def raw_event(data: dict[str, Any], bot_id: str) -> RawEvent | None:
    """The inbox row for a private-chat update (None: nothing to store)."""
    kept = minimal_update(data)
    if kept is None:
        return None
    if "message" in kept:
        user_id, date = kept["message"]["chat"]["id"], kept["message"]["date"]
    else:
        # why no date: a button press has none (the message's date is when we *sent* it), so
        # the pipeline orders it by arrival
        user_id, date = kept["callback_query"]["from"]["id"], 0
    return RawEvent(
        # why the bot id: update ids are per bot, and a new token must not collide with old rows
        external_id=f"{bot_id}:{kept['update_id']}",
        platform_user_id=str(user_id),
        event_time=datetime.fromtimestamp(date, UTC) if date else None,
        payload=json.dumps(kept, ensure_ascii=False, separators=(",", ":")),
    )


def interpret(payload: str) -> Interpreted | None:
    """A stored update as the engine's input (see :meth:`TelegramAdapter.to_inbound`)."""
    update = Update.de_json(json.loads(payload), None)
    q = update.callback_query
    if q is not None:
        action = (q.data or "")[:MAX_CALLBACK_DATA]
        inbound = Inbound(kind="postback", action=action) if action else Inbound(kind="unsupported")
        return Interpreted(platform_user_id=str(q.from_user.id), inbound=inbound)
    m = update.message
    if m is None:
        return None
    if m.chat.type != "private":
        return Interpreted(platform_user_id=str(m.chat.id), inbound=None, side_effect="group")
    uid = str(m.chat.id)
    if not m.text:
        return Interpreted(platform_user_id=uid, inbound=Inbound(kind="unsupported", external_id=str(m.message_id)))
    text = m.text.strip()
    command = text.split(maxsplit=1)[0].split("@", 1)[0].lower() if text.startswith("/") else None
    mapped = _COMMANDS.get(command or "")
    if mapped == "follow":
        return Interpreted(platform_user_id=uid, inbound=Inbound(kind="follow", external_id=str(m.message_id)))
    if mapped:
        return Interpreted(platform_user_id=uid, inbound=Inbound(kind="postback", action=mapped))
    return Interpreted(platform_user_id=uid, inbound=Inbound(kind="text", text=m.text, external_id=str(m.message_id)))
