"""The LINE channel's adapter: ``POST /webhooks/line`` (persist-then-ack) and delivery.

The generic webhook mount (bot/channels/webhook_asgi.py) serves :meth:`LineAdapter.parse_webhook`:
it only verifies the signature (the SDK's ``WebhookParser`` validator), stores each
event's raw JSON in the inbox (unique on ``webhookEventId``) and answers 200 — it never calls
LINE or the engine, so it answers fast whatever they are doing. The inbox worker later asks
:meth:`LineAdapter.to_inbound` what an event means, and the delivery worker calls
:meth:`LineAdapter.send`: the reply token while fresh (used once), else a push whose
``X-Line-Retry-Key`` is the outbox id, so a retried push is never delivered twice.

Pitfalls of line-bot-sdk v3 handled here (research/channels.md §0): the ``AsyncApiClient``
is created inside the running loop; ``WebhookParser`` instead of ``WebhookHandler`` (which
never awaits async callbacks); every call has an explicit timeout (the SDK default is 300 s);
limits the SDK does not check are enforced in ``line/render.py``. The LINE profile (display
name) is never fetched.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import aiohttp

from bot import pipeline
from bot.channels.base import ChannelAdapter, Interpreted, RawEvent, SendOutcome, SendResult, WebhookAnswer
from bot.channels.line import render as line_render
from bot.channels.line.payload import _api_client_class, _prepared, _unchecked, request_messages
from core import clock, identity
from core.messages import Inbound, OutMessage
from core.settings import Settings

log = logging.getLogger("ristapo.line")
# why: the SDK logs response bodies at DEBUG; keep it quiet whatever the root level is
logging.getLogger("linebot").setLevel(logging.WARNING)

REPLY_TOKEN_SECONDS = 50  # LINE guarantees about a minute; keep a margin for our own delay
MAX_BODY_BYTES = 1_000_000
GROUP_NOTICE = (
    "りすたぽのチャットは、1対1のトークだけで使えます。グループでのやりとりは読み取りも記録もしません。"
    "相談は、このアカウントを友だち追加して、1対1で送ってください。"
)
GROUP_NOTICE_EVERY = 600.0  # seconds: one courtesy line per group, not one per message
HINTS_PER_SECOND = 5.0  # loading animations at most this often (best effort)
HANDLED_TYPES = {"message", "follow", "unfollow", "postback", "unsend"}


class WebhookRejected(Exception):
    """A webhook request we refuse (400); ``reason`` is a short code for the log."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


_EVENT_OBJECTS = ("source", "message", "postback", "unsend", "deliveryContext", "follow")


def _plain_event(ev) -> bool:
    """An event of the shape LINE sends (objects where objects belong), so no SDK model is needed."""
    return (
        isinstance(ev, dict)
        and isinstance(ev.get("type"), str)
        and all(isinstance(ev.get(k), dict) for k in _EVENT_OBJECTS if k in ev)
    )


def _ms_to_utc(ms) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(ms) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _env_once(client, api_base: str) -> None:
    """Reads the proxy environment for ``api_base`` once instead of on every request.

    Why: the SDK's aiohttp session has ``trust_env=True``, so aiohttp looks up ~/.netrc and
    the proxy variables in a worker thread on *every* call (two thread hops and a scan of
    ``os.environ`` per send, ≈ 0.3 ms of CPU). When no proxy applies to the API host, nothing
    from the environment is used, so the session stops looking; with a proxy configured the
    SDK's behaviour is kept as it is. (A ~/.netrc entry for the API host would only make
    aiohttp refuse the call, as the SDK sends its own Authorization header.)
    """
    from aiohttp.helpers import get_env_proxy_for_url
    from yarl import URL

    session = getattr(getattr(client, "rest_client", None), "pool_manager", None)
    if session is None or not hasattr(session, "_trust_env"):
        return
    try:
        get_env_proxy_for_url(URL(api_base))
    except LookupError:
        session._trust_env = False  # no public setter; checked per request by ClientSession._request


