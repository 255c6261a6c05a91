"""``POST /webhooks/line`` through the real route: verify, store once, answer 200, never 500."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from sqlmodel import select

from bot.models import InboxEvent
from core import db
from core.models import ChannelUser, Message
from tests.builders import line_body, make_line_event, make_line_text_event, sign
from tests.fakes.line_api import line_api, line_api_server, line_env  # noqa: F401  (fixtures)

FIXTURE = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "line" / "webhook.json"


def _rows(model):
    with db.session_scope() as s:
        return list(s.exec(select(model)).all())


class TestSignature:
    @pytest.mark.parametrize(
        "case",
        ["missing", "empty", "forged", "other_secret", "changed_byte"],
    )
    def test_bad_signature_is_400_and_nothing_is_stored(self, line_env, caplog, case):
        body = line_body(make_line_text_event("CANARY-前科-9137 住むところがない"))
        signature = {
            "missing": None,
            "empty": "",
            "forged": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "other_secret": sign(body, "not-the-secret"),
            "changed_byte": sign(body, line_env.secret),
        }[case]
        if case == "changed_byte":
            body = body.replace(b"\xe4\xbd\x8f", b"\xe4\xbd\x8e", 1)  # one byte of 住 changed
        caplog.set_level("INFO")
        response = line_env.post(body=body, signature=signature)
        assert response.status_code == 400
        assert _rows(InboxEvent) == []
        line_env.process()
        assert line_env.fake.requests == []
        rejected = [r for r in caplog.records if r.getMessage() == "line webhook rejected"]
        assert rejected, "a security log line is written"
        assert all("CANARY" not in r.getMessage() and "CANARY" not in str(r.__dict__) for r in caplog.records)

    def test_verify_button_empty_events_is_200(self, line_env):
        response = line_env.post(body=b'{"destination":"U0123456789abcdef0123456789abcdef","events":[]}')
        assert response.status_code == 200
        assert _rows(InboxEvent) == []


def test_text_event_is_stored_encrypted_then_answered_by_reply(line_env):
    response = line_env.post(make_line_text_event("出所したけど住むところがない", user_id="U-a"))
    assert response.status_code == 200
    rows = _rows(InboxEvent)
    assert [(r.channel, r.state) for r in rows] == [("line", "pending")]
    assert line_env.fake.requests == []  # the route never calls LINE
    line_env.process()
    assert [r.state for r in _rows(InboxEvent)] == ["done"]
    sends = line_env.fake.sends()
    assert [s.path for s in sends] == ["/v2/bot/message/reply"]
    assert sends[0].body["replyToken"].startswith("reply-token-")
    assert 1 <= len(sends[0].messages) <= 5


def test_golden_fixture_as_is_is_acknowledged(line_env):
    body = FIXTURE.read_bytes()
    response = line_env.post(body=body)
    assert response.status_code == 200
    # all 28 events share one webhookEventId: stored once (research/channels.md §0.10)
    assert len(_rows(InboxEvent)) == 1
    line_env.process()
    assert {r.state for r in _rows(InboxEvent)} == {"done"}


def test_golden_fixture_every_event_type_is_handled(line_env):
    """Each of the SDK's 28 sample events with its own id: 200, and every stored event is processed."""
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    for i, ev in enumerate(data["events"]):
        ev["webhookEventId"] = f"01FIXTURE{i:017d}"
        if "replyToken" in ev:  # the samples share one token; LINE gives each event its own (used once)
            ev["replyToken"] = f"fixture-token-{i}"
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    response = line_env.post(body=body)
    assert response.status_code == 200
    stored = _rows(InboxEvent)
    # 1:1 message/follow/unfollow/postback/unsend are stored; group/room, beacon, unknown… are not
    user_types = {
        ev["type"] for ev in data["events"] if ev.get("source", {}).get("type") == "user" and ev["type"] in {"message", "follow", "unfollow", "postback", "unsend"}
    }
    assert 0 < len(stored) < len(data["events"]) and user_types
    inbox, _outbox = line_env.process()
    assert inbox == len(stored)
    assert {r.state for r in _rows(InboxEvent)} == {"done"}
    assert all(r.status in (200, 409) for r in line_env.fake.requests)


def test_group_message_gets_one_polite_line_and_nothing_is_stored(line_env):
    ev = make_line_text_event("CANARY-前科-9137", source={"type": "group", "groupId": "Cgroup1", "userId": "U-g"})
    response = line_env.post(ev)
    assert response.status_code == 200
    assert _rows(InboxEvent) == [] and _rows(ChannelUser) == [] and _rows(Message) == []
    assert line_env.fake.wait_for(lambda f: len(f.sends()) == 1, timeout=5)
    notice = line_env.fake.sends()[0]
    assert notice.path == "/v2/bot/message/reply"
    assert "1対1" in notice.texts[0]
    # a second message in the same group does not repeat the notice
    line_env.post(make_line_text_event("もう一度", source={"type": "group", "groupId": "Cgroup1", "userId": "U-g"}))
    assert len(line_env.fake.sends()) == 1


def test_duplicate_event_sent_twice_concurrently_is_stored_and_answered_once(line_env):
    ev = make_line_text_event("仕事を探したい", user_id="U-dup")
    redelivered = json.loads(json.dumps(ev))
    redelivered["deliveryContext"]["isRedelivery"] = True
    results: list[int] = []
    barrier = threading.Barrier(2)

    def send(event):
        barrier.wait()
        results.append(line_env.post(event).status_code)

    threads = [threading.Thread(target=send, args=(e,)) for e in (ev, redelivered)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200, 200]
    assert len(_rows(InboxEvent)) == 1
    line_env.process()
    line_env.process()
    inbound = [m for m in _rows(Message) if m.direction == "in"]
    assert len(inbound) == 1
    assert len(line_env.fake.accepted) == 1


