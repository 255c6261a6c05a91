"""Issue 18: furigana, facets, the legal-review badge, new entries, readability limits, placeholders."""
from __future__ import annotations

import re

import pytest

from knowledge import kb_check
from knowledge.furigana import as_parentheses, as_ruby_html, missing_readings, with_readings
from knowledge.kb import EntryFormatError, dump_entry, load_kb, parse_entry, render_answer

NEW_IDS = ["jumin-hyo", "kenko-hoken", "mibun-shomei", "rirekisho", "zenka", "kazoku-taiho", "mimoto-hikiuke", "shakkin", "tanto-ni-tsutawaru"]


# --- furigana -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("word", "reading"), [
    ("更生緊急保護", "こうせいきんきゅうほご"),
    ("遵守事項", "じゅんしゅじこう"),
    ("療育手帳", "りょういくてちょう"),
    ("保護観察所", "ほごかんさつしょ"),
])
def test_counter_terms_read_right(word, reading):
    assert with_readings(word) == [(word, reading)]


def test_katakana_tails_stay_unread():
    assert with_readings("自立準備ホーム") == [("自立準備", "じりつじゅんび"), ("ホーム", None)]
    assert with_readings("地域生活定着支援センター") == [("地域生活定着支援", "ちいきせいかつていちゃくしえん"), ("センター", None)]


def test_okurigana_stays_outside_the_reading():
    assert as_parentheses("支援を受ける") == "支援(しえん)を受(う)ける"


def test_overrides_win_over_the_dictionary():
    assert with_readings("1日に来て", {"1日": "ついたち"})[0] == ("1日", "ついたち")
    assert missing_readings("瑞穂町の窓口", {"瑞穂町": "みずほまち"}) == []


def test_a_reading_already_written_is_not_repeated():
    assert as_parentheses("遵守事項（じゅんしゅじこう）を守る") == "遵守事項（じゅんしゅじこう）を守(まも)る"


def test_ruby_html_is_escaped():
    html = as_ruby_html("<b>保護司</b>&")
    assert html == "&lt;b&gt;<ruby>保護司<rt>ほごし</rt></ruby>&lt;/b&gt;&amp;"


# --- entry format: facets, readings, review, short source line -------------------------------------

ENTRY = """---
id: demo
title: デモ
questions: [a, b, c]
keywords: [k]
sources:
  - name: 法務省『令和5年版 犯罪白書』第2編第5章第6節1 保護司
    url: https://hakusyo1.moj.go.jp/jp/70/nfm/n70_2_2_5_6_1.html
    label: 法務省 犯罪白書 令和5年版
  - seed: 003_610ed1cc2c78df2c.txt
    quote: 保護観察は、保護観察官及び保護司が協働して、指導監督及び補導援護を行います。
as_of: 令和5年版
facets:
  period: 原則として6か月までです。
readings: {委嘱: いしょく}
review: legal
---
本文です。受付時間：{office_hours}
"""


def test_facets_readings_and_review_are_parsed_and_written_back():
    entry = parse_entry(ENTRY)
    assert entry.facets == {"period": "原則として6か月までです。"}
    assert entry.readings == {"委嘱": "いしょく"}
    assert entry.review == "legal"
    again = parse_entry(dump_entry(entry))
    assert (again.facets, again.readings, again.review, again.sources) == (entry.facets, entry.readings, entry.review, entry.sources)


def test_facets_must_be_a_mapping_of_text():
    with pytest.raises(EntryFormatError, match="facets"):
        parse_entry(ENTRY.replace("facets:\n  period: 原則として6か月までです。", "facets: [period]"))


def test_source_line_is_short():
    assert parse_entry(ENTRY).source_line() == "出典: 法務省 犯罪白書 令和5年版、厚生労働省の通知"


def test_placeholders_are_filled_and_unknown_braces_survive():
    entry = parse_entry(ENTRY)
    assert render_answer(entry.answer, {"office_hours": "平日9時から"}) == "本文です。受付時間：平日9時から"
    assert render_answer("{other} {office_hours}", {}) == "{other} {office_hours}"


def test_kb_check_rejects_unknown_facets_and_long_sentences(tmp_path):
    bad = ENTRY.replace("period:", "price:").replace("本文です。", "あ" * 61 + "。")
    (tmp_path / "demo.md").write_text(bad, encoding="utf-8")
    problems = kb_check.check_kb(tmp_path, topics_path=None, seeds_dir=None)
    assert any("unknown facet 'price'" in p for p in problems)
    assert any("a sentence has 62 characters" in p for p in problems)


# --- the packaged knowledge base ------------------------------------------------------------------

@pytest.fixture(scope="module")
def kb():
    return load_kb()


def test_new_entries_load_with_varied_questions(kb):
    for entry_id in NEW_IDS:
        entry = kb.get(entry_id)
        assert entry is not None, entry_id
        assert 6 <= len(entry.questions) <= 10 and entry.keywords and entry.related
        assert all(s.url for s in entry.sources if not s.seed)


def test_every_entry_meets_the_readability_limits(kb):
    for entry in kb:
        figures = kb_check.readability(entry)
        assert figures["chars"] <= kb_check.MAX_ANSWER_CHARS, entry.id
        assert figures["longest"] <= kb_check.MAX_SENTENCE_CHARS, (entry.id, figures["longest_text"])


def test_required_facets_are_written(kb):
    wanted = {"hogo-kansatsu": {"period"}, "kousei-kinkyu-hogo": {"period", "who"}, "seikatsu-konkyu": {"record"},
              "kousei-hogo-shisetsu": {"period"}, "jiritsu-junbi-home": {"who"}, "soudan-muryo": {"cost"}, "shuro-shien": {"record"}}
    for entry_id, names in wanted.items():
        assert names <= set(kb.get(entry_id).facets), entry_id


def test_promises_are_true(kb):
    everything = "\n".join(e.answer for e in kb)
    assert "担当の職員だけが見ます" not in everything
    assert "あなたの同意なしに、ほかの機関に伝えることはありません" not in everything
    assert "勝手に進めることはありません" not in everything
    assert "あなたが同意してから引き継ぎます" not in everything
    for entry_id in ("himitsu", "tokumei", "ristapo-how-to-consult", "tanto-ni-tsutawaru"):
        assert kb.get(entry_id).review == "legal", entry_id
    hogoshi = kb.get("hogoshi").answer
    assert "非常勤の国家公務員" in hogoshi and "ボランティア" in hogoshi
    kinkyu = kb.get("kousei-kinkyu-hogo").answer
    assert "保護観察の付かない執行猶予" in kinkyu and "さらに6か月" in kinkyu and "刑執行終了者等に対する援助" in kinkyu


def test_every_handoff_advice_says_what_happens_at_night(kb):
    for entry in kb:
        if "「人と話したい」と送って" in entry.answer:
            assert re.search("夜|休日", entry.answer), entry.id


def test_office_hours_come_from_settings(kb):
    assert "{office_hours}" in kb.get("uketsuke-jikan").answer
