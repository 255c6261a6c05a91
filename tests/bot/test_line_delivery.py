"""Delivery through the real SDK against the fake LINE API: reply-then-push, retries, limits, privacy."""
from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot import pipeline
from bot.channels.line import render as line_render
from bot.models import InboxEvent
from bot.pipeline import wake
from core import clock, db
from core.messages import Button, OutMessage
from core.models import Message, OutboxMessage
from core.outbox import enqueue
from handoff import notify
from tests.builders import make_line_event, make_line_postback_event, make_line_text_event
from tests.fakes.line_api import PUSH, Scripted, line_api, line_api_server, line_env  # noqa: F401  (fixtures)

CANARY = "CANARY-前科-9137"


def _rows(model):
    with db.session_scope() as s:
        return list(s.exec(select(model)).all())


@pytest.fixture
def time_travel():
    """Moves the service clock forward (retries become due); restores it afterwards."""
    offset = [timedelta(0)]

    def forward(seconds: float = 3600) -> None:
        offset[0] += timedelta(seconds=seconds)
        clock.freeze(datetime.now(UTC) + offset[0])

    yield forward
    clock.freeze(None)


@pytest.fixture
def notifications():
    got: list[tuple[str, dict]] = []
    unsubscribe = notify.subscribe(lambda kind, data: got.append((kind, data)))
    yield got
    unsubscribe()


def _old_text_event(text: str, user_id: str = "U-late") -> dict:
    """An event whose reply token has expired (sent two minutes ago)."""
    return make_line_text_event(text, user_id=user_id, timestamp=int((time.time() - 120) * 1000))


def _line_user_with_outbox(messages: list[OutMessage], platform_id: str = "U-direct") -> str:
    from bot.service import get_or_create_user

    with db.session_scope() as session:
        user = get_or_create_user(session, "line", platform_id)
        row = enqueue(session, user=user, messages=messages)
        return row.id


def _outbox(oid: str) -> OutboxMessage:
    with db.session_scope() as s:
        return s.get(OutboxMessage, oid)


# ---------------------------------------------------------------------- reply or push


def test_fresh_reply_token_is_used_once_by_reply(line_env):
    line_env.post(make_line_text_event("仕事を探したい", user_id="U-fresh"))
    line_env.process()
    (send,) = line_env.fake.sends()
    assert send.path == "/v2/bot/message/reply" and send.retry_key is None
    (row,) = _rows(OutboxMessage)
    assert row.state == "delivered" and row.reply_token is None


def test_expired_reply_token_means_push_with_the_outbox_id_as_retry_key(line_env):
    line_env.post(_old_text_event("仕事を探したい"))
    line_env.process()
    (send,) = line_env.fake.sends()
    (row,) = _rows(OutboxMessage)
    assert send.path == "/v2/bot/message/push"
    assert send.body["to"] == "U-late"
    assert send.retry_key == row.id
    assert row.state == "delivered"


def test_redelivered_event_is_answered_by_push(line_env):
    line_env.post(make_line_text_event("こんにちは", user_id="U-re", deliveryContext={"isRedelivery": True}))
    line_env.process()
    assert [s.path for s in line_env.fake.sends()] == ["/v2/bot/message/push"]


def test_rejected_reply_token_falls_back_to_push(line_env):
    line_env.fake.then(Scripted(400, path="/v2/bot/message/reply", body={"message": "Invalid reply token"}))
    line_env.post(make_line_text_event("こんにちは", user_id="U-400"))
    line_env.process()
    assert [(s.path, s.status) for s in line_env.fake.sends()] == [("/v2/bot/message/reply", 400), ("/v2/bot/message/push", 200)]
    assert _rows(OutboxMessage)[0].state == "delivered"


# ---------------------------------------------------------------------- a crash between "LINE took it" and "recorded"


def _send_then_crash(line_env) -> None:
    """Claims the due rows and sends them, then "dies": the outcome is never recorded."""
    jobs = pipeline.claim_outbox(10)
    for job in jobs:
        line_env.drive(pipeline.deliver(job))


