"""The hand-off queue through the admin API: the claim race, priority, access, replies, closing.

Runs on SQLite and (when RISTAPO_TEST_POSTGRES_URL is set) PostgreSQL: see conftest.
"""
from __future__ import annotations

import json
import threading
from datetime import UTC

import pytest
from sqlmodel import select

from core import db
from core.models import ChannelUser, Consent, Conversation, Message, OutboxMessage
from core.outbox import payload_messages
from handoff.models import Ticket, TicketNote
from tests.conftest import CANARY, ChatDriver
from tests.staff_helpers import (
    audit_actions,
    cheap_argon2,  # noqa: F401  (autouse fixture)
    client_for,
    hand_off,
    make_api_app,
    make_staff,
)


def rows(model):
    with db.session_scope() as s:
        return list(s.exec(select(model)).all())


def get(model, id_):
    with db.session_scope() as s:
        return s.get(model, id_)


@pytest.fixture
def app(settings, shared_runtime):
    return make_api_app(settings, shared_runtime)


@pytest.fixture
def staff(app):
    staff_id, _ = make_staff("sato", ["staff"])
    return staff_id, client_for(app, staff_id)


def outbox_of(ticket_id: int, sender: str | None = None) -> list[OutboxMessage]:
    t = get(Ticket, ticket_id)
    out = [r for r in rows(OutboxMessage) if r.user_id == t.user_id]
    return [r for r in out if sender is None or r.sender == sender]


# --- the race ------------------------------------------------------------------------------------

def test_fifty_parallel_claims_have_exactly_one_winner(app, chat):
    ticket_id = hand_off(chat)
    people = [make_staff(f"staff{i}", ["staff"])[0] for i in range(5)]
    clients = [client_for(app, people[i % 5]) for i in range(50)]
    barrier = threading.Barrier(50)
    results: list[tuple[int, int]] = []
    lock = threading.Lock()

    def claim(i: int) -> None:
        barrier.wait()
        r = clients[i].post(f"/admin/api/tickets/{ticket_id}/claim")
        with lock:
            results.append((r.status_code, people[i % 5]))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(s for s, _ in results)
    assert statuses == [200] + [409] * 49
    winner = next(p for s, p in results if s == 200)
    ticket = get(Ticket, ticket_id)
    assert ticket.state == "claimed" and ticket.assignee_id == winner
    assert audit_actions("ticket.claim") == ["ticket.claim"]


# --- priority and views --------------------------------------------------------------------------

def test_queue_is_crisis_first_then_urgent_then_longest_waiting(app, shared_runtime):
    from datetime import datetime, timedelta

    from core import clock

    t0 = datetime(2027, 1, 13, 1, 0, tzinfo=UTC)
    made = {}
    try:
        for i, (name, how) in enumerate([("old", "normal"), ("newer", "normal"), ("urgent", "urgent"), ("crisis", "crisis")]):
            clock.freeze(t0 + timedelta(minutes=i))
            c = ChatDriver(shared_runtime, user=name)
            if how == "crisis":
                c.say("もう死にたい")
            else:
                c.say("こんにちは")
                c.press("c:y")
                c.press("h")
                c.press("i:who:skip")
                c.press("i:need:skip")
                c.press("i:urgency:tonight" if how == "urgent" else "i:urgency:skip")
                c.press("i:contact:skip")
            made[name] = rows(Ticket)[-1].id
        clock.freeze(t0 + timedelta(minutes=30))
        client = client_for(app, make_staff("sato", ["staff"])[0])
        queue = client.get("/admin/api/tickets").json()
    finally:
        clock.freeze(None)
    assert [q["id"] for q in queue] == [made["crisis"], made["urgent"], made["old"], made["newer"]]
    assert queue[0]["crisis"] and queue[1]["urgent"] and not queue[2]["urgent"]
    assert queue[2]["waiting_minutes"] == 30
    assert queue[1]["intake_summary"] == ["今夜泊まる所がない"]
    for q in queue:
        assert q["pseudonym"].startswith("相談者 ") and q["channel"] == "web"
        assert set(q) >= {"consent_a", "consent_b", "tags", "unread"}
        assert "text" not in q and "user_hash" not in q and "platform_id" not in q


