"""The LINE request bodies built from cached, pre-serialised messages are the SDK's own JSON.

bot/channels/line/adapter.py sends ``reply_request``/``push_request`` objects instead of building SDK
models for every message; these tests pin that the JSON the SDK client puts on the wire is
exactly what ``ReplyMessageRequest(..., messages=[Message.from_dict(m) ...])`` gives.
"""
from __future__ import annotations

import json

import pytest
from linebot.v3.messaging import ReplyMessageRequest
from pydantic.v1 import validate_arguments

from bot import engine, texts
from bot.channels.line import payload as line
from bot.channels.line import render as line_render
from core.messages import A_ENTRY, Button, OutMessage


def _samples() -> list[list[OutMessage]]:
    long_text = "保護観察について説明します。" * 500  # split into several text messages
    return [
        [OutMessage("answer", "本文です。\n二行目", title="保護観察とは", source_line="出典: 法務省 (2026-01-01)",
                    buttons=[Button("更生保護施設", A_ENTRY + "x"), Button("仕事", A_ENTRY + "y")],
                    quick_replies=texts.common_quick_replies(), entry_id="x", entry_version=3)],
        [OutMessage("consent", "記録について説明します。", title="記録について", buttons=texts.CONSENT_BUTTONS)],
        [engine._menu()],
        [OutMessage("crisis", "いのちの電話 0120-000-000", title="いますぐ", quick_replies=texts.crisis_quick_replies(), urgent=True)],
        [OutMessage("text", "はい", quick_replies=[Button("緊急の電話番号", "e")])],
        [OutMessage("staff", "担当の者です。明日お電話します。")],
        [OutMessage("text", long_text)],
        [OutMessage("text", f"メッセージ{i}") for i in range(7)],
    ]


def _wire(api_client, request) -> dict:
    # what AsyncApiClient serialises as the request body
    return json.loads(json.dumps(api_client.sanitize_for_serialization(request)))


@pytest.mark.parametrize("cache", [True, False])
def test_prepared_requests_serialise_like_sdk_models(cache):
    from linebot.v3.messaging import AsyncApiClient, Configuration, Message, PushMessageRequest, ReplyMessageRequest

    client = AsyncApiClient.__new__(AsyncApiClient)  # sanitize_for_serialization needs no connector
    client.configuration = Configuration(host="http://127.0.0.1:9", access_token="t")
    for messages in _samples():
        for chunk in line_render.chunk(line_render.render(messages)):
            want_reply = ReplyMessageRequest(reply_token="tok", messages=[Message.from_dict(m) for m in chunk])
            want_push = PushMessageRequest(to="U123", messages=[Message.from_dict(m) for m in chunk])
            for _ in range(2):  # cold and warm cache
                got_reply = line.reply_request("tok", chunk, cache=cache)
                got_push = line.push_request("U123", chunk, cache=cache)
                assert _wire(client, got_reply) == _wire(client, want_reply)
                assert _wire(client, got_push) == _wire(client, want_push)
                assert list(got_reply.to_dict()) == list(want_reply.to_dict())  # key order too
                assert isinstance(got_reply, ReplyMessageRequest) and isinstance(got_push, PushMessageRequest)


@validate_arguments
def _validated(reply_message_request: ReplyMessageRequest):
    return reply_message_request


def test_prepared_request_survives_the_sdk_argument_validation():
    """The API methods validate their arguments (pydantic v1): the prepared body must pass unchanged."""
    chunk = line_render.render([OutMessage("text", "こんにちは")])
    req = line.reply_request("tok", chunk)
    got = _validated(req)
    assert type(got) is type(req)
    assert got.to_dict() == req.to_dict()


def test_staff_messages_are_not_cached():
    line._sdk_message.cache_clear()
    chunk = line_render.render([OutMessage("staff", "担当の者です")])
    line.push_request("U1", chunk, cache=False)
    assert line._sdk_message.cache_info().currsize == 0


