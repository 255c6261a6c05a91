"""A question about what was just answered, asked without naming it: the answer's own facet.

「更生保護施設って何？」 then 「いつまで おれるん？」 asks how long one stays at *that* place;
「住むとこない」 then 「おかねは かかるん？」 asks what the help just described costs. Neither
names the entry again, so the classifier alone would pick whichever entry the words fit best.
"""
from __future__ import annotations

import pytest


def _answer(out):
    return next(m for m in out if m.kind == "answer")


@pytest.mark.parametrize("follow_up", ["いつまで おれるん？", "期間は？", "それって いつまでなん", "itsumade ireru no?"])
def test_how_long_after_the_facility_answer(consented_chat, follow_up):
    assert _answer(consented_chat.say("更生保護施設ってなに？")).entry_id == "kousei-hogo-shisetsu"
    answer = _answer(consented_chat.say(follow_up))
    assert answer.entry_id == "kousei-hogo-shisetsu"
    assert answer.text.startswith("数か月が目安")


@pytest.mark.parametrize("follow_up", ["おかねは かかるん？", "なんぼかかるん", "ﾑﾘｮｳ?"])
def test_what_it_costs_after_the_housing_answer(consented_chat, follow_up):
    assert _answer(consented_chat.say("でてきたけど すむとこない")).entry_id == "sumai-ga-nai"
    answer = _answer(consented_chat.say(follow_up))
    assert answer.entry_id == "sumai-ga-nai"
    assert "委託費" in answer.text and "相談は無料" in answer.text


def test_a_question_that_names_its_own_topic_is_not_a_follow_up(consented_chat):
    consented_chat.say("更生保護施設ってなに？")
    answer = _answer(consented_chat.say("保護観察っていつまで？"))
    assert answer.entry_id == "hogo-kansatsu"


def test_without_the_facet_the_classifier_decides(consented_chat):
    # the entry on getting work has no cost facet: 「お金かかる？」 is then about consulting
    assert _answer(consented_chat.say("仕事さがしたい")).entry_id == "shuro-shien"
    answer = _answer(consented_chat.say("お金かかる？"))
    assert answer.entry_id != "shuro-shien"


def test_before_any_answer_the_classifier_decides(consented_chat):
    answer = _answer(consented_chat.say("相談って お金かかる？"))
    assert answer.entry_id == "soudan-muryo"
