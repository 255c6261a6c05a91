"""Recognise where a user lives: ``find_place("博多に住んどる")`` → ``Place("福岡県", "博多")``.

A place is a whole word, never a piece of another one (さがしてる is not 佐賀, the なら of
「〜なら」 is not 奈良, 飽きた/あきた is not 秋田). Words come from the Sudachi tokenizer:
a prefecture counts when Sudachi reads the word as a proper noun (名詞,固有名詞 — 地名, or
人名 for 福島/長野, which are also surnames); a city or area counts when it is in the
``localities`` list of ``resources.yaml``. Prefecture readings that are everyday words in
hiragana (あきた, なら, さが …) count only with their suffix (あきたけん).

The directory itself (``offices_for``, ``format_offices``) lives in :mod:`knowledge.directory`
and is re-exported here, so callers keep one import.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import sudachipy

from knowledge.directory import RESOURCES_PATH, Office, format_offices, load_resources, offices_for

__all__ = ["Place", "Office", "RESOURCES_PATH", "find_place", "office_request", "offices_for", "format_offices"]

# (full name, hiragana reading of the short name, reading is an everyday word)
_PREFECTURES: list[tuple[str, str, bool]] = [
    ("北海道", "ほっかいどう", False), ("青森県", "あおもり", False), ("岩手県", "いわて", False),
    ("宮城県", "みやぎ", False), ("秋田県", "あきた", True), ("山形県", "やまがた", False),
    ("福島県", "ふくしま", False), ("茨城県", "いばらき", False), ("栃木県", "とちぎ", False),
    ("群馬県", "ぐんま", False), ("埼玉県", "さいたま", False), ("千葉県", "ちば", True),
    ("東京都", "とうきょう", False), ("神奈川県", "かながわ", False), ("新潟県", "にいがた", False),
    ("富山県", "とやま", False), ("石川県", "いしかわ", False), ("福井県", "ふくい", False),
    ("山梨県", "やまなし", False), ("長野県", "ながの", False), ("岐阜県", "ぎふ", False),
    ("静岡県", "しずおか", False), ("愛知県", "あいち", False), ("三重県", "みえ", True),
    ("滋賀県", "しが", True), ("京都府", "きょうと", True), ("大阪府", "おおさか", False),
    ("兵庫県", "ひょうご", False), ("奈良県", "なら", True), ("和歌山県", "わかやま", False),
    ("鳥取県", "とっとり", False), ("島根県", "しまね", False), ("岡山県", "おかやま", False),
    ("広島県", "ひろしま", False), ("山口県", "やまぐち", False), ("徳島県", "とくしま", False),
    ("香川県", "かがわ", True), ("愛媛県", "えひめ", False), ("高知県", "こうち", True),
    ("福岡県", "ふくおか", False), ("佐賀県", "さが", True), ("長崎県", "ながさき", False),
    ("熊本県", "くまもと", False), ("大分県", "おおいた", True), ("宮崎県", "みやざき", False),
    ("鹿児島県", "かごしま", False), ("沖縄県", "おきなわ", False),
]
_SUFFIX_READING = {"県": "けん", "府": "ふ", "都": "と", "道": "どう"}
_HONORIFICS = frozenset({"さん", "くん", "ちゃん", "様", "さま", "氏", "君", "先生", "せんせい"})
# 「大分前に」「大分よくなった」: 大分 (だいぶ) as an adverb. Only these followers make it one.
_DAIBU_FOLLOWERS = frozenset({"前", "まえ", "後", "あと", "昔", "経つ", "たつ", "時間", "楽", "慣れる"})


@dataclass(frozen=True)
class Place:
    prefecture: str
    city: str | None = None
    matched: str = ""


def _fold(text: str) -> str:
    """NFKC, then katakana → hiragana (オオサカ, ｵｵｻｶ → おおさか)."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in text)


def _short(full: str) -> str:
    return full if full == "北海道" else full[:-1]


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, str], dict[str, str], dict[str, tuple[str, str]]]:
    """(kanji name → prefecture, free hiragana reading → prefecture, locality → (prefecture, city))."""
    kanji: dict[str, str] = {}
    kana: dict[str, str] = {}
    for full, reading, everyday in _PREFECTURES:
        kanji[full] = kanji[_short(full)] = full
        if not everyday:
            kana[reading] = full
    localities: dict[str, tuple[str, str]] = {}
    for prefecture, names in (load_resources(str(RESOURCES_PATH)).get("localities") or {}).items():
        for name in names or []:
            city = str(name).removesuffix("市") if len(str(name)) > 2 else str(name)
            localities[_fold(str(name))] = (prefecture, city)
    return kanji, kana, localities


@lru_cache(maxsize=1)
def _suffixed_readings() -> tuple[dict[str, str], re.Pattern[str]]:
    """Hiragana prefecture + its suffix (あきたけん, おおさかふ, とうきょうと) → prefecture, and a regex of them."""
    readings = {(reading if full == "北海道" else reading + _SUFFIX_READING[full[-1]]): full
                for full, reading, _ in _PREFECTURES}
    pattern = re.compile("|".join(map(re.escape, sorted(readings, key=len, reverse=True))))
    return readings, pattern


