"""Normalise Japanese the way people type it on a phone, for matching (never for display).

Three views of one message, all cheap to compute:

- :func:`clean` — NFKC (full/half width: ``ﾘｽﾀﾎﾟ`` → ``リスタポ``, ``ＯＤ`` → ``od``), letters
  typed one by one joined (``死 に た い`` → ``死にたい``), emoji and punctuation turned into spaces, long-vowel / small-kana / repeated-letter noise collapsed,
  latin lower-cased. Kanji and katakana are kept, because the tokenizer needs them.
- :func:`normalize` — ``clean`` plus katakana folded to hiragana: the string that crisis and
  intent rules and fuzzy matching work on (``クスリ`` and ``くすり`` compare equal).
- :func:`content_tokens` — SudachiPy (SplitMode.C) normalized forms of the content words,
  folded to hiragana, without particles, auxiliary verbs and a few empty verbs
  (``引越し``/``引っ越し`` → ``引っ越し``, ``とまる``/``泊まる`` → ``泊まる`` when the dictionary knows it).

:func:`analyze` returns all of them plus a kana reading string from one tokenizer pass.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import sudachipy

# --- character-level cleaning ------------------------------------------------------------

_HIRA = r"\u3041-\u3096"
_KATA = r"\u30a1-\u30fa"
_SMALL_VOWELS_HIRA = "ぁぃぅぇぉ"

# Characters that are decoration, not words: emoji, pictographs, symbols, variation selectors.
_DROP_CATEGORIES = {"So", "Sk", "Cs", "Co", "Cn", "Cf", "Mn", "Me"}
_KEEP_SYMBOLS = set("ー")


def _is_word_char(ch: str) -> bool:
    if ch in _KEEP_SYMBOLS:
        return True
    cat = unicodedata.category(ch)
    return cat[0] in "LN"


# ー/〜/～ after hiragana is noise when it ends a word or precedes a vowel (すごーい, こんばんは〜,
# しにたーい); before other kana it is usually a loanword typed in hiragana (でーた, ほーむ), and
# inside katakana words it is spelling (ホーム), so there only runs are collapsed.
_RE_WAVE = re.compile(r"[〜~～]+")
_RE_LONG_AFTER_HIRA = re.compile(rf"(?<=[{_HIRA}])ー+(?=\s|$|[あいうえおんっ])")
_RE_LONG_RUN = re.compile(r"ー{2,}")
_RE_SMALL_TSU_RUN = re.compile(r"([っッ])[っッ]+")
_RE_SMALL_TSU_END = re.compile(r"[っッ]+(?=\s|$)")
# ぁぃぅぇぉ after hiragana is elongation (ありがとぉ, しにたぁぁい); after katakana keep one
# (ファ, ティ are spelling).
_RE_SMALL_VOWEL_HIRA = re.compile(rf"(?<=[{_HIRA}])[{_SMALL_VOWELS_HIRA}]+")
_RE_SMALL_VOWEL_KATA_RUN = re.compile(r"([ァィゥェォ])[ァィゥェォ]+")
_RE_REPEAT = re.compile(r"(.)\1{2,}")
_RE_SPACES = re.compile(r"\s+")
_RE_LATIN_LAUGH = re.compile(r"(?<![a-z])w{2,}(?![a-z])")

# Letters typed one by one with something between them (死 に た い, ｼ ﾆ ﾀ ｲ, 死・に・た・い,
# 死.に.た.い, full-width spaces): people do it to slip past filters or for emphasis. A run of
# two or more single letters, each separated by spaces, dots, middle dots or commas, is one
# word. A single letter between longer words (あのいえ ひ つけてやる) is left alone.
_SPREAD_SEPARATORS = r"[\s.。、,・·•‥…/_*\-]+"
# A letter with its (semi-)voiced mark, which half-width kana type as a separate character
# (ｸ ﾞ → ク ゙): the mark belongs to the letter before it.
_VOICING = "\u3099\u309a\u309b\u309c"
_LETTER = rf"[^\W_][{_VOICING}]?"
_RE_SPREAD_LETTERS = re.compile(
    rf"(?<![^\W_]){_LETTER}(?:{_SPREAD_SEPARATORS}{_LETTER}(?![^\W_]))+")
_RE_SPREAD_SEPARATORS = re.compile(_SPREAD_SEPARATORS)
_RE_LOOSE_VOICING = re.compile(rf"{_SPREAD_SEPARATORS}(?=[{_VOICING}])")
_SPACING_TO_COMBINING = str.maketrans({"\u309b": "\u3099", "\u309c": "\u309a"})


def join_spread_letters(text: str) -> str:
    """Join runs of single letters separated by spaces, dots or middle dots (死 に た い → 死にたい)."""
    text = _RE_LOOSE_VOICING.sub("", text)
    joined = _RE_SPREAD_LETTERS.sub(lambda m: _RE_SPREAD_SEPARATORS.sub("", m.group()), text)
    if joined is text or not any(c in joined for c in _VOICING):
        return joined
    # Put a voiced mark back on its letter (ク + ゙ → グ).
    return unicodedata.normalize("NFC", joined.translate(_SPACING_TO_COMBINING))


def clean(text: str) -> str:
    """NFKC, strip emoji/punctuation, collapse typing noise; keeps kanji and katakana."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    text = join_spread_letters(text)
    text = _RE_WAVE.sub("ー", text)  # NFKC turns ～ into ~; 〜 stays: both are stretch marks here
    out = []
    for ch in text:
        if _is_word_char(ch):
            out.append(ch)
        elif ch.isspace() or unicodedata.category(ch)[0] in "PSZ":
            out.append(" ")
        # other categories (emoji modifiers, joiners...) vanish
    text = "".join(out).lower()
    text = _RE_LONG_AFTER_HIRA.sub("", text)
    text = _RE_LONG_RUN.sub("ー", text)
    text = _RE_SMALL_VOWEL_HIRA.sub("", text)
    text = _RE_SMALL_VOWEL_KATA_RUN.sub(r"\1", text)
    text = _RE_SMALL_TSU_RUN.sub(r"\1", text)
    text = _RE_SMALL_TSU_END.sub("", text)
    text = _RE_REPEAT.sub(r"\1\1", text)
    text = _RE_LATIN_LAUGH.sub(" ", text)
    text = re.sub(r"(?<=\s)ー+|^ー+", "", text)  # a stretch mark that stretches nothing
    return _RE_SPACES.sub(" ", text).strip()


