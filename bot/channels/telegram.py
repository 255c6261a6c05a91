"""Telegram channel: python-telegram-bot v22 in webhook mode, inside our FastAPI app.

Flow (persist-then-ack, research/channels.md §2.1):
``POST /webhooks/telegram`` checks the secret header, keeps only what the bot needs from the
update (ids, text, button data — never the display name or username), stores it in the inbox
keyed on the update id and answers 200. The inbox worker calls :meth:`TelegramAdapter.to_inbound`
and runs the engine; the delivery worker calls :meth:`TelegramAdapter.send`.

Only private chats are served. A group message gets one polite line and nothing is stored.
PTB's ``Application`` is used for its bot client and lifecycle only (no handlers, no updater).
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from collections import OrderedDict
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, BackgroundTasks, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application

from bot.channels.base import ChannelAdapter, Interpreted, RawEvent, SendOutcome, SendResult
from core.messages import (
    A_CALLBACK,
    A_CONSENT_NO,
    A_CONSENT_YES,
    A_DANGER_NO,
    A_DANGER_YES,
    A_DELETE,
    A_DELETE_NO,
    A_DELETE_YES,
    A_INTAKE,
    A_MENU,
    Button,
    Inbound,
    OutMessage,
)
from core.settings import Settings

log = logging.getLogger("ristapo.telegram")

CHANNEL = "telegram"
WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]
MAX_TEXT = 4096  # Bot API sendMessage limit; PTB does not check it (research §0.6)
MAX_CALLBACK_DATA = 64  # bytes, UTF-8
SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

GROUP_LINE = (
    "ごめんなさい。りすたぽの相談は 1対1 のチャットだけで受けています。"
    "グループの内容は読んでいません。このボットを開いて、個別に話しかけてください。"
)
# Buttons of one-time questions: their keyboard is removed once one of them is pressed.
ONE_TIME_ACTIONS = (A_CONSENT_YES, A_CONSENT_NO, A_INTAKE, A_DELETE_YES, A_DELETE_NO, A_DANGER_YES, A_DANGER_NO, A_CALLBACK)
# Commands a Telegram user may type; anything else is ordinary text for the engine.
_COMMANDS = {"/start": "follow", "/menu": A_MENU, "/help": A_MENU, "/delete": A_DELETE}


# ---------------------------------------------------------------------------------------------
# Incoming updates
# ---------------------------------------------------------------------------------------------
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
        event_time=datetime.fromtimestamp(date, timezone.utc) if date else None,
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


# ---------------------------------------------------------------------------------------------
# Outgoing messages
# ---------------------------------------------------------------------------------------------
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


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def classify_error(exc: TelegramError) -> SendResult:
    """Maps a PTB exception to what the delivery worker should do (never message text)."""
    if isinstance(exc, RetryAfter):
        return SendResult(SendOutcome.retry, retry_after=_seconds(exc.retry_after), error="429 flood limit")
    if isinstance(exc, Forbidden):
        return SendResult(SendOutcome.user_gone, error="403 forbidden (blocked or deactivated)")
    if isinstance(exc, BadRequest):  # a NetworkError subclass: check it first
        return SendResult(SendOutcome.failed, error=f"400 {type(exc).__name__}")
    if isinstance(exc, (ChatMigrated, Conflict)):
        return SendResult(SendOutcome.failed, error=type(exc).__name__)
    if isinstance(exc, InvalidToken):
        # why retry: a broken token is our configuration, not the user's message; dead-letter alerts staff
        return SendResult(SendOutcome.retry, error="401/404 invalid token")
    if isinstance(exc, NetworkError):  # TimedOut, 5xx, connection errors
        return SendResult(SendOutcome.retry, error=type(exc).__name__)
    return SendResult(SendOutcome.retry, error=type(exc).__name__)


class TelegramAdapter(ChannelAdapter):
    """Telegram through a PTB ``Application`` (its ``bot`` talks to ``settings.telegram_api_base``)."""

    name = CHANNEL

    def __init__(self, application: Application) -> None:
        self.application = application
        self._ready = False
        self._init_lock: asyncio.Lock | None = None
        # retry_key → parts already delivered, so a retried multi-part send never repeats a part
        self._told_groups: OrderedDict[int, None] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings) -> "TelegramAdapter":
        app = Application.builder().token(settings.telegram_token or "").base_url(settings.telegram_api_base).updater(None).build()
        return cls(app)

    @property
    def bot_id(self) -> str:
        return (self.application.bot.token or "").split(":", 1)[0]

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Initializes the bot (``getMe``) and starts the application; a failure is retried on first send."""
        try:
            await self.application.initialize()
            await self.application.start()
            self._ready = True
        except TelegramError as exc:
            log.warning("telegram: could not reach the Bot API at startup (%s); will retry on first send", type(exc).__name__)

    async def stop(self) -> None:
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()
        self._ready = False

    async def _ensure_ready(self) -> None:
        if self._ready:
            return
        if self._init_lock is None:
            self._init_lock = asyncio.Lock()
        async with self._init_lock:  # why: 32 concurrent sends must not initialize the bot 32 times
            if not self._ready:
                await self.application.initialize()
                self._ready = True

    # -- port ------------------------------------------------------------------------------
    def to_inbound(self, payload: str) -> Interpreted | None:
        """Private text → text, /start → follow, button → postback, anything else → unsupported."""
        return interpret(payload)

    async def send(
        self,
        platform_user_id: str,
        messages: list[OutMessage],
        *,
        retry_key: str,
        reply_token: str | None = None,
        reply_deadline: datetime | None = None,
        parts_sent: int = 0,
        reply_retry: bool = False,  # unused: Telegram has no reply tokens
    ) -> SendResult:
        """Sends each part with sendMessage; resumes after the last delivered part on a retry.

        Telegram has no idempotency key: a failure reports how many parts went out
        (``SendResult.parts_sent``, kept in the outbox row) and the retry, in this or any other
        process, starts after them. A part whose call timed out may still have arrived; it is
        sent again (a rare duplicate beats a lost answer).
        """
        try:
            chat_id = int(platform_user_id)
        except ValueError:
            return SendResult(SendOutcome.failed, error="not a Telegram chat id")
        calls = render(messages)
        start = min(max(parts_sent, 0), len(calls))
        try:
            await self._ensure_ready()
        except TelegramError as exc:
            return classify_error(exc)
        for i in range(start, len(calls)):
            text, markup = calls[i]
            try:
                await self.application.bot.send_message(
                    chat_id=chat_id,
                    text=text,
                    reply_markup=markup,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
            except TelegramError as exc:
                return replace(classify_error(exc), parts_sent=i)
        return SendResult(SendOutcome.delivered)

    async def show_processing(self, platform_user_id: str) -> None:
        """Shows "typing…" while a slow turn runs (the pipeline calls this; best effort)."""
        try:
            await self._ensure_ready()
            await self.application.bot.send_chat_action(chat_id=int(platform_user_id), action="typing")
        except TelegramError:
            pass

    # -- side calls from the webhook -------------------------------------------------------
    async def answer_callback(self, query_id: str, text: str | None = None) -> None:
        """Stops the button's progress spinner; best effort (the turn itself is already stored)."""
        try:
            await self._ensure_ready()
            await self.application.bot.answer_callback_query(query_id, text=text)
        except TelegramError as exc:
            log.info("telegram: answerCallbackQuery failed (%s)", type(exc).__name__)

    async def close_question(self, chat_id: int, message_id: int) -> None:
        """Removes the buttons of a one-time question (consent, intake, delete) once one is pressed."""
        try:
            await self._ensure_ready()
            await self.application.bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id, reply_markup=None)
        except TelegramError as exc:
            log.info("telegram: editMessageReplyMarkup failed (%s)", type(exc).__name__)

    async def tell_group(self, chat_id: int) -> None:
        """Sends the one polite line to a group, once per group while the process lives."""
        if chat_id in self._told_groups:
            return
        self._told_groups[chat_id] = None
        while len(self._told_groups) > 1000:
            self._told_groups.popitem(last=False)
        try:
            await self._ensure_ready()
            await self.application.bot.send_message(chat_id=chat_id, text=GROUP_LINE)
        except TelegramError as exc:
            log.info("telegram: group notice failed (%s)", type(exc).__name__)


