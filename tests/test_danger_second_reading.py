"""The learned danger signal's second reading of a crisis-rule hit (knowledge.danger_model).

A rule hit that the model reads as clearly harmless (an idiom, a past that is over) raises no
alarm, but the answer carries a short safety note; anything the model does not clearly clear
stays a crisis. The model is replaced by a stub here so the tests pin the mechanism, not today's
weights.
"""
from __future__ import annotations

import pytest
from sqlmodel import select

from core import db
from handoff.models import Ticket
from knowledge import danger_model


class _Reads:
    def __init__(self, p: float) -> None:
        self.p = p

    def probability_features(self, _features) -> float:
        return self.p


RULE_HIT = "もう死にたい"  # matched by the reviewed rules as danger now


@pytest.fixture
def understander(shared_runtime):
    return shared_runtime.knowledge.understander


def test_a_rule_hit_read_as_harmless_is_not_an_alarm_but_keeps_its_rule_id(understander, monkeypatch):
    assert understander.classify(RULE_HIT).intent == "crisis"
    monkeypatch.setattr(understander, "danger", _Reads(danger_model.HARMLESS_BELOW / 2))
    u = understander.classify(RULE_HIT)
    assert u.intent != "crisis" and u.safety_note
    assert u.crisis_id  # what the rule saw is still logged (its id, never the text)


@pytest.mark.parametrize("p", [danger_model.HARMLESS_BELOW, 0.5, 0.99])
def test_a_rule_hit_the_model_does_not_clearly_clear_stays_a_crisis(understander, monkeypatch, p):
    monkeypatch.setattr(understander, "danger", _Reads(p))
    u = understander.classify(RULE_HIT)
    assert u.intent == "crisis" and not u.safety_note


def test_without_a_model_every_rule_hit_is_a_crisis(understander, monkeypatch):
    monkeypatch.setattr(understander, "danger", None)
    assert understander.classify(RULE_HIT).intent == "crisis"


def test_a_message_no_rule_matches_is_possible_danger_only_above_the_threshold(understander, monkeypatch):
    text = "今日はいい天気ですね"
    monkeypatch.setattr(understander, "danger", _Reads(danger_model.THRESHOLD))
    u = understander.classify(text)
    assert u.intent == "crisis" and u.crisis_tier == "possible"
    monkeypatch.setattr(understander, "danger", _Reads(danger_model.THRESHOLD - 0.01))
    assert understander.classify(text).intent != "crisis"


def test_the_person_gets_an_answer_and_the_safety_note_and_no_urgent_ticket(consented_chat, understander, monkeypatch):
    monkeypatch.setattr(understander, "danger", _Reads(0.01))
    out = consented_chat.say(RULE_HIT)
    assert len(out) >= 2
    note = out[-1]
    assert "110" in note.text and "119" in note.text and "0120-279-338" in note.text
    assert note.quick_replies  # the usual next steps moved under the note
    assert not out[-2].quick_replies
    with db.session_scope() as s:
        assert not s.exec(select(Ticket)).all()


def test_the_same_words_read_as_danger_raise_the_urgent_ticket(consented_chat, understander, monkeypatch):
    monkeypatch.setattr(understander, "danger", _Reads(0.9))
    out = consented_chat.say(RULE_HIT)
    assert any("0120-279-338" in m.text for m in out)
    with db.session_scope() as s:
        tickets = s.exec(select(Ticket)).all()
    assert tickets and tickets[0].crisis
