"""Recognise where a user lives and list the local offices from ``resources.yaml``.

``find_place("大阪に住んでる")`` → ``Place(prefecture="大阪府", ...)``;
``offices_for(place)`` → the probation offices and 地域生活定着支援センター of that
prefecture, exactly as the resources file has them (empty fields stay ``None``);
``format_offices(offices)`` → a short plain-Japanese listing for the chat.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

RESOURCES_PATH = Path(__file__).parent / "resources.yaml"

# (prefecture, short name, hiragana reading or None when the bare reading is an everyday
# word — あきた「飽きた」, なら「〜なら」, さが「探す」 … those match only with a suffix)
_PREFECTURES: list[tuple[str, str, str, bool]] = [
    # full name, short name, hiragana short name, bare hiragana allowed
    ("北海道", "北海道", "ほっかいどう", True),
    ("青森県", "青森", "あおもり", True),
    ("岩手県", "岩手", "いわて", True),
    ("宮城県", "宮城", "みやぎ", True),
    ("秋田県", "秋田", "あきた", False),
    ("山形県", "山形", "やまがた", True),
    ("福島県", "福島", "ふくしま", True),
    ("茨城県", "茨城", "いばらき", True),
    ("栃木県", "栃木", "とちぎ", True),
    ("群馬県", "群馬", "ぐんま", True),
    ("埼玉県", "埼玉", "さいたま", True),
    ("千葉県", "千葉", "ちば", False),
    ("東京都", "東京", "とうきょう", True),
    ("神奈川県", "神奈川", "かながわ", True),
    ("新潟県", "新潟", "にいがた", True),
    ("富山県", "富山", "とやま", True),
    ("石川県", "石川", "いしかわ", True),
    ("福井県", "福井", "ふくい", True),
    ("山梨県", "山梨", "やまなし", True),
    ("長野県", "長野", "ながの", True),
    ("岐阜県", "岐阜", "ぎふ", True),
    ("静岡県", "静岡", "しずおか", True),
    ("愛知県", "愛知", "あいち", True),
    ("三重県", "三重", "みえ", False),
    ("滋賀県", "滋賀", "しが", False),
    ("京都府", "京都", "きょうと", True),
    ("大阪府", "大阪", "おおさか", True),
    ("兵庫県", "兵庫", "ひょうご", True),
    ("奈良県", "奈良", "なら", False),
    ("和歌山県", "和歌山", "わかやま", True),
    ("鳥取県", "鳥取", "とっとり", True),
    ("島根県", "島根", "しまね", True),
    ("岡山県", "岡山", "おかやま", True),
    ("広島県", "広島", "ひろしま", True),
    ("山口県", "山口", "やまぐち", True),
    ("徳島県", "徳島", "とくしま", True),
    ("香川県", "香川", "かがわ", False),
    ("愛媛県", "愛媛", "えひめ", True),
    ("高知県", "高知", "こうち", False),
    ("福岡県", "福岡", "ふくおか", True),
    ("佐賀県", "佐賀", "さが", False),
    ("長崎県", "長崎", "ながさき", True),
    ("熊本県", "熊本", "くまもと", True),
    ("大分県", "大分", "おおいた", True),
    ("宮崎県", "宮崎", "みやざき", True),
    ("鹿児島県", "鹿児島", "かごしま", True),
    ("沖縄県", "沖縄", "おきなわ", True),
]

# 政令指定都市 and prefectural capitals whose name differs from the prefecture's.
# city → (prefecture, hiragana reading or None)
_CITIES: dict[str, tuple[str, str | None]] = {
    "札幌": ("北海道", "さっぽろ"), "函館": ("北海道", "はこだて"), "旭川": ("北海道", "あさひかわ"),
    "釧路": ("北海道", "くしろ"), "帯広": ("北海道", "おびひろ"),
    "盛岡": ("岩手県", "もりおか"), "仙台": ("宮城県", "せんだい"), "水戸": ("茨城県", "みと"),
    "宇都宮": ("栃木県", "うつのみや"), "前橋": ("群馬県", "まえばし"),
    "横浜": ("神奈川県", "よこはま"), "川崎": ("神奈川県", "かわさき"), "相模原": ("神奈川県", "さがみはら"),
    "浜松": ("静岡県", "はままつ"), "金沢": ("石川県", "かなざわ"), "甲府": ("山梨県", "こうふ"),
    "名古屋": ("愛知県", "なごや"), "津市": ("三重県", None), "大津": ("滋賀県", "おおつ"),
    "堺": ("大阪府", None), "神戸": ("兵庫県", "こうべ"), "松江": ("島根県", "まつえ"),
    "高松": ("香川県", "たかまつ"), "松山": ("愛媛県", "まつやま"), "北九州": ("福岡県", "きたきゅうしゅう"),
    "那覇": ("沖縄県", "なは"),
}
# 「大分前に」(だいぶ前に) is an everyday phrase: 大分 counts only as 大分県 / 大分市.
_SHORT_SUFFIX_ONLY = {"大分"}

# Hokkaido has four probation offices. A city maps to one only where resources.yaml
# itself allows it: the office's own city, and 帯広 (resources note: 釧路保護観察所帯広駐在官事務所).
_HOKKAIDO_OFFICE = {
    "札幌": "札幌保護観察所", "函館": "函館保護観察所", "旭川": "旭川保護観察所",
    "釧路": "釧路保護観察所", "帯広": "釧路保護観察所",
}

_SUFFIXES = "(?:都|道|府|県|けん|ふ|と|どう|市|し)"


@dataclass(frozen=True)
class Place:
    prefecture: str
    city: str | None = None
    matched: str = ""


@dataclass(frozen=True)
class Office:
    kind: str  # "probation_office" | "teichaku_center"
    prefecture: str
    name: str
    address: str | None = None
    phone: str | None = None
    source: str | None = None
    note: str | None = None


def _build_patterns() -> list[tuple[str, str, str | None]]:
    """(regex, prefecture, city) alternatives, longest first."""
    items: list[tuple[str, str, str | None]] = []
    for full, short, kana, bare in _PREFECTURES:
        items.append((re.escape(full), full, None))
        if short in _SHORT_SUFFIX_ONLY:
            items.append((re.escape(short) + _SUFFIXES, full, None))
        elif short != full:
            items.append((re.escape(short), full, None))
        items.append((re.escape(kana) + _SUFFIXES if not bare else re.escape(kana), full, None))
        if bare:
            items.append((re.escape(kana) + _SUFFIXES, full, None))
    for city, (pref, kana) in _CITIES.items():
        items.append((re.escape(city), pref, city.removesuffix("市")))
        if kana:
            items.append((re.escape(kana), pref, city))
    items.sort(key=lambda it: len(it[0]), reverse=True)
    return items


_PATTERNS = _build_patterns()
_REGEX = re.compile("|".join(f"(?P<p{i}>{pat})" for i, (pat, _, _) in enumerate(_PATTERNS)))


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace(" ", "").replace("\u3000", "")
    # katakana → hiragana so 「オオサカ」 reads like 「おおさか」
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in text)


def find_place(text: str) -> Place | None:
    """Return the first prefecture or major city named in ``text``, or ``None``."""
    if not text:
        return None
    m = _REGEX.search(_normalise(text))
    if not m:
        return None
    index = int(m.lastgroup[1:])
    _, prefecture, city = _PATTERNS[index]
    return Place(prefecture=prefecture, city=city, matched=m.group(0))


@lru_cache(maxsize=4)
def _load_resources(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


def _office(kind: str, item: dict) -> Office:
    def value(key: str) -> str | None:
        v = item.get(key)
        return str(v) if v not in (None, "") else None

    return Office(kind=kind, prefecture=item["prefecture"], name=item["name"], address=value("address"),
                  phone=value("phone"), source=value("source"), note=value("note"))


def offices_for(place: Place | None, resources_path: Path | str | None = None) -> list[Office]:
    """Probation offices, then 地域生活定着支援センター, for the place's prefecture."""
    if place is None:
        return []
    data = _load_resources(str(resources_path or RESOURCES_PATH))
    probation = [_office("probation_office", it) for it in data.get("probation_offices") or []
                 if it.get("prefecture") == place.prefecture]
    hokkaido_office = _HOKKAIDO_OFFICE.get(place.city or "") if place.prefecture == "北海道" else None
    if hokkaido_office and any(o.name == hokkaido_office for o in probation):
        probation = [o for o in probation if o.name == hokkaido_office]
    centers = [_office("teichaku_center", it) for it in data.get("teichaku_centers") or []
               if it.get("prefecture") == place.prefecture]
    return probation + centers


def format_offices(offices: list[Office]) -> str:
    """A short listing: name, then address and phone only when the resources file has them."""
    if not offices:
        return "この地域の窓口は、職員がお伝えできます。「人と話したい」と送ってください。"
    lines = ["お近くの窓口です。"]
    for office in offices:
        lines.append(f"・{office.name}")
        if office.address:
            lines.append(f"　{office.address}")
        if office.phone:
            lines.append(f"　電話 {office.phone}")
        if not office.address and not office.phone:
            lines.append("　住所・電話は職員がお伝えできます")
        elif not office.address:
            lines.append("　住所は職員がお伝えできます")
        elif not office.phone:
            lines.append("　電話は職員がお伝えできます")
    return "\n".join(lines)