_KATA_TO_HIRA = {c: c - 0x60 for c in range(0x30A1, 0x30F7)}


def fold_kana(text: str) -> str:
    """Katakana → hiragana (ヴ → ゔ); everything else unchanged."""
    return text.translate(_KATA_TO_HIRA)


def normalize(text: str) -> str:
    """The matching form of a message: :func:`clean` then katakana folded to hiragana."""
    return fold_kana(clean(text))


# --- tokenizer ---------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _tokenizer() -> sudachipy.Tokenizer:
    # Why one cached tokenizer: loading the dictionary costs ~30 ms, tokenising ~30 µs.
    return sudachipy.Dictionary(dict="core").create()


_MODE = sudachipy.SplitMode.C
_CONTENT_POS = {"名詞", "動詞", "形容詞", "形状詞", "接尾辞", "接頭辞"}
# Verbs and nouns that carry no topic: removing them keeps coverage scores honest.
STOPWORDS = frozenset(fold_kana(w) for w in """
為る する 有る ある 居る いる 成る なる 言う いう 思う おもう 来る くる 行く いく 出来る できる
貰う もらう 呉れる くれる 遣る やる 下さる くださる 致す いたす 良い よい いい 無い ない
事 こと 物 もの 所 ところ とこ 方 かた ほう 人 ひと 時 とき 様 よう 為 ため 的 達 たち 等 など
さん 様 ちゃん くん 君 感じ 訳 わけ 本当 ほんと 今 いま 何 なに 其れ それ 此れ これ
分かる わかる 知る しる 教える おしえる 聞く きく 欲しい ほしい 見る みる 居 御 お ご 的
御座る ござる 御願い 頂く いただく 致す 申す 仕舞う しまう 見える 呉れる
ん の ー
ぽい
""".split())
# Auxiliary stems (しそう, 寮みたい, 帰れるよう) are grammar, not topic, though tagged 形状詞.
_GRAMMAR_POS2 = {"助動詞語幹"}