# ---------------------------------------------------------------------------------------------
# FastAPI wiring
# ---------------------------------------------------------------------------------------------
def secret_ok(given: str | None, expected: str) -> bool:
    # why compare_digest on bytes: constant time, and a non-ASCII header must not raise
    return hmac.compare_digest((given or "").encode("utf-8"), expected.encode("utf-8"))


def store_raw_event(raw: RawEvent) -> int:
    """Inserts the update into the inbox (a repeat of a stored update id is ignored); returns 1 if new."""
    from bot import pipeline
    from core import db

    with db.session_scope() as session:
        added = pipeline.store_events(session, CHANNEL, [raw])
    pipeline.poke_inbox()
    return added


def build_router(adapter: TelegramAdapter, secret: str) -> APIRouter:
    router = APIRouter()

    @router.post(WEBHOOK_PATH, include_in_schema=False)
    async def telegram_webhook(request: Request, background: BackgroundTasks) -> Response:
        """Checks the secret, stores the update and answers 200 (the worker does the rest)."""
        if not secret_ok(request.headers.get(SECRET_HEADER), secret):
            return JSONResponse({"detail": "forbidden"}, status_code=403)
        try:
            data = json.loads(await request.body())
            int(data["update_id"])
        except (ValueError, TypeError, KeyError):
            return JSONResponse({"detail": "not an update"}, status_code=400)
        q = data.get("callback_query") if isinstance(data.get("callback_query"), dict) else None
        try:
            private = is_private(data)
            raw = raw_event(data, adapter.bot_id) if private else None
        except (KeyError, TypeError, ValueError, AttributeError):
            # why 200: Telegram would redeliver a shape we cannot read forever; nothing is kept
            log.warning("telegram: update with an unexpected shape acknowledged and dropped")
            return Response(status_code=200)
        if not private:
            chat = chat_of(data) or {}
            if q is not None:
                background.add_task(adapter.answer_callback, str(q.get("id")), GROUP_LINE)
            elif chat.get("id") is not None and chat.get("type") in ("group", "supergroup"):
                background.add_task(adapter.tell_group, int(chat["id"]))
            return Response(status_code=200)
        if raw is not None:
            await run_in_threadpool(store_raw_event, raw)
        if q is not None:
            # why here: the user's client spins until answered, whatever the turn produces
            background.add_task(adapter.answer_callback, str(q.get("id")))
            pressed = q.get("message") if isinstance(q.get("message"), dict) else None
            if pressed and str(q.get("data") or "").startswith(ONE_TIME_ACTIONS):
                # why: a consent or intake answer must not be tapped twice from an old message
                background.add_task(adapter.close_question, int(pressed["chat"]["id"]), int(pressed["message_id"]))
        return Response(status_code=200)

    return router


def install(app: FastAPI, settings: Settings) -> None:
    """Turns the channel on when ``RISTAPO_TELEGRAM_TOKEN`` and ``_SECRET`` are set."""
    if not settings.telegram_enabled:
        return
    if not SECRET_PATTERN.match(settings.telegram_secret or ""):
        raise ValueError("RISTAPO_TELEGRAM_SECRET must be 1-256 characters of A-Z a-z 0-9 _ -")
    adapter = TelegramAdapter.from_settings(settings)
    app.state.telegram = adapter
    _register(adapter)

    async def on_startup(_app: FastAPI) -> None:
        await adapter.start()

    async def on_shutdown(_app: FastAPI) -> None:
        await adapter.stop()

    app.state.on_startup.append(on_startup)
    app.state.on_shutdown.append(on_shutdown)
    app.include_router(build_router(adapter, settings.telegram_secret or ""))


def _register(adapter: TelegramAdapter) -> None:
    from bot import pipeline

    pipeline.register_adapter(adapter)

