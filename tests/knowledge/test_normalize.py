"""Normalisation of Japanese as people type it on a phone."""
from knowledge.normalize import analyze, clean, content_tokens, fold_kana, normalize, reading


def test_half_width_katakana_becomes_full_width_then_hiragana():
    assert clean("ﾘｽﾀﾎﾟ") == "リスタポ"
    assert normalize("ﾘｽﾀﾎﾟ") == "りすたぽ"
    assert normalize("ＯＤ") == "od"


def test_full_width_latin_and_digits_are_folded_and_lowercased():
    assert normalize("ＡＢＣ　１２３") == "abc 123"


def test_katakana_and_hiragana_compare_equal():
    assert normalize("クスリ") == normalize("くすり")
    assert fold_kana("ホーム") == "ほーむ"


def test_long_vowel_noise_is_removed_but_loanword_spelling_kept():
    assert normalize("こんばんは〜") == "こんばんは"
    assert normalize("ありがとーーー") == "ありがと"
    assert normalize("すごーい") == "すごい"
    assert normalize("ジリツジュンビホーーム") == "じりつじゅんびほーむ"
    assert normalize("でーた") == "でーた"


def test_small_kana_and_repeats_are_collapsed():
    assert normalize("しにたぁぁぁい") == "しにたい"
    assert normalize("助けてっっ") == "助けて"
    assert normalize("ああああああ") == "ああ"


def test_emoji_and_punctuation_are_stripped_and_spaces_collapsed():
    assert normalize("ごはん🍚　買う　　おかね💸もない！！") == "ごはん 買う おかね もない"
    assert normalize("🍣🍣🍣") == ""
    assert normalize("ｗｗｗｗ") == ""
    assert normalize("") == ""


def test_sudachi_normalized_forms_unify_spelling_variants():
    assert content_tokens("引越しした") == content_tokens("引っ越しした")
    assert content_tokens("泊る") == content_tokens("泊まる")
    assert content_tokens("ｼｺﾞﾄ") == content_tokens("仕事")


def test_content_tokens_drop_particles_and_auxiliaries():
    tokens = content_tokens("出所したけど住むとこがない")
    assert "出所" in tokens and "住む" in tokens
    assert not {"けど", "が", "た", "ない"} & set(tokens)


def test_reading_is_hiragana_for_kanji_and_kana_input():
    assert reading("保護観察所") == reading("ほごかんさつしょ") == "ほごかんさつしょ"
    assert analyze("拘禁刑").reading == "こうきんけい"


def test_noun_compounds_are_reported_for_close_topics():
    assert "保護観察所" in analyze("保護観察所ってなに").compounds
    assert "保護観察所" not in analyze("保護観察ってなに").compounds


def test_protected_kana_terms_stay_one_token():
    import re

    a = analyze("りすたぽってなに", protect=re.compile("りすたぽ"))
    assert a.tokens[0] == "りすたぽ"
