"""General rules added for generalisation: legal advice abstains, synonym groups, crisis variants.

Sentences here are written for the rules, not taken from any evaluation set.
"""
import pytest

from knowledge.intents import asks_legal_advice
from knowledge.kb import load_kb
from knowledge.normalize import normalize
from knowledge.understand import Understander


@pytest.fixture(scope="module")
def understander():
    return Understander(load_kb())


# --- legal advice and predictions abstain ------------------------------------------------

@pytest.mark.parametrize("text", [
    "うちの子は少年院に入るんでしょうか",
    "懲役何年くらいになると思う",
    "罰金っていくらになりますか",
    "不起訴になる可能性はありますか",
    "刑務所に行くことになりますか",
    "逮捕歴って消えるの？前科は消せる？",
    "弁護士を探してほしい",
    "国選の先生ってどう頼むん",
    "保釈の手続きを知りたい",
    "被害者と示談したい",
])
def test_legal_advice_and_predictions_are_recognised(text):
    assert asks_legal_advice(normalize(text)), text


@pytest.mark.parametrize("text", [
    "執行猶予中でも保護観察はつくの",       # how the system works
    "不起訴になるとどうなるの",             # what happens next, not a forecast
    "罰金で終わったら保護観察はつかないの？",
    "刑務所にいる夫と面会したい",
    "拘禁刑になったら作業しなくていいの",
    "懲役がなくなったって聞いた",           # past: news, not a forecast
    "弁護士さんにここを教えてもらいました",
    "前科があっても働けるところはある？",
])
def test_questions_about_the_system_are_not_legal_advice(text):
    assert not asks_legal_advice(normalize(text)), text


@pytest.mark.parametrize("text", [
    "判決で実刑になると思いますか",
    "いい弁護士さん紹介してくれん？",
    "保釈金って用意できないとどうなる",
])
def test_legal_advice_abstains_even_when_it_shares_faq_words(understander, text):
    u = understander.classify(text)
    assert (u.intent, u.topic) == ("none", None), text


def test_an_entry_that_answers_the_question_wins_over_the_legal_rule(understander):
    # The zenka entry (「前科は消える?」, 刑の消滅) was added after the legal rule: how long a
    # record lasts is now answered, although the rule still reads it as a forecast.
    assert asks_legal_advice(normalize("前科は何年で消えますか"))
    u = understander.classify("前科は何年で消えますか")
    assert (u.intent, u.topic) == ("faq", "zenka")


def test_a_crisis_inside_a_legal_question_is_still_a_crisis(understander):
    assert understander.classify("実刑になるなら死にたい").intent == "crisis"


# --- crisis variants: dialect, slang, indirect wording, a third person ----------------------

@pytest.mark.parametrize("text", [
    "もう死にてえよ",                      # Kanto/Tohoku slang
    "死んでまいたいわ",                    # Kansai
    "生きとっても仕方なか",                # Kyushu
    "生きてる意味がわからん",
    "楽に消えるやり方ないかな",
    "私なんかいなくなった方がいい",
    "このまま目覚めたくない",
    "今日で終わりにしよう",
    "マンションから飛ぼうと思う",
    "風邪薬を40錠のんだ",
    "親父に殴られとる",
    "今も暴力を受けています",
    "このままじゃ子どもに手が出そう",
    "友だちが息をしていない",
])
def test_crisis_variants(understander, text):
    assert understander.classify(text).intent == "crisis", text


@pytest.mark.parametrize("text", [
    "電車で息してないくらい爆睡してた", "手が出そうな値段の部屋", "殺しそうな目つきの犬",
    "窓から飛行機が見えた", "意識が高い人", "ネットで叩かれてる",
])
def test_everyday_phrases_near_the_new_variants_are_not_crisis(understander, text):
    assert understander.classify(text).intent != "crisis", text


# --- synonym groups and grammar words -------------------------------------------------------

def _groups(understander, text):
    a = understander.lexical.synonyms.analyze(text)
    return set().union(*understander.lexical.synonyms.units(a.tokens, a.surfaces))


@pytest.mark.parametrize("a,b,group", [
    ("兄が逮捕された", "兄がつかまった", "syn:arrest"),
    ("会社をクビになった", "解雇された", "syn:job-loss"),
    ("無理やり入れられる", "強制される", "syn:own-will"),
    ("また手を出しそう", "衝動がおさえられない", "syn:urge"),
    ("病院で治る？", "治療を受けたい", "syn:treatment"),
    ("このチャットは", "ロボットが答えてる", "syn:bot"),
])
def test_new_synonym_groups_join_everyday_words(understander, a, b, group):
    assert group in _groups(understander, a)
    assert group in _groups(understander, b)


def test_arrest_is_one_group_not_split_with_criminal_procedure(understander):
    # A word gets only the first group that lists it: 逮捕 must land where 捕まる is.
    assert "syn:criminal-procedure" not in _groups(understander, "逮捕")


@pytest.mark.parametrize("text,grammar", [
    ("寮みたいなところ", "みたい"), ("また盗んでしまいそう", "そう"), ("うつっぽい", "ぽい"),
])
def test_auxiliary_stems_are_not_content_words(text, grammar):
    from knowledge.normalize import analyze
    assert grammar not in analyze(text).tokens


@pytest.mark.parametrize("text", ["出所したら逮捕歴ってどうなるの", "犯罪歴は一生残りますか"])
def test_what_becomes_of_a_record_is_legal_advice(understander, text):
    assert understander.classify(text).intent == "none", text