def _answered(line_env, text: str, user_id: str) -> None:
    line_env.post(make_line_text_event(text, user_id=user_id))
    line_env.drive(pipeline.run_inbox_once())


def test_a_reply_taken_by_line_before_a_crash_is_not_sent_again(line_env, time_travel):
    _answered(line_env, "仕事を探したい", "U-crash")
    _send_then_crash(line_env)
    time_travel(pipeline.TUNING.reply_lease_seconds + 1)  # the lease ran out; the token is still fresh
    line_env.drive(pipeline.run_outbox_once())
    (row,) = _rows(OutboxMessage)
    assert [(s.path, s.status) for s in line_env.fake.sends()] == [("/v2/bot/message/reply", 200), ("/v2/bot/message/reply", 400)]
    assert len(line_env.fake.accepted) == 1  # no push after it
    assert row.state == "delivered" and row.reply_token is None


def test_a_reply_that_never_left_before_a_crash_is_sent_once_by_reply(line_env, time_travel):
    _answered(line_env, "仕事を探したい", "U-crash2")
    assert pipeline.claim_outbox(10)  # leased, reply recorded as "sending", then the process died
    time_travel(pipeline.TUNING.reply_lease_seconds + 1)
    line_env.drive(pipeline.run_outbox_once())
    assert [(s.path, s.status) for s in line_env.fake.sends()] == [("/v2/bot/message/reply", 200)]
    assert _rows(OutboxMessage)[0].state == "delivered"


def test_after_a_crash_with_the_token_expired_the_reply_is_not_pushed_again(line_env, time_travel):
    _answered(line_env, "仕事を探したい", "U-crash3")
    _send_then_crash(line_env)
    time_travel(600)  # restarted long after: the token can no longer tell
    line_env.drive(pipeline.run_outbox_once())
    assert len(line_env.fake.sends()) == 1
    (row,) = _rows(OutboxMessage)
    assert row.state == "unconfirmed" and row.reply_token is None


def test_a_crisis_reply_lost_in_a_crash_is_pushed_even_if_it_may_arrive_twice(line_env, time_travel):
    _answered(line_env, "死にたい", "U-crash4")
    _send_then_crash(line_env)
    time_travel(600)
    line_env.drive(pipeline.run_outbox_once())
    assert [s.path for s in line_env.fake.accepted] == ["/v2/bot/message/reply", "/v2/bot/message/push"]


def test_a_reply_answered_500_is_tried_again_with_the_same_token_not_pushed(line_env, time_travel):
    line_env.fake.then(Scripted(500, path="/v2/bot/message/reply"))
    _answered(line_env, "仕事を探したい", "U-500")
    line_env.drive(pipeline.run_outbox_once())
    (row,) = _rows(OutboxMessage)
    assert row.state == "pending" and row.reply_state == "unknown"
    assert row.next_try_at < row.reply_deadline  # retried while the token can still settle it
    time_travel((row.next_try_at - clock.now()).total_seconds() + 0.1)
    line_env.drive(pipeline.run_outbox_once())
    assert [(s.path, s.status) for s in line_env.fake.sends()] == [("/v2/bot/message/reply", 500), ("/v2/bot/message/reply", 200)]
    assert _rows(OutboxMessage)[0].state == "delivered"


def test_the_fake_refuses_a_used_reply_token_like_line(line_env):
    import httpx

    body = {"replyToken": "tok-1", "messages": [{"type": "text", "text": "x"}]}
    url = line_env.fake.base_url + "/v2/bot/message/reply"
    assert httpx.post(url, json=body).status_code == 200
    assert httpx.post(url, json=body).status_code == 400


# ---------------------------------------------------------------------- retries


