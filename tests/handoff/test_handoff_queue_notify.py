"""The hand-off queue: erasure and disclosure, notifications, and the full path over LINE.

Runs on SQLite and (when RISTAPO_TEST_POSTGRES_URL is set) PostgreSQL: see conftest.
"""
from __future__ import annotations

import json

import pytest

from core.models import ChannelUser, Message, OutboxMessage
from handoff.models import Ticket, TicketNote
from tests.conftest import CANARY
from tests.fakes.line_api import line_api, line_api_server, line_env  # noqa: F401  (fixtures)
from tests.handoff.queue_helpers import app, get, rows, staff  # noqa: F401  (fixtures)
from tests.staff_helpers import (
    audit_actions,
    cheap_argon2,  # noqa: F401  (autouse fixture)
    client_for,
    hand_off,
    make_staff,
)

# --- erasure and disclosure ----------------------------------------------------------------------

def test_staff_and_admin_erasure_and_disclosure_are_audited(app, staff, chat):
    _id, client = staff
    admin_id, _ = make_staff("boss", ["admin"])
    boss = client_for(app, admin_id)
    ticket_id = hand_off(chat)
    chat.say(f"わたしの話 {CANARY}")
    client.post(f"/admin/api/tickets/{ticket_id}/notes", json={"body": f"メモ {CANARY}"})
    user = rows(ChannelUser)[0]

    found = boss.get("/admin/api/users", params={"pseudonym": user.pseudonym}).json()
    assert [u["id"] for u in found] == [user.id] and "platform_id" not in found[0]
    assert boss.get(f"/admin/api/users/{user.id}/export").status_code == 403  # transcripts: staff only
    export = client.get(f"/admin/api/users/{user.id}/export")
    assert export.status_code == 200 and "attachment" in export.headers["content-disposition"]
    data = export.json()
    assert CANARY in json.dumps(data, ensure_ascii=False)
    assert "user-1" not in json.dumps(data) and user.user_hash not in json.dumps(data)

    assert client.post(f"/admin/api/tickets/{ticket_id}/erase-user").status_code == 200
    assert not any(m.body and CANARY in m.body for m in rows(Message))
    assert rows(TicketNote) == []
    assert boss.post(f"/admin/api/users/{user.id}/erase").status_code == 200
    assert boss.post("/admin/api/users/99999/erase").status_code == 404
    assert audit_actions("user.") == ["user.export", "user.erase", "user.erase"]


# --- notifications -------------------------------------------------------------------------------

def test_new_tickets_reach_the_webhook_without_message_text(settings, chat, monkeypatch):
    from handoff import events

    sent: list[tuple[str, dict]] = []
    events.install_webhook("https://chat.example/hook", "https://ristapo.example/admin", post=lambda url, p: sent.append((url, p)))
    try:
        chat.say(f"もう死にたい {CANARY}")
    finally:
        events.install_webhook(None, "")
    assert len(sent) == 1
    url, payload = sent[0]
    assert url == "https://chat.example/hook"
    assert payload["kind"] == "ticket_created" and payload["crisis"] is True and "【緊急】" in payload["text"]
    assert CANARY not in json.dumps(payload, ensure_ascii=False) and "相談者" not in json.dumps(payload, ensure_ascii=False)


async def test_event_stream_carries_ids_only_and_stops_when_the_session_ends():
    import asyncio

    from handoff import events, notify

    allowed = {"yes": True}

    async def connected() -> bool:
        return False

    stream = events.event_stream(connected, lambda: allowed["yes"], heartbeat=0.05)
    assert await stream.__anext__() == "retry: 5000\n\n"
    nxt = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0)
    notify._deliver("ticket_created", {"ticket_id": 7, "urgent": True, "crisis": False, "text": CANARY})
    line = await asyncio.wait_for(nxt, 1)
    assert line.startswith("event: ticket_created\n") and '"ticket_id": 7' in line and CANARY not in line
    assert await asyncio.wait_for(stream.__anext__(), 1) == ": keep-alive\n\n"
    allowed["yes"] = False
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(stream.__anext__(), 1)


def test_intake_labels_match_the_bot_questions():
    from bot.texts import INTAKE_STEPS
    from handoff.intake import INTAKE_LABELS

    assert {step: {v: label for label, v in options} for step, _q, options in INTAKE_STEPS} == INTAKE_LABELS


def test_full_path_over_line_staff_reply_is_pushed_by_the_delivery_worker(line_env):
    """User asks on LINE → hand-off → staff claims and replies → push via the fake LINE API → close → bot again."""
    from tests.builders import make_line_postback_event, make_line_text_event

    def say(text: str) -> None:
        assert line_env.post(make_line_text_event(text, user_id="U-path")).status_code == 200
        line_env.process()

    def press(data: str) -> None:
        assert line_env.post(make_line_postback_event(data, user_id="U-path")).status_code == 200
        line_env.process()

    say("こんにちは")
    press("c:y")
    press("h")
    for _ in range(4):
        press("i:skip")
    ticket_id = rows(Ticket)[-1].id
    staff_id, _ = make_staff("sato", ["staff"])
    client = client_for(line_env.app, staff_id)
    assert client.post(f"/admin/api/tickets/{ticket_id}/claim").status_code == 200

    before = len(line_env.fake.sends())
    say("まだですか")
    assert len(line_env.fake.sends()) == before  # the bot stays silent while staff own the chat

    r = client.post(f"/admin/api/tickets/{ticket_id}/reply", json={"text": "担当の佐藤です。お待たせしました。"})
    outbox_id = r.json()["outbox_id"]
    line_env.process()
    pushed = [s for s in line_env.fake.sends() if s.path == "/v2/bot/message/push"]
    assert len(pushed) == 1
    assert pushed[0].body["to"] == "U-path" and pushed[0].retry_key == outbox_id
    assert any("担当の佐藤です" in t for t in pushed[0].texts)
    assert get(OutboxMessage, outbox_id).state == "delivered"

    assert client.post(f"/admin/api/tickets/{ticket_id}/close", json={"outcome": "情報提供"}).status_code == 200
    line_env.process()
    n = len(line_env.fake.sends())
    say("仕事を探したい")
    answered = line_env.fake.sends()[n:]
    assert answered and answered[0].path == "/v2/bot/message/reply"  # the bot answers again
