"""LINE request bodies (reply and push) built from already serialised messages, with their caches."""
from __future__ import annotations

import functools
import json

from bot.channels.line import render as line_render
from core.messages import OutMessage

# Why: building the SDK's pydantic (v1) models for a Flex answer and serialising them again
# costs ≈ 1–2 ms per send, the largest single cost of delivery. The same few payloads (an
# entry's answer, the consent prompt, the menu) go to every user, so each distinct payload is
# rendered once and each distinct message validated by the SDK model once
# (``Message.from_dict(m).to_dict()``); the serialised form is reused. The request then goes
# through the real ``AsyncMessagingApi`` method and ``AsyncApiClient`` (URL, auth, headers,
# X-Line-Retry-Key, timeout, error handling), only its body is already a plain dict.
# Staff replies (kind "staff": a person's words to one user) are converted each time and never
# kept in either cache.

MESSAGE_CACHE_SIZE = 2048
PAYLOAD_CACHE_SIZE = 1024


@functools.lru_cache(maxsize=MESSAGE_CACHE_SIZE)
def _sdk_message(key: str) -> dict:
    """The JSON the SDK sends for one rendered message (validated by its model). Never mutate it."""
    from linebot.v3.messaging import Message

    return Message.from_dict(json.loads(key)).to_dict()


def sdk_messages(chunk: list[dict], *, cache: bool = True) -> list[dict]:
    """What ``[Message.from_dict(m).to_dict() for m in chunk]`` gives (from the cache if ``cache``)."""
    if not cache:
        from linebot.v3.messaging import Message

        return [Message.from_dict(m).to_dict() for m in chunk]
    return [_sdk_message(json.dumps(m, ensure_ascii=False, sort_keys=True, separators=(",", ":"))) for m in chunk]


class _Payload:
    """A list of OutMessages as a cache key: equal when their ``repr`` s are equal.

    Why ``repr``: the dataclass repr shows every field (buttons included) with strings quoted,
    so two payloads share an entry only if everything ``line_render`` could read is the same.
    """

    __slots__ = ("messages", "key", "_hash")

    def __init__(self, messages: list[OutMessage]):
        self.messages = messages
        self.key = repr(messages)
        self._hash = hash(self.key)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other) -> bool:
        return isinstance(other, _Payload) and self.key == other.key


def _render_requests(messages: list[OutMessage], *, cache: bool) -> tuple[list[dict], ...]:
    return tuple(sdk_messages(c, cache=cache) for c in line_render.chunk(line_render.render(messages)))


@functools.lru_cache(maxsize=PAYLOAD_CACHE_SIZE)
def _cached_requests(payload: _Payload) -> tuple[list[dict], ...]:
    return _render_requests(payload.messages, cache=True)


def request_messages(messages: list[OutMessage]) -> tuple[list[dict], ...]:
    """The SDK-serialised messages of each request (≤ 5 each) for ``messages``. Never mutate them.

    Why a cache per payload: the same answer goes to every user who asks, and rendering it and
    finding its messages in ``_sdk_message`` (a JSON dump each) cost more than the HTTP call.
    A payload with a staff message (a person's words to one user) is built each time and never kept.
    """
    if any(m.kind == "staff" for m in messages):
        return _render_requests(messages, cache=False)
    return _cached_requests(_Payload(messages))


@functools.cache
def _prepared_classes():
    from linebot.v3.messaging import PushMessageRequest, ReplyMessageRequest

    class PreparedReply(ReplyMessageRequest):
        """A ReplyMessageRequest whose ``messages`` are already the SDK's serialised dicts."""

        def to_dict(self):
            return {"replyToken": self.reply_token, "messages": self.messages, "notificationDisabled": self.notification_disabled}

    class PreparedPush(PushMessageRequest):
        def to_dict(self):
            out = {"to": self.to, "messages": self.messages, "notificationDisabled": self.notification_disabled}
            if self.custom_aggregation_units is not None:
                out["customAggregationUnits"] = self.custom_aggregation_units
            return out

    return PreparedReply, PreparedPush


def _unchecked(method):
    """An ``AsyncMessagingApi.*_with_http_info`` method without pydantic's argument check.

    Why: ``reply_message``/``push_message`` only call ``*_with_http_info`` with
    ``_return_http_data_only``, and both layers are wrapped in ``validate_arguments``, which
    builds a pydantic model of the arguments on every call (≈ 40 µs per send) to check a
    request this module has just built from SDK-validated messages and a str retry key
    (tests/test_line_payload.py checks that these arguments pass it). The method body — path,
    auth, X-Line-Retry-Key, Accept/Content-Type, timeout — runs as the SDK wrote it.
    """
    raw = getattr(method, "raw_function", None)  # set by pydantic.v1's validate_arguments
    return functools.partial(raw, method.__self__) if raw is not None else method


_UNREAD_RESPONSES = frozenset({"PushMessageResponse", "ReplyMessageResponse"})


@functools.cache
def _api_client_class():
    """``AsyncApiClient`` that neither walks a prepared body again nor parses a send's response.

    Why: ``sanitize_for_serialization`` rebuilds every dict and list of the body (a Flex answer
    is a few hundred nodes) to turn models into JSON values; a prepared request's ``to_dict``
    already is those values, so it is used as it is. And a 2xx reply/push response (the sent
    messages' ids) was parsed into pydantic models that nobody reads: this client belongs to
    :class:`LineAdapter`, which never uses them, so those calls return ``None``. Error
    responses are raised by the REST layer before this point, as before; anything else goes
    the SDK's way.
    """
    from linebot.v3.messaging import AsyncApiClient

    prepared = _prepared_classes()

    class ApiClient(AsyncApiClient):
        def sanitize_for_serialization(self, obj):
            if type(obj) in prepared:
                return obj.to_dict()
            return super().sanitize_for_serialization(obj)

        def deserialize(self, response, response_type):
            if response_type in _UNREAD_RESPONSES:
                return None
            return super().deserialize(response, response_type)

    return ApiClient


def _prepared(to: str, messages: list[dict], *, reply: bool):
    """A request body around already serialised messages (1–5 of them, as ``chunk`` makes)."""
    prepared_reply, prepared_push = _prepared_classes()
    if reply:
        return prepared_reply.construct(reply_token=to, messages=messages, notification_disabled=False)
    return prepared_push.construct(to=to, messages=messages, notification_disabled=False)


def reply_request(reply_token: str, chunk: list[dict], *, cache: bool = True):
    """The request body for a reply; the same JSON as ``ReplyMessageRequest(...)`` with SDK models."""
    from linebot.v3.messaging import Message, ReplyMessageRequest

    if not 1 <= len(chunk) <= line_render.MAX_MESSAGES_PER_REQUEST:
        # outside the model's limits: let the SDK model say so, exactly as before
        return ReplyMessageRequest(reply_token=reply_token, messages=[Message.from_dict(m) for m in chunk])
    return _prepared(reply_token, sdk_messages(chunk, cache=cache), reply=True)


def push_request(to: str, chunk: list[dict], *, cache: bool = True):
    """The request body for a push; the same JSON as ``PushMessageRequest(...)`` with SDK models."""
    from linebot.v3.messaging import Message, PushMessageRequest

    if not 1 <= len(chunk) <= line_render.MAX_MESSAGES_PER_REQUEST:
        return PushMessageRequest(to=to, messages=[Message.from_dict(m) for m in chunk])
    return _prepared(to, sdk_messages(chunk, cache=cache), reply=False)