def test_standby_and_unknown_events_are_acknowledged_without_storing(line_env):
    standby = make_line_text_event("待機中", mode="standby")
    unknown = make_line_event("somethingNew")
    beacon = make_line_event("beacon", beacon={"hwid": "d41d8cd98f", "type": "enter"})
    response = line_env.post(standby, unknown, beacon)
    assert response.status_code == 200
    assert _rows(InboxEvent) == []


def test_follow_gets_greeting_and_consent_as_quick_replies(line_env):
    line_env.post(make_line_event("follow", user_id="U-new", follow={"isUnblocked": False}))
    line_env.process()
    sends = line_env.fake.sends()
    assert len(sends) == 1
    last = sends[0].messages[-1]
    items = last["quickReply"]["items"]
    assert {i["action"]["data"] for i in items} >= {"c:y", "c:n"}
    assert all(len(i["action"]["label"]) <= 20 for i in items)


def test_unfollow_marks_the_user_inactive_and_refollow_reactivates(line_env):
    line_env.post(make_line_text_event("こんにちは", user_id="U-bye"))
    line_env.process()
    line_env.post(make_line_event("unfollow", user_id="U-bye"))
    line_env.process()
    (user,) = _rows(ChannelUser)
    assert user.active is False
    line_env.post(make_line_event("follow", user_id="U-bye"))
    line_env.process()
    (user,) = _rows(ChannelUser)
    assert user.active is True


def test_events_of_one_user_are_processed_in_timestamp_order(line_env):
    first = make_line_text_event("こんにちは", user_id="U-order", timestamp=1_700_000_000_000)
    second = make_line_postback_event_("c:y", user_id="U-order", timestamp=1_700_000_001_000)
    third = make_line_text_event("仕事を探したい CANARY", user_id="U-order", timestamp=1_700_000_002_000)
    # delivered out of order, in separate requests
    for ev in (third, second, first):
        assert line_env.post(ev).status_code == 200
    line_env.process()
    inbound = sorted((m for m in _rows(Message) if m.direction == "in"), key=lambda m: m.id)
    # consent came before the third message, so only its text is kept
    assert [m.body is not None for m in inbound] == [False, True]
    assert "CANARY" in inbound[1].body


def make_line_postback_event_(data, **kw):
    from tests.builders import make_line_postback_event

    return make_line_postback_event(data, **kw)


def test_database_failure_is_a_5xx_so_line_redelivers(line_env, monkeypatch):
    from bot.pipeline import store

    def broken(batch):
        raise RuntimeError("database is down")

    client = type(line_env.client)(line_env.app, raise_server_exceptions=False)
    body = line_body(make_line_text_event("こんにちは"))
    with monkeypatch.context() as m:
        m.setattr(store, "_store_batch", broken)
        response = client.post("/webhooks/line", content=body, headers={"X-Line-Signature": sign(body, line_env.secret)})
    assert response.status_code >= 500
    assert _rows(InboxEvent) == []


def test_the_database_failure_log_has_no_body(line_env, monkeypatch, caplog):
    from bot.pipeline import store

    def broken(batch):
        raise RuntimeError("database is down")

    body = line_body(make_line_text_event("CANARY-前科-9137"))
    with monkeypatch.context() as m:
        m.setattr(store, "_store_batch", broken)
        response = line_env.post(body=body)
    assert response.status_code == 500
    assert "CANARY" not in caplog.text
    assert any(getattr(r, "error_type", None) == "RuntimeError" for r in caplog.records)


def test_other_methods_are_405_and_other_paths_reach_the_app(line_env):
    assert line_env.client.get("/webhooks/line").status_code == 405
    assert line_env.client.put("/webhooks/line", content=b"{}").status_code == 405
    assert line_env.client.post("/webhooks/line/", content=b"{}").status_code == 404
    assert line_env.client.get("/healthz").status_code == 200


@pytest.mark.parametrize("declared", [True, False])
def test_an_oversized_body_is_413_and_nothing_is_stored(line_env, declared):
    from bot.channels.line.adapter import MAX_BODY_BYTES

    event = make_line_text_event("あ" * (MAX_BODY_BYTES // 3 + 10))
    body = line_body(event)
    headers = {"X-Line-Signature": sign(body, line_env.secret)}
    if declared:
        response = line_env.client.post("/webhooks/line", content=body, headers=headers)
    else:  # streamed without a Content-Length: the limit is enforced while reading
        response = line_env.client.post("/webhooks/line", content=iter([body[:1000], body[1000:]]), headers=headers)
    assert response.status_code == 413
    assert _rows(InboxEvent) == []


def test_loading_animation_is_shown_when_the_user_has_been_waiting(line_env):
    import time as _time

    waited = make_line_text_event("住むところがない", user_id="U-wait", timestamp=int((_time.time() - 5) * 1000))
    line_env.post(waited)
    line_env.process()
    line_env.drive(__import__("asyncio").sleep(0.2))  # the hint is fire-and-forget
    loading = [r for r in line_env.fake.requests if r.path == "/v2/bot/chat/loading/start"]
    assert loading and loading[0].body["chatId"] == "U-wait" and loading[0].body["loadingSeconds"] % 5 == 0
    assert not any(r.path.startswith("/v2/bot/profile") for r in line_env.fake.requests)  # never the profile