@dataclass(frozen=True)
class Analysis:
    """One message seen three ways (see module docstring)."""

    norm: str
    tokens: tuple[str, ...]
    reading: str
    surfaces: tuple[str, ...] = ()  # folded surface of each token, parallel to ``tokens``
    pos: tuple[str, ...] = ()  # coarse part of speech of each token ("名詞", "動詞", "数詞"...)
    compounds: tuple[str, ...] = ()  # runs of adjacent nouns/affixes joined (保護+観察+所 → 保護観察所)


def _fold_token(form: str) -> str:
    return fold_kana(form.lower())


def analyze(text: str, *, keep: frozenset[str] = frozenset(), protect: re.Pattern[str] | None = None) -> Analysis:
    """Clean, tokenise once, and return normalised text, content tokens and a kana reading.

    ``keep`` lists folded forms kept whatever their part of speech (e.g. synonym words that
    the dictionary tags as adverbs, like hiragana くすり). ``protect`` matches (on the folded
    text) kana terms the dictionary would split (りすたぽ → 栗鼠+たぽ); each becomes one token.
    """
    cleaned = clean(text)
    if not cleaned:
        return Analysis("", (), "")
    acc = _Accumulator()
    for segment, protected in _segments(cleaned, protect):
        if protected:
            acc.end_run()
            acc.add(segment, segment, "名詞", segment)
            continue
        for m in _tokenizer().tokenize(segment, _MODE):
            acc.morpheme(m, keep)
    acc.end_run()
    return Analysis(
        fold_kana(cleaned), tuple(acc.tokens), _RE_SPACES.sub(" ", "".join(acc.reading)).strip(),
        tuple(acc.surfaces), tuple(acc.poses), tuple(acc.compounds),
    )


def _segments(cleaned: str, protect: re.Pattern[str] | None) -> list[tuple[str, bool]]:
    """Segments to tokenise: protected kana terms become single tokens as they are."""
    if protect is None:
        return [(cleaned, False)]
    segments: list[tuple[str, bool]] = []
    folded = fold_kana(cleaned)  # same length as cleaned: folding is char for char
    pos_ = 0
    for m in protect.finditer(folded):
        if m.start() > pos_:
            segments.append((cleaned[pos_:m.start()], False))
        segments.append((m.group(), True))
        pos_ = m.end()
    if pos_ < len(cleaned):
        segments.append((cleaned[pos_:], False))
    return segments


class _Accumulator:
    """The parallel lists an :class:`Analysis` is built from, filled morpheme by morpheme."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.surfaces: list[str] = []
        self.poses: list[str] = []
        self.reading: list[str] = []
        self.compounds: list[str] = []
        self.run: list[str] = []

    def end_run(self) -> None:
        if len(self.run) >= 2:
            self.compounds.append("".join(self.run))
        self.run.clear()

    def add(self, token: str, surface: str, pos: str, reading: str) -> None:
        self.tokens.append(token)
        self.surfaces.append(surface)
        self.poses.append(pos)
        self.reading.append(reading)

    def morpheme(self, m: sudachipy.Morpheme, keep: frozenset[str]) -> None:
        detail = m.part_of_speech()
        pos = detail[0]
        if pos == "空白":
            self.end_run()
            self.reading.append(" ")
            return
        surface = m.surface()
        if pos in ("名詞", "接尾辞", "接頭辞") and detail[1] not in ("数詞", "代名詞"):
            self.run.append(_fold_token(surface))
        else:
            self.end_run()
        form = _fold_token(m.normalized_form())
        if pos in ("補助記号", "記号"):
            return
        # Reading: kana for Japanese words, the surface for latin/digits (reading_form of
        # latin words is often キゴウ).
        self.reading.append(surface if re.search(r"[a-z0-9]", surface) else fold_kana(m.reading_form()))
        folded_surface = _fold_token(surface)
        if form in keep or folded_surface in keep or (pos in _CONTENT_POS and form not in STOPWORDS
                                                       and detail[1] not in _GRAMMAR_POS2):
            self.tokens.append(form)
            self.surfaces.append(folded_surface)
            self.poses.append("数詞" if detail[1] == "数詞" or surface.isdigit() else
                              "固有名詞" if detail[1] == "固有名詞" else pos)


def content_tokens(text: str) -> list[str]:
    """Sudachi normalized forms of the content words of ``text`` (folded to hiragana)."""
    return list(analyze(text).tokens)


def reading(text: str) -> str:
    """The kana reading of ``text`` (hiragana), for fuzzy matching of kana-typed words."""
    return analyze(text).reading
