"""Recognises what a person waiting for staff says about calling and violence (pure, no I/O).

Why its own small module: the crisis floor must answer 「電話はむり。声だしたくない」 with
text-based help, not with the same phone numbers again, and must add DV相談+ and 189 when
violence is involved. Both checks are word lists a reviewer can read, like the crisis lexicon.
"""
from __future__ import annotations

import re
import unicodedata

# why these forms: typed on a phone, often in hiragana or half-width katakana (folded to hiragana
# first), without particles, in dialect: the negative endings of Kansai (へん, ひん), Kyushu and
# Hiroshima (ん, なか) and Tohoku (ね, ねぇ) all say "cannot".
_NEG = r"(ない|ねぇ|ねえ|ねー|ね|ません|へん|ひん|ん|なか)"
_CANNOT_CALL = re.compile(
    r"(電話|でんわ|通話|つうわ|tel)(は|が|を|も|とか|なんて)?(.{0,4})?"
    r"(むり|無理|(でき|でけ|でぎ|出来)" + _NEG + r"|こわい|こわか|怖い|怖か|いや|嫌|したくない|かけられ|かけれ|かけらん|きつい|きつか|しんどい|だめ|ない|ねぇ)"
    r"|(声|こえ)(が|を|は|も)?((出|だ)(せ|し)(たくない|" + _NEG[1:] + r"|(出|で)" + _NEG + r")"
    r"|(話す|はなす|しゃべる|喋る)(の|こと)?(は|が|も)?(むり|無理|でき" + _NEG + r"|こわい|こわか|怖い|きつい|きつか)"
    r"|(しゃべれ|喋れ|話せ|はなせ)" + _NEG
    + r"|(聞かれ|きかれ)(る|たら|ちゃう)"
    r"|文字(で|が)(いい|相談|話)|(ちゃっと|chat|らいん|line|sns)(で|が)(いい|相談|話)"
)

_VIOLENCE_CRISIS_IDS = frozenset({"violence-now", "threat-to-life"})
# Someone's life is at stake now and a person nearby could call 110/119 for them: a collapse,
# pills taken, violence or a threat happening now. Then "you need not phone" would be wrong.
_EMERGENCY_CRISIS_IDS = frozenset({"medical-emergency", "overdose-taken", "overdose", "violence-now",
                                   "threat-to-life", "chased-threatened", "third-person-now"})
_VIOLENCE = re.compile(
    r"(殴|なぐ)|(蹴|け)られ|暴力|ぼうりょく|dv|虐待|ぎゃくたい|(叩|たた)かれ|(殺|ころ)され|(首|くび)を?(絞|し)め|(刃物|包丁|ほうちょう)"
)


def _norm(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text or "").lower().replace(" ", "").replace("　", "")
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in folded)  # katakana → hiragana


def cannot_call(text: str) -> bool:
    """The person says they cannot or will not phone (電話できない, 声出せない, 話すのむり …)."""
    return bool(_CANNOT_CALL.search(_norm(text)))


# Someone close named as the subject (母が, 息子は, ともだちが …): the danger may be theirs, so the
# kind line speaks of "that person and you". 夫に殴られ (に, not が/は) stays about the writer.
_SOMEONE_ELSE = re.compile(
    r"(子供|子ども|こども|うちの子|息子|むすこ|娘|むすめ|夫|旦那|だんな|妻|嫁|よめ|彼氏|かれし|彼女|かのじょ"
    r"|母|おかん|おかあさん|お母さん|かあちゃん|父|おとん|おとうさん|お父さん|とうちゃん|親"
    r"|兄|にいちゃん|弟|おとうと|姉|ねえちゃん|妹|いもうと|祖母|祖父|ばあちゃん|じいちゃん"
    r"|友達|友人|ともだち|知り合い|しりあい|同僚|隣の人|となりのひと|利用者|入所者|相手)"
    r"(さん|ちゃん|くん)?(が|は|も|って|、|,)"
)


def about_someone_else(text: str) -> bool:
    """The message reports danger to someone else (家族が倒れた, 息子は死ぬって) rather than the writer's own."""
    return bool(_SOMEONE_ELSE.search(_norm(text)))


def is_emergency(crisis_id: str | None) -> bool:
    """The crisis needs 110/119 now, which a person nearby can call (see _EMERGENCY_CRISIS_IDS)."""
    return crisis_id in _EMERGENCY_CRISIS_IDS


def involves_violence(text: str, crisis_id: str | None = None) -> bool:
    """Violence is involved (then DV相談+ and 189 are shown)."""
    return crisis_id in _VIOLENCE_CRISIS_IDS or bool(_VIOLENCE.search(_norm(text)))