@lru_cache(maxsize=1)
def _tokenizer() -> sudachipy.Tokenizer:
    # why our own instance: loading costs ~30 ms once; the understander's is private to it.
    return sudachipy.Dictionary(dict="core").create()


def _strip_suffix(word: str) -> str | None:
    """名古屋市 → 名古屋, 大分県 → 大分, 東京都 → 東京 (None when there is no admin suffix)."""
    if len(word) >= 2 and word[-1] in "県府都市区" and word != "京都":
        return word[:-1]
    return None


def _token_place(tokens: list[sudachipy.Morpheme], i: int) -> Place | None:
    tok = tokens[i]
    following = tokens[i + 1] if i + 1 < len(tokens) else None
    place = _word_place(tok, following)
    if place is None and tok.part_of_speech()[1] == "固有名詞":
        # 東京駅, 博多駅, 札幌市中央区: a proper-noun compound whose first word is a place.
        parts = list(tok.split(sudachipy.SplitMode.A))
        if len(parts) > 1:
            place = _word_place(parts[0], parts[1])
    return place


def _word_place(tok: sudachipy.Morpheme, following: sudachipy.Morpheme | None) -> Place | None:
    surface = _fold(tok.surface())
    pos = tok.part_of_speech()
    after = _fold(following.surface()) if following is not None else ""
    after_pos = following.part_of_speech() if following is not None else ()
    if after in _HONORIFICS:
        return None  # 梅田さん, 福島先生: a person
    kanji, kana, localities = _tables()
    proper = pos[1] == "固有名詞"
    stripped = _strip_suffix(surface)

    for word, suffixed in ((surface, False), (stripped, True)):
        if not word:
            continue
        if word in kanji and (proper or suffixed):
            if word == "大分" and not suffixed and _is_daibu(pos, after, after_pos):
                return None
            return Place(kanji[word], None, tok.surface())
        if word in localities:
            prefecture, city = localities[word]
            kana_only = all("ぁ" <= c <= "ゖ" for c in word)
            if kana_only and not proper:
                continue
            return Place(prefecture, city, tok.surface())
        if word in kana and proper:
            return Place(kana[word], None, tok.surface())
    return None


def _is_daibu(pos: tuple[str, ...], following: str, following_pos: tuple[str, ...]) -> bool:
    """True when 大分 reads as だいぶ (an adverb), not as the prefecture."""
    if pos[0] == "副詞":
        return True
    if following in _DAIBU_FOLLOWERS:
        return True
    return bool(following_pos) and following_pos[0] in ("形容詞", "副詞", "動詞", "形状詞")


def find_place(text: str) -> Place | None:
    """The first prefecture, city or area named in ``text`` (whole words only), or ``None``."""
    if not text or not text.strip():
        return None
    normalised = unicodedata.normalize("NFKC", text)
    tokens = list(_tokenizer().tokenize(normalised, sudachipy.SplitMode.C))
    found: list[tuple[int, Place]] = []
    for i, tok in enumerate(tokens):
        place = _token_place(tokens, i)
        if place is not None:
            found.append((tok.begin(), place))
            break
    found.extend(_suffixed_kana(normalised, tokens))
    if not found:
        return None
    return min(found, key=lambda item: item[0])[1]


def _suffixed_kana(normalised: str, tokens: list[sudachipy.Morpheme]) -> list[tuple[int, Place]]:
    """あきたけん, さがけん, おおいたけん: hiragana name + suffix that starts and ends on word edges."""
    folded = _fold(normalised)  # same length: NFKC is already applied, kana folding is 1:1
    starts = {t.begin() for t in tokens}
    ends = {t.end() for t in tokens}
    readings, pattern = _suffixed_readings()
    return [(m.start(), Place(readings[m.group(0)], None, normalised[m.start():m.end()]))
            for m in pattern.finditer(folded) if m.start() in starts and m.end() in ends]


# A request for an office: names an office or 窓口, and asks where / how to reach it.
_OFFICE_WORDS = re.compile(r"窓口|まどぐち|観察所|かんさつしょ|定着|ていちゃく|センター|せんたー|相談先|そうだんさき|事務所")
_WHERE_WORDS = re.compile(
    r"どこ|何処|場所|ばしょ|住所|じゅうしょ|所在地|電話|でんわ|番号|ばんごう|連絡先|れんらくさき|近く|ちかく|"
    r"行き方|いきかた|教えて|おしえて|知りたい|しりたい"
)


def office_request(text: str) -> Place | None:
    """The place, when ``text`` names one and asks where its office is (「博多に住んどるけど窓口どこ？」).

    Why the words first: the engine asks this of every message, and most name no office; the
    two regexes cost microseconds, finding a place costs a second tokenisation of the message.
    """
    if not text:
        return None
    folded = _fold(text)
    if not (_OFFICE_WORDS.search(folded) and _WHERE_WORDS.search(folded)):
        return None
    return find_place(text)
