"""What counts as "the bot could not answer": the editors' unanswered view and the dashboard rate.

Only questions the bot was asked and abstained on, outside an open hand-off. A line written to
staff while a ticket is open, and a place name typed because the bot asked for one, are not
failures of the knowledge base and must not inflate either number.
"""
from __future__ import annotations

from sqlmodel import select

from core import db
from core.models import INTENT_ABSTAINED, Message
from tests.conftest import ChatDriver
from tests.staff_helpers import hand_off

UNKNOWN = "保護猫の譲渡会はいつですか"


def _consented(rt, user: str) -> ChatDriver:
    chat = ChatDriver(rt, user=user)
    chat.say("こんにちは")
    chat.press("c:y")
    return chat


def _scene(rt) -> int:
    """Three people: one real unanswered question, one place name, one message to staff."""
    asked = _consented(rt, "asks-the-unknown")
    asked.say(UNKNOWN)

    place = _consented(rt, "types-a-place")
    place.say("住むところがない")  # this answer ends by asking where the person lives
    place.say("大阪市")

    staff_side = ChatDriver(rt, user="writes-to-staff")
    hand_off(staff_side)
    staff_side.say(UNKNOWN + " 職員さんに聞きたいです")  # meant for staff, the ticket is open
    with db.session_scope() as s:
        rows = s.exec(select(Message).where(Message.direction == "in")).all()  # bodies are encrypted: compare here
        (question_id,) = [m.id for m in rows if m.body == UNKNOWN]
        return question_id


def test_only_real_abstentions_reach_the_unanswered_view(settings, shared_runtime):
    from admin.kb import unanswered_questions

    question_id = _scene(shared_runtime)
    with db.session_scope() as s:
        found = unanswered_questions(s)
        # the engine's mark exists for the one abstention, and nowhere else
        # (intent is encrypted at rest: compare here, not in SQL)
        assert sum(m.intent == INTENT_ABSTAINED for m in s.exec(select(Message)).all()) >= 1
    assert [(q.message_id, q.reason) for q in found if q.reason == "abstained"] == [(question_id, "abstained")]
    assert all(q.text != "大阪市" for q in found)


def test_the_dashboard_rate_counts_the_same_turns(settings, shared_runtime):
    from admin.console.stats import build_dashboard

    _scene(shared_runtime)
    with db.session_scope() as s:
        board = build_dashboard(s)
    assert board.abstained == 1
    assert board.answered >= 1  # 住むところがない was answered
    assert board.abstention_rate == 1 / (board.answered + 1)