def test_views_mine_waiting_and_closed_today(app, staff, chat):
    staff_id, client = staff
    ticket_id = hand_off(chat)
    assert [q["id"] for q in client.get("/admin/api/tickets?view=waiting").json()] == [ticket_id]
    assert client.get("/admin/api/tickets?view=mine").json() == []
    client.post(f"/admin/api/tickets/{ticket_id}/claim")
    assert [q["id"] for q in client.get("/admin/api/tickets?view=mine").json()] == [ticket_id]
    assert client.get("/admin/api/tickets?view=waiting").json() == []
    client.post(f"/admin/api/tickets/{ticket_id}/close", json={"outcome": "情報提供"})
    closed = client.get("/admin/api/tickets?view=closed_today").json()
    assert [(q["id"], q["outcome"]) for q in closed] == [(ticket_id, "情報提供")]
    assert client.get("/admin/api/tickets?view=everything").status_code == 422


# --- access --------------------------------------------------------------------------------------

def ticket_routes():
    from admin.api import ROUTES

    return [r for r in ROUTES if "{ticket_id}" in r.path]


def test_other_roles_get_no_ticket_content_on_any_id_route(app, chat):
    ticket_id = hand_off(chat)
    chat.say(f"相談の内容 {CANARY}")
    pseudonym = rows(ChannelUser)[0].pseudonym
    for roles in (["editor"], ["admin"], ["admin", "editor"]):
        person, _ = make_staff("-".join(roles) + "x", roles)
        client = client_for(app, person)
        for spec in ticket_routes():
            for tid in (ticket_id, ticket_id + 1000):
                r = client.request(spec.method, "/admin/api" + spec.path.format(ticket_id=tid), json={})
                assert r.status_code in (403, 404), (spec.path, roles, r.status_code)
                assert r.json() == {"detail": "forbidden"}
                assert CANARY not in r.text and pseudonym not in r.text


def test_the_gatekeeper_hides_whether_a_ticket_exists(app, chat):
    from admin.deps import actor_for
    from admin.models import StaffUser
    from handoff.actions import TicketNotFound, access_ticket_by_id
    from tests.staff_helpers import make_staff as mk

    ticket_id = hand_off(chat)
    editor_id, _ = mk("eddie", ["editor"])
    staff_id, _ = mk("sara", ["staff"])
    with db.session_scope() as s:
        editor = actor_for(s.get(StaffUser, editor_id), None)
        staffer = actor_for(s.get(StaffUser, staff_id), None)
        for actor, tid in ((editor, ticket_id), (editor, 99999), (staffer, 99999)):
            with pytest.raises(TicketNotFound) as err:
                access_ticket_by_id(s, actor, tid)
            assert err.value.status == 404 and err.value.message == "見つかりません。"
        assert access_ticket_by_id(s, staffer, ticket_id).id == ticket_id


def test_smuggled_fields_are_rejected(app, staff, chat):
    staff_id, client = staff
    admin_id, _ = make_staff("boss", ["admin"])
    boss = client_for(app, admin_id)
    ticket_id = hand_off(chat)
    client.post(f"/admin/api/tickets/{ticket_id}/claim")
    r = client.post(f"/admin/api/tickets/{ticket_id}/reply", json={"text": "こんにちは", "assignee_id": 99})
    assert r.status_code == 422
    r = client.post(f"/admin/api/tickets/{ticket_id}/close", json={"outcome": "情報提供", "state": "waiting"})
    assert r.status_code == 422
    r = boss.patch(f"/admin/api/staff/{staff_id}", json={"display_name": "x", "role": "admin"})
    assert r.status_code == 422
    r = boss.post("/admin/api/staff", json={"username": "newbie", "roles": ["staff"], "is_admin": True})
    assert r.status_code == 422
    r = boss.post("/admin/api/canned-replies", json={"title": "t", "body": "b", "updated_by": 1})
    assert r.status_code == 422
    assert get(Ticket, ticket_id).assignee_id == staff_id