class LineAdapter(ChannelAdapter):
    """LINE Messaging API through line-bot-sdk v3 (async)."""

    name = "line"
    webhook_path = "/webhooks/line"
    max_body_bytes = MAX_BODY_BYTES

    def __init__(self, settings: Settings, *, timeout: float = 10.0, hint_timeout: float = 2.0):
        from linebot.v3 import WebhookParser

        assert settings.line_channel_secret and settings.line_channel_access_token
        self.parser = WebhookParser(settings.line_channel_secret)
        self._token = settings.line_channel_access_token
        self.api_base = settings.line_api_base.rstrip("/")
        self.data_api_base = settings.line_data_api_base.rstrip("/")
        self.timeout = timeout
        self.hint_timeout = hint_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client = None
        self._api = None
        self._hint_slots = asyncio.Semaphore(4)
        self._hint_budget = HINTS_PER_SECOND
        self._hint_refilled = time.monotonic()
        self._group_noticed: dict[str, float] = {}

    # ------------------------------------------------------------------ SDK client

    def api(self):
        """The ``AsyncMessagingApi`` of the running loop (created on first use inside it)."""
        from linebot.v3.messaging import AsyncMessagingApi, Configuration

        loop = asyncio.get_running_loop()
        if self._api is None or self._loop is not loop:
            # why lazily here: AsyncApiClient builds an aiohttp connector, which needs the running loop
            config = Configuration(host=self.api_base, access_token=self._token)
            # why: the SDK allows 5 connections per CPU (10 here) while the delivery worker keeps
            # SEND_CONCURRENCY sends in flight; with LINE's real round trip the rest would queue
            config.connection_pool_maxsize = max(config.connection_pool_maxsize, pipeline.SEND_CONCURRENCY)
            self._client = _api_client_class()(config)
            _env_once(self._client, self.api_base)
            self._api = AsyncMessagingApi(self._client)
            self._loop = loop
        return self._api

    async def aclose(self) -> None:
        client, self._client, self._api, self._loop = self._client, None, None, None
        if client is not None:
            try:
                await client.close()
            except Exception:
                pass

    # ------------------------------------------------------------------ webhook

    def parse_webhook(self, headers: dict[str, str], body: bytes) -> WebhookAnswer:
        """Verifies the signature and keeps each 1:1 event; a group gets a courtesy line after the 200."""
        try:
            events, courtesy = self.split_events(body, headers.get("x-line-signature"))
        except WebhookRejected as exc:
            # why no body in the log: it may hold a consultation; the reason code is enough
            log.warning("line webhook rejected", extra={"kind": exc.reason, "path": self.webhook_path})
            return WebhookAnswer(400, "bad request")
        after = (lambda: self.send_group_notices(courtesy)) if courtesy else None
        return WebhookAnswer(200, "OK", events, after)

    def split_events(self, body: bytes, signature: str | None) -> tuple[list[RawEvent], list[str]]:
        """Verifies and splits a webhook body: (events to store, reply tokens owed a group notice).

        Raises :class:`WebhookRejected` for a missing/bad signature or an unreadable body.
        """
        stored: list[RawEvent] = []
        courtesy: list[str] = []
        for ev in self._verified_events(body, signature):
            if not isinstance(ev, dict):
                continue
            raw = self._raw_event(ev, courtesy)
            if raw is not None:
                stored.append(raw)
        return stored, courtesy

    def _verified_events(self, body: bytes, signature: str | None) -> list:
        """The body's ``events`` once the signature holds (raises :class:`WebhookRejected`)."""
        from linebot.v3.exceptions import InvalidSignatureError

        if not signature:
            raise WebhookRejected("missing_signature")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookRejected("not_utf8") from None
        # why the SDK's validator: it compares the HMAC in constant time. Its models tell us
        # nothing we need (we store the raw JSON of each event), so they are built only for a
        # body of an unusual shape, where the SDK parser decides as it always did.
        try:
            valid = self.parser.signature_validator.validate(text, signature)
        except Exception:
            valid = False
        if not valid:
            raise WebhookRejected("bad_signature")
        try:
            data = json.loads(text)
        except ValueError:
            raise WebhookRejected("unparseable") from None
        events = data.get("events") if isinstance(data, dict) else None
        if not (isinstance(events, list) and all(_plain_event(ev) for ev in events)):
            try:
                self.parser.parse(text, signature)
            except InvalidSignatureError:
                raise WebhookRejected("bad_signature") from None
            except Exception:
                raise WebhookRejected("unparseable") from None
            events = data.get("events") or []
        return events

    def _raw_event(self, ev: dict, courtesy: list[str]) -> RawEvent | None:
        """The inbox row for one event, or None (a group's reply token may join ``courtesy``)."""
        kind = str(ev.get("type"))
        source = ev.get("source") or {}
        mode = ev.get("mode", "active")
        if mode != "active":
            log.info("line event in standby mode ignored", extra={"kind": kind[:20]})
            return None
        if source.get("type") in ("group", "room"):
            token = ev.get("replyToken")
            if kind in ("message", "join") and token and self._owe_group_notice(source):
                courtesy.append(token)
            return None  # why not stored: group talk is other people's words, not a consultation
        user_id = source.get("userId") if source.get("type") == "user" else None
        if kind not in HANDLED_TYPES or not user_id:
            log.info("line event acknowledged without action", extra={"kind": kind[:20]})
            return None
        external_id = str(ev.get("webhookEventId") or "")
        if not external_id:
            # why a hash: an event without id must still be stored once, not once per delivery
            external_id = "h:" + hashlib.sha256(json.dumps(ev, sort_keys=True).encode()).hexdigest()[:40]
        return RawEvent(
            external_id=external_id,
            platform_user_id=user_id,
            event_time=_ms_to_utc(ev.get("timestamp")),
            payload=json.dumps(ev, ensure_ascii=False, separators=(",", ":")),
        )

    def _owe_group_notice(self, source: dict) -> bool:
        key = identity.user_hash("line-group", str(source.get("groupId") or source.get("roomId") or ""))
        now = time.monotonic()
        last = self._group_noticed.get(key)
        if last is not None and now - last < GROUP_NOTICE_EVERY:
            return False
        if len(self._group_noticed) > 10_000:
            self._group_noticed.clear()
        self._group_noticed[key] = now
        return True

    async def send_group_notices(self, tokens: list[str]) -> None:
        """Best effort: one polite line to a group/room, after the 200 has been sent."""
        from linebot.v3.messaging import ReplyMessageRequest, TextMessage

        for token in tokens:
            try:
                await self.api().reply_message(
                    ReplyMessageRequest(reply_token=token, messages=[TextMessage(text=GROUP_NOTICE)]),
                    _request_timeout=self.hint_timeout * 2,
                )
            except Exception as exc:
                log.info("group notice not sent", extra={"error_type": type(exc).__name__})

    # ------------------------------------------------------------------ inbound

    def to_inbound(self, payload: str) -> Interpreted | None:
        """Stored raw event → what the inbox worker should do."""
        ev = json.loads(payload)
        source = ev.get("source") or {}
        user_id = source.get("userId")
        if source.get("type") != "user" or not user_id:
            return None
        kind = ev.get("type")
        if ev.get("mode", "active") != "active":
            return Interpreted(user_id, None, side_effect="ignore")
        token = ev.get("replyToken")
        if (ev.get("deliveryContext") or {}).get("isRedelivery"):
            token = None  # why: a redelivered event's token may be used or stale; push instead
        sent_at = _ms_to_utc(ev.get("timestamp"))
        deadline = sent_at + timedelta(seconds=REPLY_TOKEN_SECONDS) if (token and sent_at) else None
        token = token if deadline else None

        def turn(inbound: Inbound) -> Interpreted:
            return Interpreted(user_id, inbound, reply_token=token, reply_deadline=deadline)

        if kind == "message":
            msg = ev.get("message") or {}
            if msg.get("type") == "text":
                return turn(Inbound(kind="text", text=str(msg.get("text") or ""), external_id=msg.get("id")))
            return turn(Inbound(kind="unsupported", external_id=msg.get("id")))
        if kind == "follow":
            return turn(Inbound(kind="follow"))
        if kind == "postback":
            data = str((ev.get("postback") or {}).get("data") or "")[: line_render.MAX_POSTBACK_DATA]
            return turn(Inbound(kind="postback", action=data))
        if kind == "unfollow":
            return Interpreted(user_id, None, side_effect="unfollow")
        if kind == "unsend":
            message_id = (ev.get("unsend") or {}).get("messageId")
            return Interpreted(user_id, None, side_effect=f"unsend:{message_id}" if message_id else "ignore")
        log.info("line event type not handled", extra={"kind": str(kind)[:20]})
        return Interpreted(user_id, None, side_effect="ignore")

    async def show_processing(self, platform_user_id: str) -> None:
        """Best effort loading animation in a 1:1 chat (never blocks, never raises)."""
        from linebot.v3.messaging import ShowLoadingAnimationRequest

        # why a budget: under a backlog almost every event qualifies, and the hints would take
        # CPU and API calls from the replies themselves; hints are the first thing to drop
        now = time.monotonic()
        self._hint_budget = min(HINTS_PER_SECOND, self._hint_budget + (now - self._hint_refilled) * HINTS_PER_SECOND)
        self._hint_refilled = now
        if self._hint_slots.locked() or self._hint_budget < 1:
            return
        self._hint_budget -= 1
        async with self._hint_slots:
            try:
                await self.api().show_loading_animation(
                    ShowLoadingAnimationRequest(chat_id=platform_user_id, loading_seconds=20), _request_timeout=self.hint_timeout
                )
            except Exception as exc:
                log.info("loading animation not shown", extra={"error_type": type(exc).__name__})

    # ------------------------------------------------------------------ outbound

    async def send(
        self,
        platform_user_id: str,
        messages: list[OutMessage],
        *,
        retry_key: str,
        reply_token: str | None,
        reply_deadline: datetime | None,
        parts_sent: int = 0,
        reply_retry: bool = False,
    ) -> SendResult:
        """Reply while the token is fresh, else push each ≤ 5-message request with its own retry key.

        ``parts_sent``: push requests an earlier attempt had LINE accept; they are skipped (a
        repeat would only get 409, their retry keys being the same).

        Why a reply never falls back to a push in the same call, and what ``reply_retry`` does:
        a reply has no idempotency key, but its token works once. So

        - trying the *same token* again is always safe: if LINE took the first call, the
          second fails with 400 and nothing is sent twice;
        - a push after a reply whose outcome is unknown (crash, timeout, 5xx) is what sends
          an answer twice. A push is therefore made only when the reply is *known* to have
          failed, and that is recorded in the outbox row (``reply_state = "failed"``, see
          bot/pipeline/outbox.py) before the push is attempted by the next claim.

        With ``reply_retry`` (an earlier attempt may have used the token), a 400 means "this
        token was already used": the earlier call was accepted, so the message counts as
        delivered. If that token has expired meanwhile, nothing is sent (``unconfirmed``):
        LINE most likely has it, and we cannot ask. The one exception is a crisis message:
        for the hotlines a second copy is better than none, so it is pushed.
        """
        requests = request_messages(messages)
        if not requests:
            return SendResult(SendOutcome.failed, error="nothing_to_send")
        api = self.api()
        # why the unchecked methods: see _unchecked
        reply_message, push_message = _unchecked(api.reply_message_with_http_info), _unchecked(api.push_message_with_http_info)
        # why only for one request: a message that needs several requests goes entirely by push,
        # where each request is safe to repeat (so an earlier attempt never replied to it)
        if reply_token and len(requests) == 1:
            fresh = reply_deadline is not None and clock.now() < reply_deadline
            if fresh:
                return await self._reply(reply_message, reply_token, requests[0], reply_retry=reply_retry)
            if reply_retry and not any(m.kind == "crisis" for m in messages):
                return SendResult(SendOutcome.unconfirmed, error="reply_unconfirmed")
            # not retried: the token was never used, so pushing cannot duplicate anything
        return await self._push(push_message, platform_user_id, requests, retry_key=retry_key, parts_sent=parts_sent)

    async def _push(self, push_message, to: str, requests, *, retry_key: str, parts_sent: int) -> SendResult:
        """Pushes each request not yet accepted, each with its own retry key (see :meth:`send`)."""
        for index, chunk in enumerate(requests):
            if index < parts_sent:
                continue
            key = retry_key if index == 0 else str(uuid.uuid5(uuid.UUID(retry_key), str(index)))
            try:
                await push_message(
                    _prepared(to, chunk, reply=False),
                    x_line_retry_key=key,
                    _return_http_data_only=True,
                    _request_timeout=self.timeout,
                )
            except Exception as exc:
                if getattr(exc, "status", None) == 409:
                    continue  # why: LINE already accepted this request (same retry key) earlier
                return replace(_classify(exc), parts_sent=index)
        return SendResult(SendOutcome.delivered)

    async def _reply(self, reply_message, reply_token: str, chunk: list[dict], *, reply_retry: bool) -> SendResult:
        """One reply call, its outcome told as ``SendResult.reply`` (see :meth:`send`)."""
        try:
            await reply_message(
                _prepared(reply_token, chunk, reply=True),
                _return_http_data_only=True,
                _request_timeout=self.timeout,
            )
            return SendResult(SendOutcome.delivered)
        except Exception as exc:
            status = getattr(exc, "status", None)
            if status == 400 and reply_retry:
                # the token is fresh, so it is invalid because it was used: by our earlier call
                return SendResult(SendOutcome.delivered, error="reply_token_used")
            result = _classify(exc)
            if status is not None and 400 <= status < 500 and not reply_retry:
                # LINE answered and refused (400 is almost always "Invalid reply token"): not
                # delivered. Retried at once; the next attempt pushes with a retry key.
                return SendResult(SendOutcome.retry, error=f"reply_http_{status}", retry_after=result.retry_after, reply="failed")
            # 5xx, timeout, connection error: LINE may or may not have taken it (and after an
            # earlier unknown call, only the same token may be tried again, whatever this says)
            return replace(result, outcome=SendOutcome.retry, reply="unknown")


def _classify(exc: BaseException) -> SendResult:
    """Maps an SDK/transport error to a send outcome (no message text in ``error``)."""
    from linebot.v3.messaging import ApiException

    if isinstance(exc, ApiException):
        status = exc.status or 0
        if status == 429:
            return SendResult(SendOutcome.retry, retry_after=_retry_after(exc), error="http_429")
        if status >= 500 or status in (0, 401, 408):
            # 401: our token is wrong or expired; retrying lets an operator fix it before dead-letter
            return SendResult(SendOutcome.retry, error=f"http_{status}")
        return SendResult(SendOutcome.failed, error=f"http_{status}")
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ClientError, OSError)):
        return SendResult(SendOutcome.retry, error="timeout" if isinstance(exc, asyncio.TimeoutError) else type(exc).__name__[:40])
    return SendResult(SendOutcome.retry, error=type(exc).__name__[:40])


def _retry_after(exc) -> float | None:
    headers = getattr(exc, "headers", None) or {}
    try:
        value = headers.get("Retry-After") or headers.get("retry-after")
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
