"""Japanese typed in Latin letters (「sumu toko nai」「hogokansatsu tte itsumade?」) read as kana.

Why: some people write romaji — a phone set to an English keyboard, a foreign-born writer,
a young person who never switched input — and the classifier, the lexicon and the crisis floor
all read kana and kanji. A blind set with a romaji register scored 4 of 27 before this.

The conversion is jaconv's (``alphabet2kana``, a kept library), with what Hepburn writing
differs on: ``n`` before a vowel is ん only when doubled (``minna`` is みんな, not みんあ), and a
lone ``wa``/``wo``/``e`` between words is the particle は/を/へ. Only messages that are mostly
Latin letters are touched, only when most of those letters read as romaji syllables (English —
「I want to die」 — stays English, for the crisis floor's own English words), and only the words
that do (「LINE」 and 「ok」 stay).
"""
from __future__ import annotations

import re

import jaconv

_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_HEPBURN_NN = re.compile(r"(?<!n)nn(?=[aiueoy])")
_HONORIFIC = re.compile(r"-(?=(san|sama|chan|kun|sensei)$)")
_PARTICLES = {"wa": "は", "wo": "を", "e": "へ"}
_MIN_LETTERS = 4
# One romaji syllable (Hepburn, kunrei and IME spellings), a moraic n, or the first letter of a
# doubled consonant (っ). English words rarely parse: 「want」「help」「hello」 end or cluster wrongly.
_SYLLABLE = (r"(?:(?:ch|sh|ts|dz|ky|gy|ny|hy|by|py|my|ry|jy|cy|sy|zy|ty|dy|fy|"
             r"[kgsztdnhbpmrfjvwyc])?[aiueo]|n'?|([kgsztdhbpmrfjcv])(?=\1)|t(?=ch)|-)")
_ROMAJI_WORD = re.compile(f"(?:{_SYLLABLE})+")
_MACRONS = str.maketrans({"ā": "aa", "ī": "ii", "ū": "uu", "ē": "ee", "ō": "ou", "â": "aa", "î": "ii", "û": "uu", "ê": "ee", "ô": "ou"})
# Share of a message's Latin letters that must read as romaji: 「I want to die」 is English
_ROMAJI_SHARE = 0.7
# Latin words that people mix into Japanese as they are: never read as romaji
_KEEP = frozenset({"line", "sns", "dv", "ok", "ng", "pc", "id", "sos", "dm", "lol", "w", "www"})
# English words written in romaji sentences for katakana words of the domain
_LOANWORDS = {"home": "ほーむ", "menu": "めにゅー", "hello": "はろー", "help": "へるぷ"}


def mostly_romaji(text: str) -> bool:
    """True when Latin letters are most of what is written (spaces and punctuation aside)."""
    letters = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    if letters < _MIN_LETTERS:
        return False
    written = sum(1 for ch in text if not ch.isspace() and (ch.isalpha() or ord(ch) > 0x3000))
    return letters * 2 >= written


def kana_from_romaji(text: str) -> str:
    """``text`` with its romaji words in hiragana, or ``text`` itself when it is not romaji.

    English is left as it is: a message converts only when most of its Latin letters are in
    words that read as romaji syllables, and then only those words convert.
    """
    text = text.translate(_MACRONS)
    if not mostly_romaji(text):
        return text
    words = [w for w in (w.lower() for w in _LATIN_WORD.findall(text)) if w not in _KEEP]
    readable = sum(len(w) for w in words if _reads_as_romaji(w))
    if readable < _ROMAJI_SHARE * sum(len(w) for w in words):
        return text
    return _LATIN_WORD.sub(_word_as_kana, text)


def _reads_as_romaji(lower: str) -> bool:
    return lower in _PARTICLES or lower in _LOANWORDS or bool(_ROMAJI_WORD.fullmatch(lower.replace("'", "")))


def _word_as_kana(match: re.Match[str]) -> str:
    word = match.group(0)
    lower = word.lower()
    if lower in _KEEP:
        return word
    if lower in _PARTICLES:
        return _PARTICLES[lower]
    if lower in _LOANWORDS:
        return _LOANWORDS[lower]
    if not _ROMAJI_WORD.fullmatch(lower.replace("'", "")):
        return word
    lower = _HONORIFIC.sub("", lower)  # hogoshi-san: the hyphen only joins the honorific
    kana = jaconv.alphabet2kana(_HEPBURN_NN.sub("n'n", lower)).replace("'", "").replace("-", "ー")
    return word if re.search(r"[a-z]", kana) else kana
