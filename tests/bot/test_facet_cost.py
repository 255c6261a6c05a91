"""Issue 18: 「更生保護施設っていくらかかる？」 gets the cost facet of 更生保護施設 first.

The facet rests on the Ministry's seed (the state pays the facility a 委託費) and on a
facility's own page (川崎自立会: lodging and meals free for a period under the office's 委託).
"""
from __future__ import annotations

import pytest

from knowledge.kb import load_kb


@pytest.mark.parametrize("text", [
    "更生保護施設っていくらかかるの？",
    "こうせいほごしせつって無料なん？",
    "更生保護施設って費用いる？",
])
def test_what_living_in_a_facility_costs(consented_chat, text):
    out = consented_chat.say(text)
    answer = next(m for m in out if m.kind == "answer")
    assert answer.entry_id == "kousei-hogo-shisetsu"
    first = answer.text.split("\n", 1)[0]
    assert "委託費" in first and "無料" in first and "保護観察所で確かめて" in first


def test_the_cost_facet_has_a_dated_source_on_the_web():
    entry = load_kb().get("kousei-hogo-shisetsu")
    page = next(s for s in entry.sources if s.url and "kawasakijiritu" in s.url)
    assert page.read == "2026-12-02" and "無料で宿泊場所及び食事" in page.quote