def test_500_500_timeout_200_is_one_delivery_with_one_retry_key(line_env, time_travel):
    line_env.fake.then(500, 500, Scripted(200, delay=1.5), 200, path=PUSH)
    line_env.post(_old_text_event("住むところがない"))
    line_env.process()
    for _ in range(4):
        time_travel()
        line_env.drive(pipeline.run_outbox_once())
    sends = line_env.fake.sends()
    (row,) = _rows(OutboxMessage)
    assert len(sends) == 4
    assert {s.retry_key for s in sends} == {row.id}
    assert len(line_env.fake.accepted) == 1  # the timed-out call was accepted; the 4th got 409
    assert row.state == "delivered" and row.attempts == 4


def test_409_counts_as_delivered(line_env):
    line_env.fake.then(Scripted(409, path="/v2/bot/message/push"))
    oid = _line_user_with_outbox([OutMessage("text", "こんにちは")])
    line_env.drive(pipeline.run_outbox_once())
    assert _outbox(oid).state == "delivered"


def test_400_is_final_and_never_retried(line_env, time_travel, notifications):
    line_env.fake.then(Scripted(400, path="/v2/bot/message/push"))
    oid = _line_user_with_outbox([OutMessage("text", "こんにちは")])
    line_env.drive(pipeline.run_outbox_once())
    time_travel()
    line_env.drive(pipeline.run_outbox_once())
    row = _outbox(oid)
    assert row.state == "failed" and row.attempts == 1 and row.last_error == "http_400"
    assert len(line_env.fake.sends()) == 1
    assert ("delivery_failed", {"outbox_id": oid}) in notifications


def test_six_500s_dead_letter_and_alert_staff(line_env, time_travel, notifications):
    line_env.fake.then(*[500] * 7, path=PUSH)
    oid = _line_user_with_outbox([OutMessage("text", "こんにちは")])
    for _ in range(8):
        line_env.drive(pipeline.run_outbox_once())
        time_travel()
    row = _outbox(oid)
    assert row.state == "dead" and row.attempts == pipeline.MAX_SEND_ATTEMPTS == 6
    assert len(line_env.fake.sends()) == 6
    assert {s.retry_key for s in line_env.fake.sends()} == {oid}
    assert ("delivery_dead", {"outbox_id": oid}) in notifications


def test_429_waits_at_least_retry_after(line_env, time_travel):
    line_env.fake.then(Scripted(429, headers={"Retry-After": "900"}, path="/v2/bot/message/push"))
    oid = _line_user_with_outbox([OutMessage("text", "こんにちは")])
    before = clock.now()
    line_env.drive(pipeline.run_outbox_once())
    row = _outbox(oid)
    assert row.state == "pending" and row.next_try_at >= before + timedelta(seconds=899)
    time_travel(600)
    line_env.drive(pipeline.run_outbox_once())
    assert len(line_env.fake.sends()) == 1  # not yet due
    time_travel(600)
    line_env.drive(pipeline.run_outbox_once())
    assert _outbox(oid).state == "delivered"


def test_inactive_user_is_not_sent_to(line_env):
    line_env.post(make_line_text_event("こんにちは", user_id="U-gone", timestamp=int((time.time() - 120) * 1000)))
    line_env.post(make_line_event("unfollow", user_id="U-gone"))
    line_env.drive(pipeline.run_inbox_once())
    line_env.drive(pipeline.run_outbox_once())
    assert line_env.fake.sends() == []
    assert _rows(OutboxMessage)[0].state == "failed"


# ---------------------------------------------------------------------- limits the SDK does not check