# --- reply / silence / close ---------------------------------------------------------------------

def test_reply_needs_the_claim(app, staff, chat):
    staff_id, client = staff
    other_id, _ = make_staff("kato", ["staff"])
    other = client_for(app, other_id)
    ticket_id = hand_off(chat)
    r = client.post(f"/admin/api/tickets/{ticket_id}/reply", json={"text": "返事です"})
    assert r.status_code == 409 and r.json()["code"] == "not_claimed"
    client.post(f"/admin/api/tickets/{ticket_id}/claim")
    r = other.post(f"/admin/api/tickets/{ticket_id}/reply", json={"text": "横から"})
    assert r.status_code == 409 and r.json()["code"] == "not_assignee"
    assert outbox_of(ticket_id, "staff") == []


def test_reply_without_consent_is_sent_but_not_kept(app, staff, chat):
    staff_id, client = staff
    chat.say("こんにちは")
    chat.press("c:n")
    chat.press("h")
    ticket_id = rows(Ticket)[0].id
    client.post(f"/admin/api/tickets/{ticket_id}/claim")
    r = client.post(f"/admin/api/tickets/{ticket_id}/reply", json={"text": f"職員です {CANARY}"})
    assert r.status_code == 200
    sent = outbox_of(ticket_id, "staff")
    assert len(sent) == 1 and CANARY in payload_messages(sent[0])[0].text
    staff_msgs = [m for m in rows(Message) if m.sender == "staff"]
    assert len(staff_msgs) == 1 and staff_msgs[0].body is None and staff_msgs[0].outbox_id == sent[0].id


def test_full_path_web_user_to_staff_and_back_to_the_bot(app, staff, chat):
    """User asks → hand-off → staff claims → reply reaches the outbox → bot silent → close → bot again."""
    staff_id, client = staff
    chat.say("こんにちは")
    chat.press("c:y")
    chat.say("更生保護施設ってどんなところ")
    ticket_id = hand_off_from_here(chat)
    assert client.post(f"/admin/api/tickets/{ticket_id}/claim").status_code == 200

    assert chat.say(f"まだですか {CANARY}") == []  # the bot stays silent while staff own the chat
    assert get(Ticket, ticket_id).unread == 1

    r = client.post(f"/admin/api/tickets/{ticket_id}/reply", json={"text": "担当の佐藤です。お話を聞かせてください。"})
    outbox_id = r.json()["outbox_id"]
    row = get(OutboxMessage, outbox_id)
    assert row.channel == "web" and row.sender == "staff" and row.staff_id == staff_id
    assert row.user_id == get(Ticket, ticket_id).user_id
    assert payload_messages(row)[0].text == "担当の佐藤です。お話を聞かせてください。"

    detail = client.get(f"/admin/api/tickets/{ticket_id}").json()
    texts = [(i["sender"], i["text"]) for i in detail["transcript"]]
    assert ("user", f"まだですか {CANARY}") in texts
    assert ("staff", "担当の佐藤です。お話を聞かせてください。") in texts
    answers = [i for i in detail["transcript"] if i["kind"] == "answer"]
    assert answers and answers[0]["entry_id"] and answers[0]["entry_version"] >= 1
    assert detail["ticket"]["consent_a"] == "given" and detail["ticket"]["unread"] == 0
    assert answers[0]["entry_id"] in [t["entry_id"] for t in detail["answered_topics"]]
    assert "platform_id" not in json.dumps(detail) and "user-1" not in json.dumps(detail, ensure_ascii=False)

    r = client.post(f"/admin/api/tickets/{ticket_id}/close", json={"outcome": "機関につないだ"})
    assert r.status_code == 200 and r.json()["state"] == "closed"
    conv = rows(Conversation)[0]
    assert conv.state == "ready" and conv.current_ticket_id is None
    out = chat.say("仕事を探したい")
    assert any(m.kind == "answer" for m in out)  # the bot answers again
    assert audit_actions("ticket.") == ["ticket.claim", "ticket.reply", "ticket.read", "ticket.close"]


