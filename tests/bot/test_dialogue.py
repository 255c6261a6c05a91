"""Whole conversations through the engine and the database (stable interface: say → replies)."""
from __future__ import annotations

from sqlmodel import select

from bot import texts
from core import db
from core.models import Consent, Conversation, Message, OutboxMessage
from handoff.models import Ticket

CANARY = "CANARY-前科-9137"


def _rows(model):
    with db.session_scope() as s:
        return s.exec(select(model)).all()


def test_first_message_gets_an_answer_and_the_consent_prompt(chat):
    out = chat.say("出所したけど住むところがない")
    kinds = [m.kind for m in out]
    assert "answer" in kinds
    assert kinds[-1] == "consent"
    assert any(b.action == "c:y" for b in out[-1].buttons)


def test_nothing_is_stored_before_consent(chat):
    chat.say(f"住むところがない {CANARY}")
    chat.say(f"仕事を探したい {CANARY}")
    bodies = [m.body for m in _rows(Message)]
    assert bodies and all(b is None for b in bodies)


def test_after_consent_text_is_kept_encrypted(chat):
    chat.say("こんにちは")
    out = chat.press("c:y")
    assert "ありがとう" in out[0].text
    chat.say(f"仕事を探したい {CANARY}")
    stored = [m.body for m in _rows(Message) if m.direction == "in" and m.body]
    assert any(CANARY in b for b in stored)
    consents = _rows(Consent)
    assert [(c.kind, c.choice, c.version) for c in consents] == [("A", "given", 2)]
    assert consents[0].text_hash and consents[0].channel == "web"
    # the database file holds only ciphertext
    path = chat_db_path()
    if path:
        raw = open(path, "rb").read()
        assert CANARY.encode() not in raw


def chat_db_path():
    url = str(db.engine().url)
    return url.split("///", 1)[1] if url.startswith("sqlite:///") else None


def test_declined_consent_stores_nothing_and_still_answers(chat):
    chat.say("こんにちは")
    out = chat.press("c:n")
    assert "記録しません" in out[0].text
    out = chat.say(f"仕事を探したい {CANARY}")
    assert any(m.kind == "answer" for m in out)
    assert all(m.body is None for m in _rows(Message))
    assert [c.choice for c in _rows(Consent)] == ["declined"]


def test_crisis_beats_a_strong_faq_match(chat):
    out = chat.say("更生保護施設とは何か知りたいけど、もう死にたい")
    assert out[0].kind == "crisis"
    assert "0120-279-338" in out[0].text and "110" in out[0].text
    tickets = _rows(Ticket)
    assert len(tickets) == 1 and tickets[0].crisis and tickets[0].priority == 0


def test_crisis_after_handoff_still_answers_with_hotlines(consented_chat):
    chat = consented_chat
    chat.press("h")
    for _ in range(4):
        chat.press("i:skip")
    assert chat.kinds() == ["handoff"]
    out = chat.say("このあと首をつろうと思う")
    assert out and out[0].kind == "crisis"
    assert len(_rows(Ticket)) == 1


def test_bot_is_silent_while_staff_own_the_chat(consented_chat):
    chat = consented_chat
    chat.press("h")
    for _ in range(4):
        chat.press("i:skip")
    from core import db

    with db.session_scope() as s:  # a staff member claims the ticket
        t = s.exec(select(Ticket)).one()
        t.state, t.assignee_id = "claimed", 1
        s.add(t)
    before = len(_rows(OutboxMessage))
    assert chat.say("仕事を探したい") == []
    assert len(_rows(OutboxMessage)) == before
    ticket = _rows(Ticket)[0]
    assert ticket.unread == 1


def test_intake_answers_reach_the_ticket(consented_chat):
    chat = consented_chat
    out = chat.say("人と話したい")
    assert "4つ" in out[0].text
    chat.press("i:who:family")
    chat.press("i:need:housing")
    chat.press("i:urgency:tonight")
    out = chat.press("i:contact:chat")
    assert out[0].kind == "handoff" and "番目" in out[0].text
    import json

    t = _rows(Ticket)[0]
    assert json.loads(t.intake) == {"who": "family", "need": "housing", "urgency": "tonight", "contact": "chat"}
    assert t.priority == 1 and not t.consent_declined


def test_a_typed_message_that_answers_no_choice_is_acknowledged_not_swallowed(consented_chat):
    chat = consented_chat
    chat.say("人と話したい")
    out = chat.say("ほごかんさつかんさん いますか")  # asked back instead of choosing who is writing
    assert [m.text for m in out][0] == texts.INTAKE_NOTED
    assert out[-1].text == "いちばん困っていることは?"
    out = chat.say("家族")  # a typed word that is one of the choices needs no acknowledgement
    assert texts.INTAKE_NOTED not in [m.text for m in out]


def test_handoff_without_consent_skips_intake_and_says_so(chat):
    chat.say("こんにちは")
    chat.press("c:n")
    out = chat.press("h")
    assert out[0].kind == "handoff"
    assert "記録" in out[0].text
    t = _rows(Ticket)[0]
    assert t.consent_declined and t.intake is None


def test_delete_erases_messages_and_restarts_with_consent(consented_chat):
    chat = consented_chat
    chat.say(f"仕事を探したい {CANARY}")
    out = chat.say("記録を消してください")
    assert out[0].kind == "confirm"
    out = chat.press("d:y")
    assert "消しました" in out[0].text
    assert all(m.body is None or CANARY not in m.body for m in _rows(Message))
    assert not any(m.body and CANARY in m.body for m in _rows(Message))
    assert [c.choice for c in _rows(Consent)][-1] == "withdrawn"
    out = chat.say("仕事を探したい")
    assert out[-1].kind == "consent"


def test_delete_can_be_cancelled(consented_chat):
    chat = consented_chat
    chat.press("d")
    out = chat.press("d:n")
    assert "やめました" in out[0].text
    assert _rows(Conversation)[0].consent_version == 2


def test_unknown_question_is_answered_honestly(consented_chat):
    out = consented_chat.say("明日の天気はどうですか")
    assert out[0].kind == "text"
    assert "答えられません" in out[0].text
    assert any(b.action == "h" for b in out[0].quick_replies)


def test_answer_carries_entry_version_and_source(consented_chat):
    out = consented_chat.say("更生保護施設ってどんなところ")
    answer = next(m for m in out if m.kind == "answer")
    assert answer.entry_id and answer.entry_version >= 1
    assert answer.source_line
    stored = [m for m in _rows(Message) if m.direction == "out" and m.entry_id]
    assert stored and stored[-1].entry_version == answer.entry_version


def test_new_consent_version_is_asked_again(consented_chat):
    from core.consent_text import text_hash
    from core.models import ConsentText

    with db.session_scope() as s:
        s.add(ConsentText(kind="A", version=3, text="新しい説明", text_hash=text_hash("新しい説明")))
    out = consented_chat.say("仕事を探したい")
    assert out[-1].kind == "consent" and "新しい説明" in out[-1].text


def test_a_first_hello_is_greeted_once(chat):
    out = chat.say("こんにちは")
    assert "\n".join(m.plain_text() for m in out).count("こんにちは。") == 1
    assert out[-1].kind == "consent"
