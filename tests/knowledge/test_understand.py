"""Intents, FAQ matching, abstention and candidates, on a small knowledge base built here."""
import pytest

from knowledge.kb import Entry, KnowledgeBase
from knowledge.understand import INTENTS, Understander


def _entry(id, title, questions=(), keywords=(), answer="答え"):
    return Entry(id=id, title=title, answer=answer, questions=tuple(questions), keywords=tuple(keywords))


@pytest.fixture(scope="module")
def understander():
    entries = [
        _entry("sumai-ga-nai", "出所・釈放後に住む場所がない",
               ["出所したけど住むところがない", "今夜泊まる場所がない"], ["住まい", "家がない"]),
        _entry("kousei-hogo-shisetsu", "更生保護施設とは",
               ["更生保護施設ってどんなところ", "更生保護施設はいくつある"], ["更生保護施設"]),
        _entry("jiritsu-junbi-home", "自立準備ホームとは", ["自立準備ホームってなに"], ["自立準備ホーム"]),
        _entry("shuro-shien", "仕事を探したい", ["仕事が見つからない", "前科があっても働ける?"],
               ["仕事", "就職", "協力雇用主"]),
        _entry("yakubutsu-izon", "薬物をやめたい(薬物依存)", ["薬物がやめられない"], ["薬物", "覚醒剤", "ダルク"]),
        _entry("soudan-muryo", "相談にお金はかかる?", ["相談は無料ですか"], ["無料", "相談料"]),
    ]
    return Understander(KnowledgeBase({e.id: e for e in entries}))


@pytest.mark.parametrize("text,intent", [
    ("人と話したい", "handoff"),
    ("職員さんと話したいです", "handoff"),
    ("電話で相談したい", "handoff"),
    ("担当の人につないでください", "handoff"),
    ("ボットじゃなくて人間がいい", "handoff"),
    ("スタッフと直接話せますか", "handoff"),
    ("記録を消してください", "delete_data"),
    ("データ削除して", "delete_data"),
    ("同意を取り消したい", "delete_data"),
    ("こんにちは", "greeting"),
    ("はじめまして！", "greeting"),
    ("おはよー", "greeting"),
    ("ありがとう😊", "thanks"),
    ("助かりました", "thanks"),
    ("さようなら", "thanks"),
    ("メニュー", "menu"),
    ("何ができるの？", "menu"),
    ("使い方を教えて", "menu"),
])
def test_intents(understander, text, intent):
    u = understander.classify(text)
    assert u.intent == intent
    assert u.topic is None


def test_greeting_with_a_real_question_is_faq(understander):
    u = understander.classify("こんにちは。更生保護施設ってどんなところですか？")
    assert (u.intent, u.topic) == ("faq", "kousei-hogo-shisetsu")


def test_thanks_then_a_question_is_faq(understander):
    u = understander.classify("ありがとう、ところで自立準備ホームってなに？")
    assert (u.intent, u.topic) == ("faq", "jiritsu-junbi-home")


@pytest.mark.parametrize("text,topic", [
    ("住むとこがない", "sumai-ga-nai"),
    ("ｺｳｾｲﾎｺﾞｼｾﾂってなに", "kousei-hogo-shisetsu"),
    ("じりつじゅんびほーむってなに", "jiritsu-junbi-home"),
    ("しごと見つからん", "shuro-shien"),
    ("シャブやめたい", "yakubutsu-izon"),
    ("相談ってタダ？", "soudan-muryo"),
])
def test_faq_paraphrases_typos_and_synonyms(understander, text, topic):
    u = understander.classify(text)
    assert (u.intent, u.topic) == ("faq", topic)
    assert 0.0 < u.score <= 1.0
    assert u.candidates[0] == topic


@pytest.mark.parametrize("text", ["明日の天気どう？", "近くのうまいラーメン屋おしえて", "ああああ", "fjdkslaa;;", "🍣🍣", ""])
def test_off_topic_text_abstains(understander, text):
    u = understander.classify(text)
    assert u.intent == "none"
    assert u.topic is None


def test_candidates_are_known_ids_best_first(understander):
    u = understander.classify("更生保護施設と自立準備ホームの違い")
    assert u.intent == "faq"
    assert set(u.candidates) <= {"kousei-hogo-shisetsu", "jiritsu-junbi-home", "sumai-ga-nai",
                                 "shuro-shien", "yakubutsu-izon", "soudan-muryo"}
    assert {"kousei-hogo-shisetsu", "jiritsu-junbi-home"} <= set(u.candidates[:2])


def test_every_result_uses_a_contract_intent(understander):
    for text in ["人と話したい", "死にたい", "住むとこない", "天気", "ありがとう"]:
        u = understander.classify(text)
        assert u.intent in INTENTS
        assert 0.0 <= u.score <= 1.0


def test_rebuild_picks_up_a_new_entry(understander):
    kb = KnowledgeBase({e.id: e for e in understander.kb})
    extra = _entry("tokumei", "名前を言わずに相談できる?", ["匿名で相談できますか"], ["匿名"])
    kb.entries[extra.id] = extra
    fresh = Understander(kb)
    assert fresh.classify("とくめいで相談できる？").topic == "tokumei"
