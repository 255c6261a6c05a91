"""Telegram end to end: the real PTB ``Application`` against the local fake Bot API.

Webhook → inbox → engine → outbox → ``sendMessage``, through ``POST /webhooks/telegram`` and
the shared pipeline's ``run_inbox_once`` / ``run_outbox_once`` (workers off, tests drive them
on the app's own event loop via the TestClient portal).
"""
from __future__ import annotations

import functools
import itertools
import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.models import InboxEvent
from core import clock, db
from core.messages import Button, OutMessage
from core.models import ChannelUser, Consent, Message, OutboxMessage
from tests.fakes.telegram_api import FakeBotAPI

SECRET = "test-secret_0123456789"
CHAT = 4242
_ids = itertools.count(5000)


# ------------------------------------------------------------------------------- builders
def tg_message(text: str | None = "こんにちは", *, chat_id: int = CHAT, chat_type: str = "private", update_id: int | None = None, **extra) -> dict:
    """A private-chat text update with a display name and username (which must never be stored)."""
    n = next(_ids)
    chat = {"id": chat_id, "type": chat_type}
    chat.update({"first_name": "CANARY名前", "username": "canary_user"} if chat_type == "private" else {"title": "CANARY group"})
    message = {
        "message_id": n,
        "date": int(clock.now().timestamp()),
        "chat": chat,
        "from": {"id": chat_id if chat_type == "private" else 777, "is_bot": False, "first_name": "CANARY名前", "last_name": "姓", "username": "canary_user", "language_code": "ja"},
    }
    if text is not None:
        message["text"] = text
    message.update(extra)
    return {"update_id": update_id if update_id is not None else n, "message": message}


def tg_callback(data: str, *, chat_id: int = CHAT, update_id: int | None = None, query_id: str | None = None, chat_type: str = "private") -> dict:
    n = next(_ids)
    return {
        "update_id": update_id if update_id is not None else n,
        "callback_query": {
            "id": query_id or f"cbq-{n}",
            "chat_instance": "ci-1",
            "from": {"id": chat_id, "is_bot": False, "first_name": "CANARY名前", "username": "canary_user"},
            "data": data,
            "message": {"message_id": n, "date": int(clock.now().timestamp()), "chat": {"id": chat_id, "type": chat_type}, "text": "…"},
        },
    }


# ------------------------------------------------------------------------------- environment
@dataclass
class TelegramEnv:
    app: object
    client: object
    fake: FakeBotAPI

    @property
    def adapter(self):
        return self.app.state.telegram

    def post(self, update: dict, *, secret: str | None = SECRET):
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret.encode("utf-8")  # type: ignore[assignment]
        return self.client.post("/webhooks/telegram", content=json.dumps(update, ensure_ascii=False).encode(), headers=headers)

    def call(self, fn, *args, **kwargs):
        """Runs a coroutine function on the app's event loop (where PTB's client lives)."""
        return self.client.portal.call(functools.partial(fn, *args, **kwargs))

    def process(self) -> tuple[int, int]:
        from bot import pipeline

        return self.call(pipeline.run_inbox_once), self.call(pipeline.run_outbox_once)

    def sent(self, chat_id: int = CHAT) -> list[dict]:
        return [c for c in self.fake.calls_to("sendMessage") if str(c.get("chat_id")) == str(chat_id)]


def _rows(model):
    with db.session_scope() as s:
        return list(s.exec(select(model)).all())


def _mount_pipeline_and_telegram(app, settings):
    # why not every room: these tests are about the channel; the browser test runs the whole app
    from bot import pipeline
    from bot.channels import telegram, web

    pipeline.install(app, settings)
    web.install(app, settings)
    telegram.install(app, settings)


@pytest.fixture
def tg(settings, monkeypatch):
    from fastapi.testclient import TestClient

    from bot import pipeline
    from bot.app import create_app
    from core.settings import get_settings

    with FakeBotAPI() as fake:
        monkeypatch.setenv("RISTAPO_TELEGRAM_TOKEN", fake.token)
        monkeypatch.setenv("RISTAPO_TELEGRAM_SECRET", SECRET)
        monkeypatch.setenv("RISTAPO_TELEGRAM_API_BASE", fake.base_url)
        monkeypatch.setenv("RISTAPO_RUN_WORKERS", "0")
        monkeypatch.setattr("bot.app.mount_rooms", _mount_pipeline_and_telegram)
        get_settings.cache_clear()
        app = create_app(get_settings())
        try:
            with TestClient(app) as client:  # the lifespan starts the PTB Application (getMe)
                yield TelegramEnv(app, client, fake)
        finally:
            clock.freeze(None)
            pipeline.unregister_adapter("telegram")
            get_settings.cache_clear()