def test_more_than_five_messages_are_split_into_requests_each_with_its_own_retry_key(line_env, time_travel):
    messages = [OutMessage("text", f"{i}番目のお知らせです。") for i in range(12)]
    line_env.fake.then(200, 500, path=PUSH)  # second request fails once: the retry must not resend the first
    oid = _line_user_with_outbox(messages)
    line_env.drive(pipeline.run_outbox_once())
    time_travel()
    line_env.drive(pipeline.run_outbox_once())
    sends = line_env.fake.sends()
    assert all(s.path == "/v2/bot/message/push" and len(s.messages) <= 5 for s in sends)
    keys = [oid, str(uuid.uuid5(uuid.UUID(oid), "1")), str(uuid.uuid5(uuid.UUID(oid), "2"))]
    # the retry starts at the failed request (the outbox row kept how many went out); each
    # request keeps its own key, so a repeat would have been refused with 409 anyway
    assert [s.retry_key for s in sends] == [keys[0], keys[1], keys[1], keys[2]]
    assert _outbox(oid).parts_sent == 1
    delivered = [t for s in line_env.fake.accepted for t in s.texts]
    assert delivered == [m.text for m in messages]  # each exactly once, in order
    assert _outbox(oid).state == "delivered"


def test_long_text_is_split_on_sentences_within_5000_utf16_units(line_env):
    sentence = "保護観察所に相談できます😀。"  # the emoji counts 2 UTF-16 units
    text = sentence * 800  # ~12,800 units
    oid = _line_user_with_outbox([OutMessage("text", text)])
    line_env.drive(pipeline.run_outbox_once())
    parts = [m["text"] for s in line_env.fake.accepted for m in s.messages]
    assert len(parts) == 3
    assert all(line_render.utf16_len(p) <= 5000 for p in parts)
    assert all(p.endswith("。") for p in parts)
    assert "".join(parts) == text
    assert _outbox(oid).state == "delivered"


def test_rendering_respects_quick_reply_label_and_postback_limits():
    many = [Button(f"とても長いボタンのラベルです番号{i}", f"e:{i}") for i in range(20)]
    msg = OutMessage("consent", "説明", buttons=many[:2], quick_replies=many + [Button("x", "y" * 301)])
    (rendered,) = line_render.render([msg])
    items = rendered["quickReply"]["items"]
    assert len(items) == 13
    assert all(line_render.utf16_len(i["action"]["label"]) <= 20 for i in items)
    assert all(len(i["action"]["data"]) <= 300 for i in items)


def test_answer_is_a_flex_bubble_with_source_line_and_handoff_button():
    msg = OutMessage(
        "answer", "保護観察所に相談できます。", title="住まいの相談", source_line="出典: 法務省(2025年4月)",
        buttons=[Button("仕事の相談", "e:shuro-shien")], quick_replies=[Button("メニュー", "m")],
    )
    (flex,) = line_render.render([msg])
    assert flex["type"] == "flex" and flex["altText"].startswith("住まいの相談")
    texts = [c["text"] for c in flex["contents"]["body"]["contents"]]
    assert texts == ["住まいの相談", "保護観察所に相談できます。", "出典: 法務省(2025年4月)"]
    actions = [b["action"]["data"] for b in flex["contents"]["footer"]["contents"]]
    assert actions == ["e:shuro-shien", "h"]
    from linebot.v3.messaging import Message

    assert Message.from_dict(flex) is not None  # the SDK accepts it


# ---------------------------------------------------------------------- privacy side effects


def test_unsend_deletes_the_stored_message_and_its_raw_event(line_env):
    line_env.post(make_line_text_event("こんにちは", user_id="U-uns"))
    line_env.post(make_line_postback_event("c:y", user_id="U-uns"))
    line_env.process()
    ev = make_line_text_event(f"消したい {CANARY}", user_id="U-uns")
    line_env.post(ev)
    line_env.process()
    assert any(m.body and CANARY in m.body for m in _rows(Message))
    line_env.post(make_line_event("unsend", user_id="U-uns", unsend={"messageId": ev["message"]["id"]}))
    line_env.process()
    assert not any(m.external_id == ev["message"]["id"] for m in _rows(Message))
    assert not any(r.payload and CANARY in r.payload for r in _rows(InboxEvent))


def test_payload_is_erased_after_processing_for_a_user_without_consent(line_env):
    line_env.post(make_line_text_event(f"住むところがない {CANARY}", user_id="U-nocon"))
    line_env.process()
    (row,) = _rows(InboxEvent)
    assert row.state == "done" and row.payload is None


