"""Recognises what a person waiting for staff says about calling and violence (pure, no I/O).

Why its own small module: the crisis floor must answer 「電話はむり。声だしたくない」 with
text-based help, not with the same phone numbers again, and must add DV相談+ and 189 when
violence is involved. Both checks are word lists a reviewer can read, like the crisis lexicon.
"""
from __future__ import annotations

import re
import unicodedata

# why these forms: typed on a phone, often in hiragana, without particles, in dialect.
_CANNOT_CALL = re.compile(
    r"(電話|でんわ|通話|つうわ)(は|が|を|も)?(.{0,4})?(むり|無理|ムリ|でき(ない|へん|ん|ません)|出来(ない|ません)|こわい|怖い|いや|嫌|したくない|かけられ|かけれ|ない)"
    r"|(声|こえ)(が|を|は|も)?(出|だ)(せ|し)(ない|たくない|ません|へん|ん)"
    r"|(話す|はなす|しゃべる|喋る)(の|こと)?(は|が|も)?(むり|無理|ムリ|できない|こわい|怖い)"
    r"|(しゃべれ|喋れ|話せ|はなせ)(ない|ません|へん|ん)"
    r"|(聞かれ|きかれ)(る|たら|ちゃう)"
    r"|文字(で|が)(いい|相談|話)|(チャット|ちゃっと|ライン|line|sns)(で|が)(いい|相談|話)"
)

_VIOLENCE_CRISIS_IDS = frozenset({"violence-now", "threat-to-life"})
_VIOLENCE = re.compile(
    r"(殴|なぐ)|(蹴|け)られ|暴力|ぼうりょく|dv|虐待|ぎゃくたい|(叩|たた)かれ|(殺|ころ)され|(首|くび)を?(絞|し)め|(刃物|包丁|ほうちょう)"
)


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").lower().replace(" ", "").replace("　", "")


def cannot_call(text: str) -> bool:
    """The person says they cannot or will not phone (電話できない, 声出せない, 話すのむり …)."""
    return bool(_CANNOT_CALL.search(_norm(text)))


def involves_violence(text: str, crisis_id: str | None = None) -> bool:
    """Violence is involved (then DV相談+ and 189 are shown)."""
    return crisis_id in _VIOLENCE_CRISIS_IDS or bool(_VIOLENCE.search(_norm(text)))
