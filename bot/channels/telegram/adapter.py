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
from datetime import datetime, timedelta

from telegram import LinkPreviewOptions
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

from bot.channels.base import ChannelAdapter, Interpreted, SendOutcome, SendResult, WebhookAnswer
from bot.channels.telegram.render import render
from bot.channels.telegram.updates import chat_of, interpret, is_private, raw_event
from core.messages import (
    A_CALLBACK,
    A_CONSENT_NO,
    A_CONSENT_YES,
    A_DANGER_NO,
    A_DANGER_YES,
    A_DELETE_NO,
    A_DELETE_YES,
    A_INTAKE,
    OutMessage,
)
from core.settings import Settings

log = logging.getLogger("ristapo.telegram")

CHANNEL = "telegram"
WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]
SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
MAX_BODY_BYTES = 1_000_000  # an update is a few kB; the limit only keeps junk out of memory

GROUP_LINE = (
    "ごめんなさい。りすたぽの相談は 1対1 のチャットだけで受けています。"
    "グループの内容は読んでいません。このボットを開いて、個別に話しかけてください。"
)
# Buttons of one-time questions: their keyboard is removed once one of them is pressed.
ONE_TIME_ACTIONS = (A_CONSENT_YES, A_CONSENT_NO, A_INTAKE, A_DELETE_YES, A_DELETE_NO, A_DANGER_YES, A_DANGER_NO, A_CALLBACK)


def secret_ok(given: str | None, expected: str) -> bool:
    # why compare_digest on bytes: constant time, and a non-ASCII header must not raise
    return hmac.compare_digest((given or "").encode("utf-8"), expected.encode("utf-8"))


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
    webhook_path = WEBHOOK_PATH
    max_body_bytes = MAX_BODY_BYTES

    def __init__(self, application: Application, secret: str = "") -> None:
        self.application = application
        self.secret = secret
        self._ready = False
        self._init_lock: asyncio.Lock | None = None
        # retry_key → parts already delivered, so a retried multi-part send never repeats a part
        self._told_groups: OrderedDict[int, None] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings) -> TelegramAdapter:
        app = Application.builder().token(settings.telegram_token or "").base_url(settings.telegram_api_base).updater(None).build()
        return cls(app, settings.telegram_secret or "")

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
    def parse_webhook(self, headers: dict[str, str], body: bytes) -> WebhookAnswer:
        """Checks the secret and keeps a private chat's update; the side calls run after the 200."""
        if not secret_ok(headers.get(SECRET_HEADER.lower()), self.secret):
            return WebhookAnswer(403, "forbidden")
        try:
            data = json.loads(body)
            int(data["update_id"])
        except (ValueError, TypeError, KeyError):
            return WebhookAnswer(400, "not an update")
        q = data.get("callback_query") if isinstance(data.get("callback_query"), dict) else None
        try:
            private = is_private(data)
            raw = raw_event(data, self.bot_id) if private else None
        except (KeyError, TypeError, ValueError, AttributeError):
            # why 200: Telegram would redeliver a shape we cannot read forever; nothing is kept
            log.warning("telegram: update with an unexpected shape acknowledged and dropped")
            return WebhookAnswer(200, "")
        calls = self._side_calls(data, q, private)
        answer = WebhookAnswer(200, "", [raw] if raw is not None else [], detach_after=False)
        if calls:
            answer.after = lambda: _in_turn(calls)
        return answer

    def _side_calls(self, data: dict, q: dict | None, private: bool) -> list:
        """The best-effort Bot API calls an update asks for once it is answered (coroutine functions)."""
        calls = []
        if not private:
            chat = chat_of(data) or {}
            if q is not None:
                calls.append(lambda: self.answer_callback(str(q.get("id")), GROUP_LINE))
            elif chat.get("id") is not None and chat.get("type") in ("group", "supergroup"):
                calls.append(lambda: self.tell_group(int(chat["id"])))
            return calls
        if q is not None:
            # why here: the user's client spins until answered, whatever the turn produces
            calls.append(lambda: self.answer_callback(str(q.get("id"))))
            pressed = q.get("message") if isinstance(q.get("message"), dict) else None
            if pressed and str(q.get("data") or "").startswith(ONE_TIME_ACTIONS):
                # why: a consent or intake answer must not be tapped twice from an old message
                calls.append(lambda: self.close_question(int(pressed["chat"]["id"]), int(pressed["message_id"])))
        return calls

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


async def _in_turn(calls: list) -> None:
    """Runs the side calls one after another, as Starlette ran the route's background tasks."""
    for call in calls:
        await call()
