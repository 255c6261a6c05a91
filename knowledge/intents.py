"""Deterministic intent rules: hand-off, delete data, greeting, thanks, menu.

Rules run on :func:`knowledge.normalize.normalize` text (hiragana-folded, no punctuation).
Each match also returns the *residue*: the message with the intent phrases and polite filler
removed. The understander uses it to let a real question win over a courtesy
(「ありがとう、ところで更生保護施設って?」 is a question, not a goodbye).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_PERSON = r"(人間|にんげん|人|ひと|職員|しょくいん|担当|たんとう|すたっふ|おぺれーたー|相談員|そうだんいん|係|かかり|誰か|だれか|生身|なまみ)"
_REQUEST = r"(たい|たく|[てで](ください|下さい|くれ|ほしい|欲しい|もらえ|貰え|頂け|いただけ)|させて|[てで]$|[てで] |(せ|でき|出来|もらえ|れ)(ます|る)(か|の)?$)"

# Order matters only for which intent wins when two match; hand-off first because a person
# asking for a human while also saying hello wants the human.
RULES: dict[str, tuple[str, ...]] = {
    "handoff": (
        _PERSON + r"(の方|のかた|の人|のひと|さん|者)?(と|に|へ|を)(直接|ちょくせつ|ちゃんと)?"
        r"(話|はな|代わ|かわ|替わ|変わ|つな|繋|相談|そうだん|やりとり|やり取り|聞い|きい|連絡|れんらく|対応|呼)[^ ]{0,6}?" + _REQUEST,
        r"(ぼっと|bot|機械|きかい|ai|ろぼっと|自動)(じゃ|では)(なく|ない)",
        r"(電話|でんわ)[^ ]{0,8}?(たい|たく|[てで](ください|下さい|ほしい|欲しい))",
        r"(電話|でんわ)(番号|ばんごう)",
        r"^(おぺれーたー|有人|ゆうじん|人間|にんげん|職員|しょくいん|担当者?)(さん)?(対応|たいおう|ちゃっと)?(お願い|おねがい|希望)?[^ ]{0,3}$",
        r"有人(対応|ちゃっと)",
        r"(担当|たんとう)(の)?(方|かた|人|ひと|者|さん)",
    ),
    "delete_data": (
        r"(記録|きろく|でーた|data|情報|じょうほう|履歴|りれき|内容|ないよう|会話|かいわ|やりとり|やり取り|登録|とうろく|ろぐ)"
        r"[^ ]{0,8}?(消|け|削除|さくじょ|抹消|まっしょう)(し|さ|せ|す)",
        r"(同意|どうい)[^ ]{0,12}?(取り消|とりけ|取消|撤回|てっかい|やめ|止め|きゃんせる|なし|無し)",
        r"(取り消し|とりけし|取消し?)(で|たい|て|を|お願い|おねがい|します)",
        r"(削除|さくじょ)(して|したい|してほしい|お願い|おねがい|希望|依頼)",
        r"退会|たいかい(したい|する)|登録(を)?解除",
        r"(忘れ|わすれ)て(ください|下さい|ほしい)",
    ),
    "menu": (
        r"めにゅ|menu",
        r"(何|なに|なん)(が|か)(でき|出来)",
        r"(使い方|つかいかた|使いかた)",
        r"(どう|どうやって)(使|つか)",
        r"へるぷ|^help",
        r"(選択肢|選べる|えらべる|選ぶ)",
        r"(最初|さいしょ|初め|はじめ)から",
        r"(やり直|やりなお)",
        r"(一覧|いちらん)",
    ),
    "greeting": (
        r"こんにち(は|わ)|こんちは|ちわ(っす|す)?$",
        r"こんばん(は|わ)",
        r"おはよ(う)?(ございます)?",
        r"(はじめまして|初めまして)",
        r"もしもし",
        r"^(やあ|よう|おっす|はろ|はろー|hello|hi|hey|どうも)( |$)",
        r"^よろしく(お願い|おねがい)?",
    ),
    "thanks": (
        r"(ありがと|有難|有り難)",
        r"^あざ(す|っす|ます|まーす)",
        r"おおきに",
        r"(感謝|かんしゃ)",
        r"(助|たす)か(った|りました|ります|る$)",
        r"(さようなら|さよなら|ばいばい|またね|じゃあね|ではまた|また(来|き)ます)",
        r"(失礼|しつれい)(します|しました)$",
        r"thanks|thank you|thx|さんきゅ",
        r"^(もう)?(大丈夫|だいじょうぶ)(です)?( |$)",
        r"^(わかりました|わかった|了解|りょうかい|おけ|ok)( |$)",
    ),
}

_COMPILED = {name: re.compile("|".join(f"(?:{p})" for p in pats)) for name, pats in RULES.items()}
ORDER = ("handoff", "delete_data", "menu", "thanks", "greeting")

# Words that carry politeness or emotion but no question.
_FILLER = re.compile(
    r"(よろしく|お願い(いた)?します|おねがいします|お願い|おねがい|ございます|ございました|ください|下さい|"
    r"です|ます|でした|ました|本当に|ほんとに|ほんと|まじで|どうも|はい|うん|えっと|あの|すみません|すいません|"
    r"ちょっと|もう|とても|大変|たいへん|いろいろ|色々|わかった|わかりました|了解|りょうかい|大丈夫|だいじょうぶ|"
    r"したい|して|やっぱ|やっぱり|やつ|見せて|みせて|出して|だして|おしえて|教えて|"
    r"^[ねよなわさ]|[ねよなわさ]$|[!！。、]|\s)"
)


@dataclass(frozen=True)
class IntentMatch:
    intent: str
    residue: str


def match_intent(norm: str) -> IntentMatch | None:
    """The first intent (in :data:`ORDER`) whose rule matches ``norm``, with the residue."""
    if not norm:
        return None
    for name in ORDER:
        if _COMPILED[name].search(norm):
            return IntentMatch(name, residue(norm))
    return None


def residue(norm: str) -> str:
    """``norm`` without any intent phrase and without polite filler (no spaces)."""
    text = norm
    for pattern in _COMPILED.values():
        text = pattern.sub(" ", text)
    prev = None
    while prev != text:
        prev = text
        text = _FILLER.sub("", text)
    return text


_QUESTION = re.compile(
    r"(って|なに|なん|何|どう|いつ|どこ|どれ|だれ|誰|いくら|ますか|ですか|[?？])"
)


def looks_like_question(raw: str, rest: str) -> bool:
    """True when the message asks something besides the courtesy or request."""
    return bool(_QUESTION.search(rest)) or (bool(re.search(r"[?？]", raw)) and len(rest) >= 6)


# --- outside the knowledge base: legal advice and predictions -------------------------------
#
# The bot explains the system (手続の流れ, 保護観察, 更生緊急保護...) but must never play lawyer:
# it cannot say how a case will end, what a sentence or a settlement will cost, when a record
# disappears, or which lawyer to take. Such questions share words with the FAQ (執行猶予, 前科,
# 罰金) and would otherwise get a confident, wrong answer. They abstain (`none`): the bot says
# it cannot answer and offers a person.
_OUTCOME = (r"(執行猶予|しっこうゆうよ|猶予|実刑|じっけい|判決|はんけつ|量刑|刑期|罰金|ばっきん|懲役|ちょうえき|"
            r"禁錮|禁固|不起訴|ふきそ|起訴|無罪|有罪|前科|ぜんか|前歴|裁判|刑(?=は|が|って|も))")
# A forecast: "will it be / how much / how long", then a question or a guess. Past tense
# (なくなった) is news, not a forecast; どうなる (what happens next) and conditionals
# (不起訴になったら, 罰金になると) ask about the procedure, so they are not forecasts.
_FORECAST = (r"((?<!どう)な(る|り)|決まる|きまる|軽く|重く|減る|短く|長く|消え|きえ|消せ|残る|のこる|"
             r"勝て|勝つ|いくら|何年|なんねん|何か月|何ヶ月|何カ月|なんかげつ|どのくらい|どれくらい|どれぐらい|"
             r"どのぐらい|見込み|みこみ|可能性|確率)")
_NOT_IF = r"(?!と(?!思|おも)|たら|ば|なら|って(聞|き))"
_GUESS_END = r"(と思|とおも|でしょう|だろう|やろ|じゃろ|っぺ|かな|かね|ますか|[かのんるくいえ](\s|$))"
# 執行猶予がつく? is a forecast; 執行猶予中でも保護観察はつく? is not (the verb is far away).
_ATTACHED = r"(が|は|って|も)?(つく|付く|つき|付き)"
_GOING_IN = r"(刑務所|むしょ|少年院)(に|へ)?((入|はい)(る|り|ら)|(行|い)(く|き|か))"
LEGAL_ADVICE = re.compile("|".join(f"(?:{p})" for p in (
    _OUTCOME + r"[^ ]{0,12}?" + _FORECAST + _NOT_IF + r"[^ ]{0,6}?" + _GUESS_END,
    _OUTCOME + _ATTACHED + _NOT_IF + r"[^ ]{0,6}?" + _GUESS_END,
    _GOING_IN + _NOT_IF + r"[^ ]{0,6}?" + _GUESS_END,
    # What becomes of a record (前科は消える? 逮捕歴ってどうなる?): a legal question too.
    r"(前科|ぜんか|前歴|逮捕歴|犯罪歴)(って|は|が|も)?[^ ]{0,4}?(どうなる|消え|きえ|消せ|残る|残り|のこる|のこり)",
    # Lawyers: finding, choosing or paying one (弁護士さんに聞いた is only a source).
    r"(弁護士|弁護人|べんごし)(?>(さん|の先生)?)(?!に|から|で|と)[^ ]{0,6}?(紹介|しょうかい|探|さが|頼|たの|依頼|いらい|選|えら|雇|費用|ひよう|"
    r"料金|報酬|つけ|付け|呼|教え|おしえ|知り|しり|お願い|おねがい)",
    r"国選|私選|当番弁護",
    # Bail, settlements, damages, appeals: nothing in the knowledge base covers them.
    r"保釈|ほしゃく|示談|慰謝料|いしゃりょう|損害賠償|賠償金|控訴|上告|被害弁済",
)))


def asks_legal_advice(norm: str) -> bool:
    """True when ``norm`` asks for legal advice or a prediction the bot must not give."""
    return bool(norm) and bool(LEGAL_ADVICE.search(norm))