def test_a_chunk_outside_the_limits_is_refused_by_the_sdk_model():
    from pydantic.v1 import ValidationError

    chunk = [line_render.text_message(f"m{i}") for i in range(6)]
    with pytest.raises(ValidationError):
        line.push_request("U1", chunk)


# ---------------------------------------------------------------- what send() puts on the wire


def _our_client():
    from linebot.v3.messaging import Configuration

    client = line._api_client_class().__new__(line._api_client_class())  # no connector needed
    client.configuration = Configuration(host="http://127.0.0.1:9", access_token="t")
    return client


def test_send_bodies_serialise_like_sdk_models():
    """The per-payload cache and the adapter's API client give the SDK models' JSON, key order too."""
    from linebot.v3.messaging import AsyncApiClient, Message, PushMessageRequest, ReplyMessageRequest

    sdk = AsyncApiClient.__new__(AsyncApiClient)
    sdk.configuration = _our_client().configuration
    ours = _our_client()
    line._cached_requests.cache_clear()
    for messages in _samples():
        want = line_render.chunk(line_render.render(messages))
        for _ in range(2):  # cold and warm cache, from fresh objects as the outbox gives them
            fresh = [OutMessage.from_dict(m.to_dict()) for m in messages]
            got = line.request_messages(fresh)
            assert len(got) == len(want)
            for got_chunk, want_chunk in zip(got, want, strict=True):
                models = [Message.from_dict(m) for m in want_chunk]
                for body, model in (
                    (line._prepared("tok", got_chunk, reply=True), ReplyMessageRequest(reply_token="tok", messages=models)),
                    (line._prepared("U123", got_chunk, reply=False), PushMessageRequest(to="U123", messages=models)),
                ):
                    assert json.dumps(ours.sanitize_for_serialization(body)) == json.dumps(sdk.sanitize_for_serialization(model))


def test_send_arguments_pass_the_sdk_argument_validation():
    """send() skips the SDK's per-call pydantic check; what it passes must still satisfy it."""
    from linebot.v3.messaging import AsyncMessagingApi

    (chunk,) = line.request_messages([OutMessage("text", "こんにちは")])
    AsyncMessagingApi.reply_message_with_http_info.validate(
        None, line._prepared("tok", chunk, reply=True), _return_http_data_only=True, _request_timeout=10.0
    )
    AsyncMessagingApi.push_message_with_http_info.validate(
        None, line._prepared("U1", chunk, reply=False), x_line_retry_key="5f0b0c1e-0000-4000-8000-000000000001",
        _return_http_data_only=True, _request_timeout=10.0,
    )


def test_a_payload_with_a_staff_message_is_not_cached():
    line._cached_requests.cache_clear()
    line._sdk_message.cache_clear()
    for messages in ([OutMessage("staff", "担当の者です。明日お電話します。")],
                     [OutMessage("text", "担当者からの返事です"), OutMessage("staff", "担当の者です")]):
        for _ in range(2):
            assert line.request_messages(messages)
    assert line._cached_requests.cache_info().currsize == 0
    assert line._sdk_message.cache_info().currsize == 0


def test_the_same_payload_is_rendered_once_and_different_payloads_do_not_share_an_entry():
    line._cached_requests.cache_clear()

    def answer(action: str) -> list[OutMessage]:
        return [OutMessage("answer", "本文です。", title="保護観察とは", buttons=[Button("仕事", A_ENTRY + action)])]

    first = line.request_messages(answer("x"))
    again = line.request_messages(answer("x"))
    other = line.request_messages(answer("y"))  # differs only in a button's postback data
    info = line._cached_requests.cache_info()
    assert again is first and (info.hits, info.currsize) == (1, 2)
    assert other != first
    assert f'"data": "{A_ENTRY}y"' in json.dumps(other) and f'"data": "{A_ENTRY}x"' not in json.dumps(other)
