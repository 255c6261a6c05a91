"""Does a message the knowledge base cannot answer tell a feeling rather than ask something?

Why: 「もう つかれた なんもかんも いやになった」 is not a question, and the bot's honest "I cannot
answer that question here" read as cold to a person who had just said how they feel. Such a
message is not danger by the labelling policy (no wish to die, nothing happening now), so it
does not get the safety reply; it gets a kind line and a person (see ``bot.texts.FEELINGS``).
Used only when the classifier found no entry: 「眠れない」 still gets the entry on the mind.

One group per feeling, on normalised text (hiragana-folded, spaces closed), so that an editor
can read what triggers what. Danger is decided before this, by the crisis floor.
"""
from __future__ import annotations

import re

_GROUPS: tuple[tuple[str, str], ...] = (
    # worn out, fed up with everything
    ("tired", r"(つかれた|疲れた|つかれる|疲れる|しんどい|しんどか|しんどいわ|えらい(わ|ねん|んじゃ)|"
              r"くたくた|へとへと|いやになった|嫌になった|やになった|いやんなった|やんなった|もういや|もう嫌|"
              r"なんもかんも|何もかも|なにもかも)"),
    # alone, nobody understands or believes
    ("alone", r"(さみしい|さびしい|寂しい|淋しい|さみしか|ひとりぼっち|一人ぼっち|独りぼっち|孤独|こどく|"
              r"(わかって|分かって|信じて|しんじて|きいて|聞いて)(くれない|くれへん|くれん|もらえない)|"
              r"(誰|だれ)(も|にも)(いない|おらん|おらへん|相談できない|そうだんできない|話せない|はなせない))"),
    # sad, crying, hurting inside
    ("sad", r"(かなしい|悲しい|なきたい|泣きたい|ないてる|泣いてる|ないた|泣いた|なみだ|涙|"
            r"つらい|辛い|つらか|くるしい|苦しい|せつない|切ない|むなしい|虚しい|空しい)"),
    # afraid, anxious about tomorrow
    ("afraid", r"(こわい|怖い|恐い|ふあん|不安|しんぱい|心配|おちつかない|落ち着かない|ねむれない|眠れない)"),
    # angry, ashamed, lost
    ("lost", r"(むかつく|いらいら|イライラ|はらたつ|腹立つ|腹が立つ|なさけない|情けない|はずかしい|恥ずかしい|"
             r"じぶんがきらい|自分が嫌い|自分がきらい|おちこむ|おちこん|落ち込|へこむ|へこん|凹)"),
)
_COMPILED = tuple((name, re.compile(pattern)) for name, pattern in _GROUPS)


def told_feeling(norm: str) -> str | None:
    """The feeling group ``norm`` (normalised text) tells of, or None."""
    compact = norm.replace(" ", "")
    for name, pattern in _COMPILED:
        if pattern.search(compact):
            return name
    return None
