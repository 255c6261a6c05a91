"""Nobody is left in silence: the crisis conversation (issue 14 §2) as whole dialogues."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlmodel import select

from bot import texts
from core import clock, db
from core.clock import JST
from core.models import OutboxMessage
from handoff.models import Ticket

WEDNESDAY_22H = datetime(2027, 1, 13, 22, 0, tzinfo=JST)  # after hours
WEDNESDAY_13H = datetime(2027, 1, 13, 13, 0, tzinfo=JST)  # office hours, DV chat open
WEDNESDAY_03H = datetime(2027, 1, 13, 3, 0, tzinfo=JST)  # the DV chat is closed


@pytest.fixture
def at():
    def freeze(moment: datetime) -> None:
        clock.freeze(moment)

    yield freeze
    clock.freeze(None)


def tickets() -> list[Ticket]:
    with db.session_scope() as s:
        return list(s.exec(select(Ticket)).all())


def claim_all() -> None:
    with db.session_scope() as s:
        for t in s.exec(select(Ticket)).all():
            t.state, t.assignee_id = "claimed", 1
            s.add(t)


def test_crisis_reply_order_costs_hours_and_says_it_is_automatic(consented_chat, at):
    at(WEDNESDAY_22H)
    out = consented_chat.say("もう死にたい")
    text = out[0].text
    assert out[0].kind == "crisis"
    lines = text.splitlines()
    assert lines[0].startswith("知らせてくれて")  # one kind line first
    assert text.index("110") < text.index("119") < text.index("0120-279-338") < text.index("0570-064-556")
    assert "0120-279-338(無料・24時間)" in text
    assert "0570-064-556(通話料がかかる" in text
    assert "自動の返事" in text
    assert "読んでいる職員はいません" in text and "明日 1月14日(木) 8時30分" in text
    assert "0120-783-556" not in text  # いのちの電話 (16–21時) is closed at 22:00: not listed
    assert "0120-279-889" not in text and "189" not in text  # no violence mentioned


def test_violence_adds_dv_plus_and_189(consented_chat, at):
    at(WEDNESDAY_22H)
    text = consented_chat.say("夫に殴られている")[0].text
    assert "DV相談+" in text and "0120-279-889(無料・24時間)" in text
    assert "児童相談所虐待対応ダイヤル 189(無料・24時間)" in text


def test_crisis_then_cannot_call_gets_text_based_help(consented_chat, at):
    at(WEDNESDAY_22H)
    chat = consented_chat
    chat.say("もう消えたい")
    out = chat.say("電話はむり。声だしたくない")
    assert len(out) == 1
    text = out[0].text
    assert "文字で相談できる" in text
    assert "あなたのいばしょ" in text and "24時間365日" in text
    assert "受け取りました" in text and "8時30分" in text  # who reads it and when


def test_text_help_shows_only_services_open_now_and_says_when_the_others_open(consented_chat, at):
    at(WEDNESDAY_03H)
    chat = consented_chat
    chat.say("夫に殴られて、もう死にたい")
    text = chat.say("声が出せない")[0].text
    opened, _, closed = text.partition("いまは閉まっているところ")
    assert "あなたのいばしょ" in opened
    assert "soudanplus.jp" not in opened  # DV相談+ chat runs 12–22
    assert "DV相談+（チャット）は12時から" in closed
    at(WEDNESDAY_13H)
    text = chat.say("電話できない")[0].text
    assert "soudanplus.jp" in text and "いまは閉まっているところ" not in text


def test_after_hours_every_message_after_a_crisis_is_answered(consented_chat, at):
    at(WEDNESDAY_22H)
    chat = consented_chat
    chat.say("死にたい")
    for text in ("だれか返事して", "…", "まだ?", "だれか返事して"):
        out = chat.say(text)
        assert out, text
        body = "\n".join(m.text for m in out)
        assert "受け取りました" in body and "110" in body and "0120-279-338" in body
        assert "読んでいる職員はいません" in body
    assert len(tickets()) == 1 and tickets()[0].unread == 4


def test_a_staff_claim_stops_the_automatic_replies(consented_chat, at):
    at(WEDNESDAY_13H)
    chat = consented_chat
    chat.say("死にたい")
    assert chat.say("だれか返事して")
    claim_all()
    assert chat.say("だれか返事して") == []
    assert chat.say("電話できない") == []
    # a new danger message is still answered with the numbers
    assert chat.say("もう死ぬ")[0].kind == "crisis"


def test_the_emergency_button_asks_first_and_only_yes_raises_urgency(chat):
    chat.say("こんにちは")
    chat.press("c:y")
    out = chat.press("x")
    assert "110" in out[0].text and "いま危ない状態ですか" in out[0].text
    assert [b.label for b in out[0].buttons] == ["はい", "いいえ", "職員と話したい"]
    assert tickets() == []  # a curious tap raises no alarm
    out = chat.press("x:n")
    assert tickets() == [] and "わかりました" in out[0].text
    chat.press("x")
    out = chat.press("x:y")
    assert out[0].kind == "crisis"
    [t] = tickets()
    assert t.crisis and t.priority == 0


def test_the_check_question_understands_a_typed_yes(consented_chat):
    consented_chat.press("x")
    consented_chat.say("はい")
    [t] = tickets()
    assert t.crisis and t.priority == 0


def test_a_possible_crisis_asks_the_check_question(consented_chat, monkeypatch):
    from bot import engine

    monkeypatch.setattr(engine, "crisis_tier", lambda und, text: "possible")
    out = consented_chat.say("もう消えたい")
    # the safety reply first, then the one yes/no question with its buttons
    assert "0120-279-338" in out[0].text
    assert "いま危ない状態ですか" in out[1].text and [b.action for b in out[1].buttons][:2] == ["x:y", "x:n"]
    # a message that may mean danger reaches staff at once, so later messages are answered
    assert tickets()[0].crisis
    out = consented_chat.say("電話はむり")
    assert "文字で相談できる" in out[0].text
    consented_chat.press("x:y")
    assert tickets()[0].crisis and len(tickets()) == 1


def test_a_danger_message_on_a_waiting_ticket_moves_it_to_the_top(consented_chat):
    chat = consented_chat
    chat.press("h")
    for _ in range(4):
        chat.press("i:skip")
    assert tickets()[0].priority == 2
    chat.say("もう死にたい")
    [t] = tickets()
    assert t.crisis and t.priority == 0


def test_crisis_replies_reach_the_outbox(consented_chat, at):
    at(WEDNESDAY_22H)
    consented_chat.say("死にたい")
    before = len(_outbox())
    consented_chat.say("だれか返事して")
    assert len(_outbox()) == before + 1


def _outbox() -> list[OutboxMessage]:
    with db.session_scope() as s:
        return list(s.exec(select(OutboxMessage)).all())


@pytest.mark.parametrize("said", [
    "でんわ　でぎね　こえ　だせね",  # Tohoku
    "電話でけへん、声もでえへん",  # Kansai
    "でんわ　こわか",  # Kyushu
    "ﾃﾞﾝﾜ ﾑﾘ",  # half-width katakana
    "denwa muri, koe dasenai",  # romaji (the engine reads it as kana before every step)
    "しゃべれん",
])
def test_cannot_call_is_understood_in_dialect_and_any_script(consented_chat, at, said):
    at(WEDNESDAY_22H)
    consented_chat.say("もう消えたい")
    text = consented_chat.say(said)[0].text
    assert "文字で相談できる" in text


@pytest.mark.parametrize("said", ["電話番号おしえて", "電話したよ", "声が大きいって言われる"])
def test_talking_about_the_phone_is_not_taken_as_cannot_call(said):
    from bot.followup import cannot_call
    assert not cannot_call(said)


@pytest.mark.parametrize("said", ["母が　たおれて　いきしてない", "うちの子が帰ってこない。遺書みたいなメモがあった", "ﾑｽｺｶﾞ ｼﾇｯﾃ ｲｯﾃ ﾍﾔﾆ ｺﾓｯﾀ"])
def test_danger_told_about_someone_else_speaks_of_that_person(consented_chat, at, said):
    at(WEDNESDAY_22H)
    out = consented_chat.say(said)
    assert out[0].kind == "crisis", said
    assert out[0].text.startswith(texts.CRISIS_INTRO_OTHER)


@pytest.mark.parametrize("said", ["もう死にたい", "夫に殴られて、もう死にたい"])
def test_the_writers_own_danger_keeps_the_kind_line_about_them(consented_chat, at, said):
    at(WEDNESDAY_22H)
    assert consented_chat.say(said)[0].text.startswith(texts.CRISIS_INTRO)


@pytest.mark.parametrize("first", ["母がたおれて よんでも へんじしない", "夫が包丁もって暴れとる、いま"])
def test_cannot_call_in_an_emergency_asks_someone_nearby_to_call(consented_chat, at, first):
    # a collapse or violence now: 「電話しなくても大丈夫」 would be wrong; someone nearby can call
    at(WEDNESDAY_22H)
    assert consented_chat.say(first)[0].kind == "crisis"
    text = consented_chat.say("電話できない")[0].text
    assert texts.TEXT_HELP_EMERGENCY in text and texts.TEXT_HELP_INTRO not in text
    assert "文字で相談できる" in text