def hand_off_from_here(chat) -> int:
    chat.press("h")
    for _ in range(4):
        chat.press("i:skip")
    return rows(Ticket)[-1].id


def test_release_transfer_and_return_to_bot(app, staff, chat):
    staff_id, client = staff
    other_id, _ = make_staff("kato", ["staff"])
    editor_id, _ = make_staff("eddie", ["editor"])
    other = client_for(app, other_id)
    ticket_id = hand_off(chat)
    client.post(f"/admin/api/tickets/{ticket_id}/claim")
    assert client.post(f"/admin/api/tickets/{ticket_id}/release").json()["state"] == "waiting"
    assert client.post(f"/admin/api/tickets/{ticket_id}/release").status_code == 409
    client.post(f"/admin/api/tickets/{ticket_id}/claim")
    assert client.post(f"/admin/api/tickets/{ticket_id}/transfer", json={"staff_id": editor_id}).status_code == 400
    r = client.post(f"/admin/api/tickets/{ticket_id}/transfer", json={"staff_id": other_id})
    assert r.json()["assignee_id"] == other_id
    assert client.post(f"/admin/api/tickets/{ticket_id}/reply", json={"text": "x"}).status_code == 409
    colleagues = client.get("/admin/api/colleagues").json()
    assert {c["id"] for c in colleagues} == {staff_id, other_id}
    r = other.post(f"/admin/api/tickets/{ticket_id}/return-to-bot", json={})
    assert r.json()["state"] == "returned_to_bot"
    assert rows(Conversation)[0].state == "ready"
    assert any(m.kind == "answer" for m in chat.say("仕事を探したい"))
    assert audit_actions("ticket.") == ["ticket.claim", "ticket.release", "ticket.claim", "ticket.transfer", "ticket.return_to_bot"]


def test_close_needs_a_known_outcome_code(app, staff, chat):
    _id, client = staff
    ticket_id = hand_off(chat)
    client.post(f"/admin/api/tickets/{ticket_id}/claim")
    assert client.post(f"/admin/api/tickets/{ticket_id}/close", json={"outcome": "done"}).status_code == 422
    for code in ("情報提供", "機関につないだ", "継続", "その他"):
        from handoff.models import Outcome

        assert Outcome(code)
    r = client.post(f"/admin/api/tickets/{ticket_id}/close", json={"outcome": "継続", "tell_user": False})
    assert r.json()["outcome"] == "継続"
    assert [r.sender for r in outbox_of(ticket_id) if r.sender != "bot"] == []


def test_notes_and_tags(app, staff, chat):
    _id, client = staff
    other_id, _ = make_staff("kato", ["staff"])
    ticket_id = hand_off(chat)
    r = client_for(app, other_id).post(f"/admin/api/tickets/{ticket_id}/notes", json={"body": f"電話で確認する {CANARY}"})
    assert r.status_code == 200
    assert client.put(f"/admin/api/tickets/{ticket_id}/tags", json={"tags": ["住まい", "家族"]}).json()["tags"] == ["住まい", "家族"]
    assert client.put(f"/admin/api/tickets/{ticket_id}/tags", json={"tags": ["a,b"]}).status_code == 400
    detail = client.get(f"/admin/api/tickets/{ticket_id}").json()
    assert detail["notes"][0]["body"] == f"電話で確認する {CANARY}" and detail["notes"][0]["staff_name"] == "Kato"
    assert all(r.user_id != get(Ticket, ticket_id).user_id or CANARY not in (r.payload or "") for r in rows(OutboxMessage))
    # the note is encrypted at rest
    url = str(db.engine().url)
    if url.startswith("sqlite:///"):
        assert CANARY.encode() not in open(url.split("///", 1)[1], "rb").read()
    assert audit_actions("ticket.") == ["ticket.note", "ticket.tags", "ticket.read"]