def test_payload_is_kept_encrypted_for_a_user_with_consent(line_env):
    line_env.post(make_line_text_event("こんにちは", user_id="U-con"))
    line_env.post(make_line_postback_event("c:y", user_id="U-con"))
    line_env.process()
    line_env.post(make_line_text_event(f"仕事を探したい {CANARY}", user_id="U-con"))
    line_env.process()
    kept = [r.payload for r in _rows(InboxEvent) if r.payload]
    assert any(CANARY in p for p in kept)
    from sqlalchemy import text

    with db.engine().connect() as conn:
        raw = [r[0] for r in conn.execute(text("SELECT payload FROM inbox_event WHERE payload IS NOT NULL"))]
    assert raw and all(p.startswith("enc1:") and CANARY not in p for p in raw)


# ---------------------------------------------------------------------- worker loops


def test_workers_in_serve_wake_on_a_webhook_and_answer(line_env, monkeypatch):
    """With the lifespan running (as in ``ristapo serve``) a webhook is answered without polling."""
    from fastapi.testclient import TestClient

    monkeypatch.setattr(pipeline.TUNING, "poll_seconds", 30.0)  # only the in-process poke can wake them
    monkeypatch.setattr(pipeline.TUNING, "busy_poll_seconds", 30.0)
    line_env.app.state.settings.run_workers = True
    from tests.builders import line_body, sign

    with TestClient(line_env.app) as client:
        body = line_body(make_line_text_event("こんにちは", user_id="U-live"))
        client.post("/webhooks/line", content=body, headers={"X-Line-Signature": sign(body, line_env.secret)})
        assert line_env.fake.wait_for(lambda f: len(f.accepted) == 1, timeout=10)
    assert _rows(InboxEvent)[0].state == "done"


def test_the_guard_stops_any_call_to_the_real_line_api(settings):
    import asyncio

    from bot.channels.line.adapter import LineAdapter

    real = settings.model_copy(update={"line_channel_secret": "s", "line_channel_access_token": "t", "line_api_base": "https://api.line.me"})
    adapter = LineAdapter(real)

    async def call():
        try:
            return await adapter.send("U-x", [OutMessage("text", "x")], retry_key=str(uuid.uuid4()), reply_token=None, reply_deadline=None)
        finally:
            await adapter.aclose()

    with pytest.raises(pytest.fail.Exception):
        asyncio.run(call())


def test_an_idle_worker_polls_soon_after_recent_work_and_slowly_otherwise(monkeypatch):
    """Other processes' commits do not wake a worker: after recent work it looks again soon."""
    import asyncio
    import time as _time

    waits: list[float] = []

    async def run() -> None:
        waker = wake._Waker()

        async def fake_wait(timeout: float) -> None:
            waits.append(timeout)

        waker.wait = fake_wait
        await waker.idle(_time.monotonic())  # work just now
        await waker.idle(_time.monotonic() - pipeline.BUSY_WINDOW_SECONDS - 1)  # long ago
        await waker.idle(float("-inf"))  # never

    monkeypatch.setattr(pipeline.TUNING, "poll_seconds", 1.0)
    monkeypatch.setattr(pipeline.TUNING, "busy_poll_seconds", 0.1)
    asyncio.run(run())
    assert waits == [0.1, 1.0, 1.0]


def test_sends_in_flight_are_not_capped_by_the_sdk_connection_pool(line_env):
    """The SDK allows 5 connections per CPU; the delivery worker keeps SEND_CONCURRENCY in flight,
    and against LINE's real round trip the rest would wait in the pool."""
    users = [f"U-pool-{i:02d}" for i in range(pipeline.SEND_CONCURRENCY)]
    line_env.fake.default_delay = 0.3
    line_env.post(*[make_line_text_event("こんにちは", user_id=u) for u in users])
    line_env.process()
    assert len(line_env.fake.accepted) == len(users)
    assert line_env.fake.max_in_flight > 10, "more sends at once than the SDK's default pool of 10 (2 CPUs)"