# ------------------------------------------------------------------------------- webhook
def test_the_application_starts_against_the_fake(tg):
    assert tg.fake.methods()[0] == "getMe"
    assert tg.app.state.telegram.application.running


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET + "x", "ひみつ"])
def test_missing_or_wrong_secret_is_403_and_nothing_is_stored(tg, secret):
    r = tg.post(tg_message("住むところがない"), secret=secret)
    assert r.status_code == 403
    assert _rows(InboxEvent) == []
    tg.process()
    assert tg.fake.methods() == ["getMe"]


def test_text_is_stored_then_answered_with_inline_buttons(tg):
    r = tg.post(tg_message("出所したけど住むところがない"))
    assert r.status_code == 200
    assert [(e.channel, e.state) for e in _rows(InboxEvent)] == [("telegram", "pending")]
    assert tg.sent() == []  # the route never talks to Telegram for a private text
    inbox, outbox = tg.process()
    assert (inbox, outbox) == (1, 1)
    sent = tg.sent()
    assert len(sent) >= 2  # the answer, then the consent question
    buttons = [b for c in sent for row in (c.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
    data = [b["callback_data"] for b in buttons]
    assert "c:y" in data and "c:n" in data and "h" in data
    assert all(d.isascii() and len(d.encode()) <= 64 for d in data)
    assert [o.state for o in _rows(OutboxMessage)] == ["delivered"]


def test_display_name_and_username_are_never_stored(tg):
    tg.post(tg_message("仕事を探したい"))
    stored = _rows(InboxEvent)[0].payload
    assert stored and "CANARY" not in stored and "canary_user" not in stored and "姓" not in stored
    assert "仕事を探したい" in stored
    tg.process()
    for user in _rows(ChannelUser):
        assert "CANARY" not in (user.pseudonym or "") and user.platform_id == str(CHAT)


def test_duplicate_update_id_is_processed_once(tg):
    update = tg_message("仕事を探したい")
    assert tg.post(update).status_code == 200
    assert tg.post(update).status_code == 200  # Telegram retried: same update_id
    assert len(_rows(InboxEvent)) == 1
    tg.process()
    tg.process()
    assert len([m for m in _rows(Message) if m.direction == "in"]) == 1
    assert len(_rows(OutboxMessage)) == 1


def test_update_id_lower_than_the_last_seen_is_still_processed(tg):
    # after a quiet week Telegram picks the next id at random: it can be far lower
    tg.post(tg_message("こんにちは", update_id=900_000))
    tg.process()
    tg.post(tg_message("仕事を探したい", update_id=17))
    tg.process()
    assert sorted(e.state for e in _rows(InboxEvent)) == ["done", "done"]
    assert len([m for m in _rows(Message) if m.direction == "in"]) == 2
    assert len(_rows(OutboxMessage)) == 2


def test_callback_query_is_answered_and_handled_as_a_button(tg):
    tg.post(tg_message("こんにちは"))
    tg.process()
    r = tg.post(tg_callback("c:y", query_id="cbq-consent"))
    assert r.status_code == 200
    assert [c["callback_query_id"] for c in tg.fake.calls_to("answerCallbackQuery")] == ["cbq-consent"]
    # the consent question's buttons go away so it cannot be answered twice from the old message
    edits = tg.fake.calls_to("editMessageReplyMarkup")
    assert len(edits) == 1 and edits[0]["chat_id"] == str(CHAT) and "reply_markup" not in edits[0]
    tg.process()
    assert [(c.choice, c.channel) for c in _rows(Consent)] == [("given", "telegram")]
    assert "ありがとうございます" in tg.sent()[-1]["text"]


def test_callback_query_is_answered_even_when_the_turn_is_silent(tg):
    # a person owns the chat after the hand-off: the bot says nothing, the spinner still stops
    tg.post(tg_callback("h"))
    tg.process()
    from handoff.models import Ticket

    with db.session_scope() as s:  # a staff member claims the ticket (while it waits, the bot still answers)
        for t in s.exec(select(Ticket)).all():
            t.state, t.assignee_id = "claimed", 1
            s.add(t)
    tg.fake.clear()
    tg.post(tg_callback("m", query_id="cbq-silent"))
    tg.process()
    assert [c["callback_query_id"] for c in tg.fake.calls_to("answerCallbackQuery")] == ["cbq-silent"]
    assert tg.sent() == []
    assert tg.fake.calls_to("editMessageReplyMarkup") == []  # a menu button is not a one-time question


def test_start_command_greets_and_asks_for_consent(tg):
    tg.post(tg_message("/start"))
    tg.process()
    sent = tg.sent()
    assert "同意" in sent[-1]["text"]
    data = [b["callback_data"] for row in sent[-1]["reply_markup"]["inline_keyboard"] for b in row]
    assert data[:2] == ["c:y", "c:n"]


def test_a_photo_gets_text_only_and_its_content_is_not_stored(tg):
    tg.post(tg_message(None, photo=[{"file_id": "CANARY-file", "file_unique_id": "u", "width": 1, "height": 1}], caption="CANARY caption"))
    stored = _rows(InboxEvent)[0].payload
    assert "CANARY" not in stored
    tg.process()
    assert "文字" in tg.sent()[-1]["text"]


def test_group_message_gets_one_polite_line_and_is_not_stored(tg):
    group = -100123
    r = tg.post(tg_message("CANARY-前科-9137", chat_id=group, chat_type="supergroup"))
    assert r.status_code == 200
    assert _rows(InboxEvent) == [] and _rows(ChannelUser) == []
    lines = tg.sent(group)
    assert len(lines) == 1 and "1対1" in lines[0]["text"]
    tg.post(tg_message("もう一度", chat_id=group, chat_type="group"))
    assert len(tg.sent(group)) == 1  # not repeated
    tg.process()
    assert _rows(Message) == []


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"no_update_id": 1}'])
def test_a_body_that_is_not_an_update_is_400(tg, body):
    r = tg.client.post("/webhooks/telegram", content=body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert r.status_code == 400
    assert _rows(InboxEvent) == []


def test_an_update_of_unexpected_shape_is_acknowledged_and_dropped(tg):
    r = tg.post({"update_id": 99, "message": {"message_id": 1, "chat": "oops"}})
    assert r.status_code == 200
    assert _rows(InboxEvent) == []


def test_update_kinds_we_do_not_serve_are_acknowledged_without_storing(tg):
    edited = tg_message("CANARY-前科-9137")
    edited["edited_message"] = edited.pop("message")
    assert tg.post(edited).status_code == 200
    assert _rows(InboxEvent) == []


# ------------------------------------------------------------------------------- delivery
def test_429_is_delivered_after_retry_after_and_only_once(tg):
    t0 = clock.now()
    clock.freeze(t0)
    tg.fake.fail("sendMessage", 429, retry_after=3)
    tg.post(tg_message("仕事を探したい"))
    tg.process()
    row = _rows(OutboxMessage)[0]
    assert row.state == "pending" and row.attempts == 1
    assert row.next_try_at >= t0 + timedelta(seconds=3)  # Telegram's retry_after is honoured
    assert len(tg.fake.calls_to("sendMessage")) == 1  # only the refused call

    clock.freeze(t0 + timedelta(seconds=2))  # before the wait: nothing is tried
    tg.process()
    assert len(tg.fake.calls_to("sendMessage")) == 1

    clock.freeze(row.next_try_at)
    tg.process()
    assert _rows(OutboxMessage)[0].state == "delivered"
    delivered = tg.fake.calls_to("sendMessage")[1:]
    texts = [c["text"] for c in delivered]
    assert texts and len(texts) == len(set(texts))  # every part exactly once

    clock.freeze(row.next_try_at + timedelta(minutes=30))
    tg.process()
    assert tg.fake.calls_to("sendMessage")[1:] == delivered


def test_403_marks_the_user_inactive_and_stops_retrying(tg):
    tg.fake.fail("sendMessage", 403)
    tg.post(tg_message("仕事を探したい"))
    tg.process()
    assert [u.active for u in _rows(ChannelUser)] == [False]
    assert [o.state for o in _rows(OutboxMessage)] == ["failed"]
    clock.freeze(clock.now() + timedelta(hours=1))
    tg.process()
    assert len(tg.fake.calls_to("sendMessage")) == 1


def test_server_error_is_retried_and_bad_request_is_final(tg):
    tg.fake.fail("sendMessage", 500)
    tg.post(tg_message("仕事を探したい"))
    tg.process()
    row = _rows(OutboxMessage)[0]
    assert row.state == "pending" and row.last_error
    clock.freeze(row.next_try_at)
    tg.process()
    assert _rows(OutboxMessage)[0].state == "delivered"

    tg.fake.fail("sendMessage", 400)
    tg.post(tg_message("家族のことで相談したい"))
    tg.process()
    states = sorted(o.state for o in _rows(OutboxMessage))
    assert states == ["delivered", "failed"]


def test_long_text_is_split_at_4096_and_the_buttons_ride_on_the_last_part(tg):
    body = ("ながい説明の行です。" * 30 + "\n") * 30  # about 9,300 characters
    msg = OutMessage("text", body, buttons=[Button("人と話したい", "h")])
    result = tg.call(tg.adapter.send, str(CHAT), [msg], retry_key="long-1", reply_token=None, reply_deadline=None)
    assert result.outcome.value == "delivered"
    parts = tg.sent()
    assert len(parts) == 3
    assert all(len(p["text"]) <= 4096 for p in parts)
    assert "".join(p["text"] + "\n" for p in parts).strip() == body.strip()
    assert [("reply_markup" in p) for p in parts] == [False, False, True]


def test_a_retried_multi_part_send_never_repeats_a_delivered_part(tg):
    parts = [OutMessage("text", f"第{i}部") for i in range(3)]
    tg.fake.fail("sendMessage", 429, retry_after=1, after=1)  # part 0 goes through, part 1 is refused
    send = functools.partial(tg.call, tg.adapter.send, str(CHAT), parts, retry_key="multi", reply_token=None, reply_deadline=None)
    first = send()
    assert first.outcome.value == "retry" and first.retry_after == 1 and first.parts_sent == 1
    assert send(parts_sent=first.parts_sent).outcome.value == "delivered"
    assert [c["text"] for c in tg.sent()] == ["第0部", "第1部", "第1部", "第2部"]  # 第1部 refused once


def test_a_multi_part_retry_resumes_from_the_outbox_row_in_any_process(tg):
    """The progress of a multi-part send lives in the outbox row, not in the adapter's memory."""
    from bot import pipeline
    from bot.service import get_or_create_user
    from core import db
    from core.models import OutboxMessage
    from core.outbox import enqueue

    with db.session_scope() as s:
        user = get_or_create_user(s, "telegram", str(CHAT))
        oid = enqueue(s, user=user, messages=[OutMessage("text", "あ" * 5000)]).id  # two calls
    tg.fake.fail("sendMessage", 500, after=1)  # the first part goes, the second fails
    tg.call(pipeline.run_outbox_once)
    with db.session_scope() as s:
        row = s.get(OutboxMessage, oid)
        assert (row.state, row.parts_sent) == ("pending", 1)
        row.next_try_at = row.created_at  # due now
    tg.call(pipeline.run_outbox_once)
    sent = [c["text"] for c in tg.sent()]
    assert len(sent) == 3 and sent[1] == sent[2] and sent[0] != sent[1], "part 1 once, part 2 retried once"
    with db.session_scope() as s:
        assert s.get(OutboxMessage, oid).state == "delivered"


def test_set_webhook_registers_url_secret_and_allowed_updates(tg, capsys):
    from bot.cli import main

    assert main(["telegram", "set-webhook", "https://ristapo.example.jp"]) == 0
    hook = tg.fake.webhook
    assert hook["url"] == "https://ristapo.example.jp/webhooks/telegram"
    assert hook["secret_token"] == SECRET
    assert hook["allowed_updates"] == ["message", "callback_query"]
    assert "webhook set" in capsys.readouterr().out
