"""The hand-off queue through the admin API: replies, silence, release, closing, notes, consent B.

Runs on SQLite and (when RISTAPO_TEST_POSTGRES_URL is set) PostgreSQL: see conftest.
"""
from __future__ import annotations

import json

from core import db
from core.models import Consent, Conversation, Message, OutboxMessage
from core.outbox import payload_messages
from handoff.models import Ticket
from tests.conftest import CANARY, ChatDriver
from tests.handoff.queue_helpers import app, get, hand_off_from_here, outbox_of, rows, staff  # noqa: F401  (fixtures)
from tests.staff_helpers import (
    audit_actions,
    cheap_argon2,  # noqa: F401  (autouse fixture)
    client_for,
    hand_off,
    make_staff,
)

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