# --- consent B and referral ----------------------------------------------------------------------

def test_referral_needs_consent_b_asked_through_the_bot(app, staff, chat):
    _id, client = staff
    ticket_id = hand_off(chat)
    client.post(f"/admin/api/tickets/{ticket_id}/claim")
    org = {"organisation": "○○市 自立相談支援機関"}
    r = client.post(f"/admin/api/tickets/{ticket_id}/referral", json=org)
    assert r.status_code == 409 and r.json()["code"] == "consent_b_missing"

    assert client.post(f"/admin/api/tickets/{ticket_id}/consent-b", json=org).json()["consent_b"] == "requested"
    asked = [m for r in outbox_of(ticket_id) for m in payload_messages(r) if m.kind == "consent"][-1]
    assert "○○市 自立相談支援機関" in asked.text
    yes = next(b.action for b in asked.buttons if b.action.startswith("b:y:"))
    no = next(b.action for b in asked.buttons if b.action.startswith("b:n:"))

    out = chat.press(no)
    assert "伝えません" in out[0].text
    assert client.post(f"/admin/api/tickets/{ticket_id}/referral", json=org).status_code == 409
    chat.press(yes)
    consents = [c for c in rows(Consent) if c.kind == "B"]
    assert [(c.choice, c.ticket_id) for c in consents] == [("declined", ticket_id), ("given", ticket_id)]
    assert client.post(f"/admin/api/tickets/{ticket_id}/referral", json={"organisation": "別の機関"}).status_code == 409
    r = client.post(f"/admin/api/tickets/{ticket_id}/referral", json=org)
    assert r.status_code == 200 and r.json()["organisation"] == org["organisation"]
    assert "ticket.refer" in audit_actions("ticket.")


def test_a_consent_b_answer_is_tied_to_its_own_question(app, staff, chat):
    """Issue 16 item 3: 「伝えてよい」 under the first question must not authorise the second."""
    _id, client = staff
    ticket_id = hand_off(chat)
    client.post(f"/admin/api/tickets/{ticket_id}/claim")

    def ask(org: str) -> str:
        client.post(f"/admin/api/tickets/{ticket_id}/consent-b", json={"organisation": org})
        asked = [m for r in outbox_of(ticket_id) for m in payload_messages(r) if m.kind == "consent"][-1]
        return next(b.action for b in asked.buttons if b.action.startswith("b:y:"))

    first_yes = ask("○○市 自立相談支援機関")
    second_yes = ask("△△県 地域生活定着支援センター")
    assert first_yes != second_yes
    out = chat.press(first_yes)  # a stale button: the question it belongs to was replaced
    assert "もう使えません" in out[0].text
    assert [c for c in rows(Consent) if c.kind == "B"] == []
    second = {"organisation": "△△県 地域生活定着支援センター"}
    assert client.post(f"/admin/api/tickets/{ticket_id}/referral", json=second).status_code == 409
    assert client.post(f"/admin/api/tickets/{ticket_id}/referral", json={"organisation": "○○市 自立相談支援機関"}).status_code == 409

    chat.press(second_yes)
    assert client.post(f"/admin/api/tickets/{ticket_id}/referral", json=second).status_code == 200


def test_a_consent_b_button_for_someone_elses_ticket_does_nothing(app, staff, chat, shared_runtime):
    _id, client = staff
    ticket_id = hand_off(chat)
    client.post(f"/admin/api/tickets/{ticket_id}/claim")
    client.post(f"/admin/api/tickets/{ticket_id}/consent-b", json={"organisation": "機関"})
    intruder = ChatDriver(shared_runtime, user="someone-else")
    intruder.say("こんにちは")
    assert intruder.press(f"b:y:{ticket_id}") == []
    assert [c for c in rows(Consent) if c.kind == "B"] == []


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


# --- the same path over LINE, through the fake Messaging API --------------------------------------

from tests.fakes.line_api import line_api, line_api_server, line_env  # noqa: E402,F401  (fixtures)


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
