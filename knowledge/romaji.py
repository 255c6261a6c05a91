"""Japanese typed in Latin letters (「sumu toko nai」「hogokansatsu tte itsumade?」) read as kana.

Why: some people write romaji — a phone set to an English keyboard, a foreign-born writer,
a young person who never switched input — and the classifier, the lexicon and the crisis floor
all read kana and kanji. A blind set with a romaji register scored 4 of 27 before this.

The conversion is jaconv's (``alphabet2kana``, a kept library), with what Hepburn writing
differs on: ``n`` before a vowel is ん only when doubled (``minna`` is みんな, not みんあ), and a
lone ``wa``/``wo``/``e`` between words is the particle は/を/へ. Only messages that are mostly
Latin letters are touched, and only words that convert completely (「LINE」 in a kana message
stays; 「ok」 alone stays).
"""
from __future__ import annotations

import re

import jaconv

_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_HEPBURN_NN = re.compile(r"(?<!n)nn(?=[aiueoy])")
_PARTICLES = {"wa": "は", "wo": "を", "e": "へ"}
_MIN_LETTERS = 4
# Latin words that people mix into Japanese as they are: never read as romaji
_KEEP = frozenset({"line", "sns", "dv", "ok", "ng", "pc", "id", "sos", "dm", "lol", "w", "www"})
# English words written in romaji sentences for katakana words of the domain
_LOANWORDS = {"home": "ほーむ", "hoomu": "ほーむ", "homu": "ほーむ"}


def mostly_romaji(text: str) -> bool:
    """True when Latin letters are most of what is written (spaces and punctuation aside)."""
    letters = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    if letters < _MIN_LETTERS:
        return False
    written = sum(1 for ch in text if not ch.isspace() and (ch.isalpha() or ord(ch) > 0x3000))
    return letters * 2 >= written


def kana_from_romaji(text: str) -> str:
    """``text`` with its romaji words in hiragana, or ``text`` itself when it is not romaji."""
    if not mostly_romaji(text):
        return text
    return _LATIN_WORD.sub(_word_as_kana, text)


def _word_as_kana(match: re.Match[str]) -> str:
    word = match.group(0)
    lower = word.lower()
    if lower in _KEEP:
        return word
    if lower in _PARTICLES:
        return _PARTICLES[lower]
    if lower in _LOANWORDS:
        return _LOANWORDS[lower]
    kana = jaconv.alphabet2kana(_HEPBURN_NN.sub("n'n", lower)).replace("'", "").replace("-", "ー")
    return word if re.search(r"[a-z]", kana) else kana
