"""The crisis floor: lexicon items and variants are crisis, set phrases are not."""
import pytest

from knowledge.crisis import detect_crisis, load_lexicon
from knowledge.kb import Entry, KnowledgeBase
from knowledge.understand import Understander


@pytest.mark.parametrize("text", [
    "死にたい", "しにたい", "ｼﾆﾀｲ", "氏にたい", "シニタイ…", "もう消えたい", "きえたい",
    "自殺しようかな", "首を吊る", "首つる", "ODした", "オーバードーズした", "薬を大量に飲んだ",
    "殺される", "父に殴られている", "今すぐ助けて", "リストカットしてしまった", "ビルから飛び降りる",
    "全部終わりにしたい", "朝が来なければいいのに", "あいつを殺してしまいそう", "生きてる意味ない",
])
def test_lexicon_items_and_variants_are_crisis(text):
    result = detect_crisis(text)
    assert result.is_crisis, text
    assert result.crisis_id and result.crisis_id not in text  # an id, never the user's text


@pytest.mark.parametrize("text", [
    "死ぬほど疲れた", "死ぬほど笑った", "首を長くして待ってます", "殺虫剤ってどこで買える",
    "必死で仕事探してる", "前科って消えないの？", "クビになった", "眠れない、不安でたまらない",
    "クスリやめたい", "また万引きしそうでこわい", "今年に大会がある",
])
def test_set_phrases_and_everyday_words_are_not_crisis(text):
    assert not detect_crisis(text).is_crisis, text


def test_set_phrase_does_not_hide_a_real_crisis():
    assert detect_crisis("死ぬほど疲れた。もう死にたい").is_crisis


def test_urge_with_wish_to_die_is_crisis_but_urge_alone_is_not():
    assert not detect_crisis("また覚醒剤に手を出しそう").is_crisis
    assert detect_crisis("また覚醒剤に手を出しそう、もう終わりにしたい").is_crisis


def _kb():
    entry = Entry(id="kousei-hogo-shisetsu", title="更生保護施設とは", answer="…",
                  questions=("更生保護施設ってどんなところ",), keywords=("更生保護施設",))
    return KnowledgeBase({entry.id: entry})


def test_crisis_beats_a_strong_faq_match():
    understander = Understander(_kb())
    assert understander.classify("更生保護施設ってどんなところ").intent == "faq"
    u = understander.classify("更生保護施設ってどんなところ？でももう死にたい")
    assert u.intent == "crisis" and u.topic is None and u.crisis_id == "wish-to-die"


def test_crisis_beats_thanks_and_handoff():
    understander = Understander(_kb())
    assert understander.classify("ありがとう。でももう消えたい").intent == "crisis"
    assert understander.classify("人と話したい、死にたい").intent == "crisis"


def test_bad_lexicon_pattern_is_reported_with_its_item(tmp_path):
    path = tmp_path / "lex.yaml"
    path.write_text("items:\n  - id: broken\n    patterns: ['(']\n", encoding="utf-8")
    with pytest.raises(ValueError, match="broken"):
        load_lexicon(path)
