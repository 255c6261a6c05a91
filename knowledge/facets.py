"""Which part of an entry a question asks for: how long, how much, who, with a record, where, how.

Why: 「保護観察っていつまで？」 and 「前科があっても生活保護うけれる？」 are answered by a general
entry, but the person asked one thing. An entry may hold short *facets* (front matter
``facets: {period: ..., record: ...}``); the bot shows the facet that the question asks for
first, then the general text. Detection is a small set of patterns on normalised text
(hiragana-folded, see :mod:`knowledge.normalize`), one group per facet, so that editors can
read what triggers what.
"""
from __future__ import annotations

import re

FACETS = ("period", "cost", "who", "record", "where", "how")

# Ordered: the first facet whose pattern matches wins. ``record`` comes first because
# 「前科があっても入れる？」 asks a yes/no about the record, not who may enter in general.
_PATTERNS: tuple[tuple[str, str], ...] = (
    # with a criminal record / after prison, can I ...?
    ("record", r"(前科|ぜんか|前歴|ぜんれき|犯罪歴|逮捕歴|刑務所|けいむしょ|むしょ|少年院|出所|しゅっしょ|前科者)"
               r"[^ ]{0,8}?(でも|あっても|あっても|あるけど|あるけん|あるんやけど|あるのに|ありでも|があると|がある人|持ち|もち)"),
    # how long / until when
    ("period", r"(いつまで|何年|なんねん|何か月|何ヶ月|何カ月|なんかげつ|何日|なんにち|期間|きかん|"
               r"どのくらい(の間|のあいだ|続|つづ|い(ら|れ)れる)|どれくらい(の間|のあいだ|続|つづ|い(ら|れ)れる)|"
               r"どんだけ(続|つづ|い(ら|れ)れる)|長さ|いつ(まで|終わ|おわ))"),
    # how much does it cost
    ("cost", r"(いくら|なんぼ|何円|なんえん|費用|ひよう|料金|りょうきん|お金(が|は|って)?(かか|いる|要る|掛か|払)|"
             r"おかね(が|は|って)?(かか|いる|払)|有料|ゆうりょう|無料|むりょう|ただ(で|なん|なの|\s|$)|自己負担|利用料)"),
    # who can use it
    ("who", r"(誰(でも|が|なら)|だれ(でも|が|なら)|対象|たいしょう|どんな人|どういう人|入れる人|使える人|"
            r"(俺|おれ|わたし|私|うち|自分)(でも|も)(入|はい|使|つか|利用|申し込|もうしこ)(れ|え|め)る)"),
    # where to go
    ("where", r"(どこ(に|で|へ|の|にある|にあり|行け|いけ)|場所|ばしょ|住所|じゅうしょ|最寄|もより|近く(の|に))"),
    # how to apply
    ("how", r"(どうやって|どうしたら(使|つか|入|はい|申し込|もうしこ|受け|うけ)|申し込み|申込|もうしこみ|手続き|てつづき|"
            r"(方法|ほうほう)|やり方|やりかた)"),
)
_COMPILED = tuple((name, re.compile(p)) for name, p in _PATTERNS)


# What may stand around a facet's words in a question that names no topic of its own:
# pointing words (それ, そこ), particles, sentence ends in several dialects, and the verbs the
# facets go with (いれる, かかる, つかえる). Anything else — a noun, a kanji word, a place — is a
# topic of its own, and the classifier decides.
_BARE_REST = re.compile(
    r"(それ|これ|あれ|そこ|ここ|あそこ|そっち|こっち|そちら|こちら|その|この|あの|そいつ|"
    r"です|ます|でしょう|でしょ|だろう|だろ|やろ|じゃろ|だべ|だがや|かな|かね|のう|けん|けえ|ばい|"
    r"っけ|なん|なの|する|して|します|なる|なります|あります|ある|いる|いれる|いられる|おれる|おられる|"
    r"はいれる|入れる|入る|はいる|つかえる|使える|使う|つかう|申し込む|もうしこむ|申し込める|もうしこめる|"
    r"払う|はらう|かかる|かかります|もらえる|できる|出来る|いける|行ける|いく|行く|る|り|う|た|て|"
    r"ぐらい|くらい|まで|ずっと|だいたい|って|は|も|が|の|に|で|を|と|か|な|ん|ね|よ|わ|や|さ|じゃ|だ|"
    r"[おごー〜~!！?？。、…・ ])*"
)


def detect_facet(norm: str) -> str | None:
    """The facet ``norm`` (normalised text) asks for, or None for a general question.

    Spaces are closed first: 「おかねは かかるん」 written in spaced hiragana asks the same.
    """
    found = _facet_match(norm.replace(" ", ""))
    return found[0] if found else None


def follow_up_facet(norm: str) -> str | None:
    """The facet a question asks for when it names nothing else: 「いつまで？」「おかねは かかるん？」.

    Why: right after an answer people ask about *it* without naming it again; such a question
    belongs to the entry just answered, not to whichever entry the words alone fit best
    (「お金かかる？」 alone would be the entry on the cost of consulting). The bot uses it only
    when the entry it answered last has that facet.
    """
    compact = norm.replace(" ", "")
    found = _facet_match(compact)
    if found is None:
        return None
    name, match = found
    rest = compact[:match.start()] + compact[match.end():]
    return name if _BARE_REST.fullmatch(rest) else None


def _facet_match(compact: str) -> tuple[str, re.Match[str]] | None:
    for name, pattern in _COMPILED:
        match = pattern.search(compact)
        if match:
            return name, match
    return None
