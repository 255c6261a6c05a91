"""Japanese written in Latin letters is read as kana by every stage, the crisis floor first.

Sentences here are written for the kind (romaji on an English keyboard), not taken from any set.
"""
import pytest

from knowledge.kb import load_kb
from knowledge.romaji import kana_from_romaji, mostly_romaji
from knowledge.understand import Understander


@pytest.fixture(scope="module")
def understander():
    return Understander(load_kb())


@pytest.mark.parametrize("romaji, kana", [
    ("sumu toko nai", "すむ とこ ない"),
    ("minna ni iwareta", "みんな に いわれた"),          # Hepburn: n before a vowel is ん only when doubled
    ("konnichiwa", "こんにちわ"),
    ("ryokin wa ikura", "りょきん は いくら"),            # the lone particle wa is は
    ("jiritsu junbi home e ikitai", "じりつ じゅんび ほーむ へ いきたい"),
    ("LINE de soudan", "LINE で そうだん"),              # a Latin word people keep as it is
])
def test_romaji_becomes_kana(romaji, kana):
    assert kana_from_romaji(romaji) == kana


@pytest.mark.parametrize("text", ["ありがとう ok", "LINEで相談したい", "DVです", "ok", "1234"])
def test_japanese_with_a_few_latin_letters_is_left_alone(text):
    assert not mostly_romaji(text)
    assert kana_from_romaji(text) == text


@pytest.mark.parametrize("text, intent, topic", [
    ("sumu toko ga nai", "faq", "sumai-ga-nai"),
    ("okane ga nai, kyou taberu mono mo nai", "faq", "seikatsu-konkyu"),
    ("musuko ga taiho sareta", "faq", "kazoku-taiho"),
    ("Kousei hogo shisetsu tte nani?", "faq", "kousei-hogo-shisetsu"),
    ("hito to hanashitai", "handoff", None),
    ("arigatou gozaimasu", "thanks", None),
])
def test_romaji_questions_are_understood(understander, text, intent, topic):
    und = understander.classify(text)
    assert (und.intent, und.topic) == (intent, topic)


@pytest.mark.parametrize("text", ["mou shinitai", "kusuri zenbu nonda", "tasukete korosareru"])
def test_romaji_danger_reaches_the_crisis_floor(understander, text):
    assert understander.classify(text).intent == "crisis"


@pytest.mark.parametrize("english", ["I want to die", "Tax return how?", "I'm so tired", "kill myself", "fjdkslaa;;"])
def test_english_and_noise_are_not_read_as_romaji(english):
    # jaconv alone turned 「I want to die」 into い わんっ と ぢえ, hiding it from the crisis floor
    assert kana_from_romaji(english) == english


@pytest.mark.parametrize("romaji, kana", [
    ("Tōkyō ni sunde masu", "とうきょう に すんで ます"),   # macrons
    ("hogokansatu", "ほごかんさつ"),                          # kunrei / IME spelling
    ("Hogoshi-san ni aitai", "ほごしさん に あいたい"),       # a hyphen before the honorific
])
def test_other_romaji_spellings(romaji, kana):
    assert kana_from_romaji(romaji) == kana
