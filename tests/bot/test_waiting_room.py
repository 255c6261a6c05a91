"""The person waiting (issue 17): every message gets a sign of life, the bot keeps answering,
typed intake answers count, 「電話がいい」 leads to a call-back, a message after closing
reopens the ticket, and every time said is honest."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from core import clock, db
from core.clock import JST
from core.models import Message
from handoff.hours import DEFAULT_HOURS, do_save_hours, load_hours, status
from handoff.models import Ticket
from handoff.notice import compose_ack, compose_notice
from tests.conftest import CANARY

MONDAY_10H = datetime(2027, 1, 18, 10, 0, tzinfo=JST)


@pytest.fixture
def at():
    clock.freeze(MONDAY_10H)
    yield clock.freeze
    clock.freeze(None)


def tickets() -> list[Ticket]:
    with db.session_scope() as s:
        return list(s.exec(select(Ticket)).all())


def wait_for_staff(chat, *answers: str) -> None:
    chat.say("人と話したい")
    for answer in answers or ("i:skip",) * 4:
        chat.press(answer) if answer.startswith("i:") else chat.say(answer)
    assert chat.kinds()[0] == "handoff"


def test_every_message_while_waiting_gets_a_sign_of_life(consented_chat, at):
    chat = consented_chat
    wait_for_staff(chat)
    out = chat.say("まだですか")
    assert len(out) == 1 and "受け取りました" in out[0].text  # received…
    assert "1番目" in out[0].text and "およそ20分後" in out[0].text  # …its place and an honest time
    # not the full notice again within a few minutes: a short line instead, never silence
    out = chat.say("よろしくお願いします")
    assert out and "受け取りました" in out[0].text and "番目" not in out[0].text
    at(MONDAY_10H + timedelta(minutes=6))
    assert "番目" in chat.say("まだかな")[0].text
    assert tickets()[0].unread == 3


def test_faq_menu_and_buttons_still_answer_while_waiting_marked_automatic(consented_chat, at):
    chat = consented_chat
    wait_for_staff(chat)
    out = chat.say(f"仕事を探したい {CANARY}")
    assert out[0].kind == "answer" and "自動の答え" in out[-1].text
    out = chat.press("m")
    assert out[0].kind == "menu" and "自動" in out[-1].text
    out = chat.press("e:sumai-ga-nai")
    assert out[0].kind == "answer" and out[0].entry_id == "sumai-ga-nai"
    out = chat.press("h")
    assert "もう職員に伝えてあります" in out[0].text and len(tickets()) == 1
    # staff see those turns: the bot's answers are in the ticket's transcript
    with db.session_scope() as s:
        # (entry_id is encrypted at rest: compare here, not in SQL)
        bot_rows = [m for m in s.exec(select(Message).where(Message.sender == "bot")).all() if m.entry_id == "sumai-ga-nai"]
        assert bot_rows and bot_rows[0].body


def test_a_typed_urgent_answer_makes_the_ticket_urgent_and_is_kept(consented_chat, at):
    chat = consented_chat
    chat.say("人と話したい")
    chat.press("i:who:self")
    chat.press("i:need:housing")
    chat.say("今日から泊まるところがない")
    chat.say("わからない、なんでも")
    [t] = tickets()
    intake = json.loads(t.intake)
    assert intake["urgency"] == "tonight" and intake["urgency_text"] == "今日から泊まるところがない"
    assert intake["contact"] == "other_text" and intake["contact_text"] == "わからない、なんでも"
    assert t.priority == 1


def test_phone_is_offered_only_where_the_office_makes_call_backs(consented_chat, at):
    chat = consented_chat
    wait_for_staff(chat, "i:skip", "i:skip", "i:skip", "電話がいい")
    assert "電話をかけることはしていません" in chat.text()
    assert json.loads(tickets()[0].intake)["contact"] == "phone"


def test_phone_call_back_number_and_window_are_kept_encrypted(consented_chat, at):
    with db.session_scope() as s:
        do_save_hours(s, DEFAULT_HOURS.model_copy(update={"phone_callbacks": True}), staff_id=None)
    chat = consented_chat
    wait_for_staff(chat, "i:skip", "i:skip", "i:skip", "i:contact:phone")
    assert "電話番号を送ってください" in chat.text() and "暗号化" in chat.text()
    out = chat.say("０９０ー１２３４ー５６７８ です")
    assert "時間帯" in out[0].text
    out = chat.press("cb:pm")
    assert "午後" in out[0].text
    [t] = tickets()
    assert t.callback_phone == "09012345678" and t.callback_window == "pm"
    with db.engine().connect() as c:  # encrypted at rest
        raw = c.exec_driver_sql("select callback_phone from ticket").scalar()
        assert "09012345678" not in raw
    chat.say("記録を消して")
    chat.press("d:y")
    assert tickets()[0].callback_phone is None


def test_a_message_soon_after_closing_reopens_the_same_ticket(consented_chat, at):
    from tests.staff_helpers import make_staff  # noqa: F401  (keeps the helper import style)

    chat = consented_chat
    wait_for_staff(chat)
    [t] = tickets()
    with db.session_scope() as s:
        from handoff import actions

        ticket = s.get(Ticket, t.id)
        ticket.state, ticket.assignee_id = "claimed", 7
        actor = actions.Actor(7, "sato", frozenset({"staff"}), None, lambda *a: None)
        actions.do_close_ticket(s, actor, ticket, actions.Outcome.information)
    at(MONDAY_10H + timedelta(hours=3))
    assert chat.say("ありがとうございました")[0].kind == "text"  # small talk: the bot answers
    assert tickets()[0].state == "closed"
    out = chat.say("すみません、もうひとつ聞き忘れたことがあって")
    assert "前の相談の続き" in out[0].text
    [again] = tickets()
    assert again.id == t.id and again.state == "waiting" and again.closed_by == 7
    # after the grace period a message no longer reopens it
    with db.session_scope() as s:
        actions.do_close_ticket(s, actor, s.get(Ticket, t.id) if _claim(s, t.id) else None, actions.Outcome.information)
    at(MONDAY_10H + timedelta(hours=28))
    chat.say("すみません、もうひとつ聞き忘れたことがあって")
    assert tickets()[0].state == "closed"


def _claim(session, ticket_id: int) -> bool:
    ticket = session.get(Ticket, ticket_id)
    ticket.state, ticket.assignee_id = "claimed", 7
    session.add(ticket)
    return True


# --- honest time for every day type -------------------------------------------------------------

@pytest.mark.parametrize(
    "moment, says, next_reader",
    [
        ((2027, 1, 13, 7, 0), "受付時間の前", "今日 8時30分"),  # weekday before hours
        ((2027, 1, 13, 10, 0), "受付時間内", None),  # weekday during hours
        ((2027, 1, 13, 18, 0), "受付時間が終わっています", "明日 1月14日(木) 8時30分"),  # weekday after hours
        ((2027, 1, 16, 10, 0), "土曜日で、受付のない休みの日", "1月18日(月) 8時30分"),  # Saturday
        ((2027, 1, 17, 10, 0), "日曜日で、受付のない休みの日", "明日 1月18日(月) 8時30分"),  # Sunday
        ((2027, 2, 11, 10, 0), "祝日(建国記念の日)", "明日 2月12日(金) 8時30分"),  # national holiday
        ((2026, 5, 6, 10, 0), "振替休日)", "明日 5月7日(木) 8時30分"),  # substitute holiday
        ((2026, 12, 30, 10, 0), "年末年始", "1月4日(月) 8時30分"),  # year-end closure
    ],
)
def test_the_next_reader_time_comes_from_the_office_calendar(moment, says, next_reader):
    now = datetime(*moment, tzinfo=JST)
    st = status(DEFAULT_HOURS, now)
    for text in (compose_notice(position=1, hours=DEFAULT_HOURS, st=st, at=now),
                 compose_ack(position=1, hours=DEFAULT_HOURS, st=st, at=now, crisis=False)):
        assert says in text
        assert "土日など" not in text
        if next_reader:
            assert f"次に職員が読むのは{next_reader}ごろ" in text
        else:
            assert "読んでいる職員はいません" not in text


def test_a_weekday_without_configured_hours_is_not_called_a_weekend(settings):
    hours = DEFAULT_HOURS.model_copy(update={"weekly": {str(d): [("08:30", "17:15")] for d in (0, 1, 3, 4)}})
    now = datetime(2027, 1, 13, 10, 0, tzinfo=JST)  # a Wednesday
    text = compose_notice(position=1, hours=hours, st=status(hours, now), at=now)
    assert "水曜日" in text and "土日" not in text
    with db.session_scope() as s:
        assert load_hours(s).phone_callbacks is False
