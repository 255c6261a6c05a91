"""A message that tells a feeling, which no entry answers, gets a kind line and a person.

「その質問には答えられません」 is wrong for 「さみしい」: it is not a question. It is not danger
either (the labelling policy: no wish to die, nothing happening now), so no crisis ticket.
"""
from __future__ import annotations

import pytest

from bot import texts
from core.messages import A_ENTRY


@pytest.mark.parametrize("text", ["もう つかれた なんもかんも いやになった", "さみしい", "だれも わかってくれへん", "ﾅｷﾀｲ"])
def test_a_feeling_is_not_answered_as_an_unknown_question(consented_chat, text):
    out = consented_chat.say(text)
    said = "\n".join(m.text for m in out)
    assert texts.FEELINGS in said and texts.DONT_KNOW not in said
    assert not any(m.kind == "crisis" for m in out)
    buttons = [b.action for m in out for b in (m.buttons or [])]
    assert A_ENTRY + "seishin-hoken" in buttons


def test_an_out_of_scope_question_still_gets_the_honest_answer(consented_chat):
    out = consented_chat.say("裁判の傍聴ってどうやってするの")
    said = "\n".join(m.text for m in out)
    assert texts.DONT_KNOW in said and texts.FEELINGS not in said
