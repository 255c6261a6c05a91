"""Readings (furigana) for answers: 漢字(かんじ) for LINE/Telegram, <ruby> for the web.

Why: many people who write to りすたぽ read kanji with difficulty, and the words they must say
at a counter (更生緊急保護, 遵守事項, 療育手帳) are the hardest ones. Readings come from the
SudachiPy dictionary; an entry's front matter may override a word it reads wrongly
(``readings: {語: よみ}``), which also covers names the dictionary does not know.

Consecutive kanji words are read as one compound (更生緊急保護 → こうせいきんきゅうほご), and
kana around the kanji stays outside the reading (受ける → 受(う)ける).
"""
from __future__ import annotations

import html
import re
from functools import lru_cache

import sudachipy

Segment = tuple[str, "str | None"]

_KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆ヶ]")


def has_kanji(text: str) -> bool:
    return bool(_KANJI.search(text))


def to_hiragana(text: str) -> str:
    """Katakana → hiragana (ー and other marks unchanged)."""
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in text)


@lru_cache(maxsize=1)
def _tokenizer() -> sudachipy.Tokenizer:
    # why cached: the dictionary is memory-mapped once per process; tokenising is cheap.
    return sudachipy.Dictionary(dict="core").create()


def _split_overrides(text: str, overrides: dict[str, str]) -> list[tuple[str, str | None, bool]]:
    """(piece, reading, fixed): override words cut out first, longest first; the rest unread."""
    words = sorted((w for w in overrides if w), key=len, reverse=True)
    if not words:
        return [(text, None, False)]
    pattern = re.compile("|".join(re.escape(w) for w in words))
    pieces: list[tuple[str, str | None, bool]] = []
    at = 0
    for m in pattern.finditer(text):
        if m.start() > at:
            pieces.append((text[at:m.start()], None, False))
        pieces.append((m.group(0), to_hiragana(overrides[m.group(0)]), True))
        at = m.end()
    if at < len(text):
        pieces.append((text[at:], None, False))
    return pieces


def _trim_kana(surface: str, reading: str) -> list[Segment]:
    """受ける/うける → [(受, う), (ける, None)]: kana shared at both ends stays unread."""
    start = 0
    while start < len(surface) - 1 and start < len(reading) and not has_kanji(surface[start]) and to_hiragana(surface[start]) == reading[start]:
        start += 1
    end = 0
    while (end < len(surface) - start - 1 and end < len(reading) - start - 1
           and not has_kanji(surface[-1 - end]) and to_hiragana(surface[-1 - end]) == reading[-1 - end]):
        end += 1
    core = surface[start:len(surface) - end]
    core_reading = reading[start:len(reading) - end]
    out: list[Segment] = []
    if start:
        out.append((surface[:start], None))
    out.append((core, core_reading or None))
    if end:
        out.append((surface[len(surface) - end:], None))
    return out


def _read_plain(text: str) -> list[Segment]:
    """Readings for text without overrides: kanji compounds joined, kana left unread."""
    segments: list[Segment] = []
    run_surface, run_reading, run_known = "", "", True

    def flush_run() -> None:
        nonlocal run_surface, run_reading, run_known
        if run_surface:
            if run_known:
                segments.extend(_trim_kana(run_surface, run_reading))
            else:
                segments.append((run_surface, None))
        run_surface, run_reading, run_known = "", "", True

    for m in _tokenizer().tokenize(text, sudachipy.SplitMode.C):
        surface = m.surface()
        if not has_kanji(surface):
            flush_run()
            segments.append((surface, None))
            continue
        reading = to_hiragana(m.reading_form())
        # why not just is_oov(): kanji numerals (一, 二) are "unknown" words with good readings
        known = not has_kanji(reading) and reading != to_hiragana(surface)
        run_surface += surface
        run_reading += reading
        run_known = run_known and known
        # why flush at kana inside a word: 受ける must not swallow the next kanji word
        if not _KANJI.match(surface[-1]):
            flush_run()
    flush_run()
    return segments


def _merge_plain(segments: list[Segment]) -> list[Segment]:
    """Neighbouring unread pieces become one (fewer, longer segments are easier to render)."""
    out: list[Segment] = []
    for surface, reading in segments:
        if not surface:
            continue
        if reading is None and out and out[-1][1] is None:
            out[-1] = (out[-1][0] + surface, None)
        else:
            out.append((surface, reading))
    return out


def _drop_written_readings(segments: list[Segment]) -> list[Segment]:
    """A word the answer already reads in brackets (更生緊急保護（こうせいきんきゅうほご）) gets no second reading."""
    out: list[Segment] = []
    for i, (surface, reading) in enumerate(segments):
        following = "".join(s for s, _r in segments[i + 1:i + 3])
        if reading and following.startswith((f"（{reading}）", f"({reading})")):
            reading = None
        out.append((surface, reading))
    return out


def with_readings(text: str, overrides: dict[str, str] | None = None) -> list[Segment]:
    """``text`` cut into (surface, reading) pieces; reading is hiragana, or None (kana, marks,
    digits, or a kanji word the dictionary does not know — see :func:`missing_readings`)."""
    return _merge_plain(_drop_written_readings(_read_all(text, overrides)))


def _read_all(text: str, overrides: dict[str, str] | None) -> list[Segment]:
    segments: list[Segment] = []
    for piece, reading, fixed in _split_overrides(text, overrides or {}):
        if fixed:
            segments.append((piece, reading))
        else:
            segments.extend(_read_plain(piece))
    return _merge_plain(segments)


def missing_readings(text: str, overrides: dict[str, str] | None = None) -> list[str]:
    """Kanji words that get no reading (add them to the entry's ``readings``).

    Why before dropping written readings: 遵守事項（じゅんしゅじこう） is read, only not twice.
    """
    return [s for s, r in _read_all(text, overrides) if r is None and has_kanji(s)]


def as_parentheses(text: str, overrides: dict[str, str] | None = None) -> str:
    """漢字(かんじ) form, for channels without ruby (LINE, Telegram)."""
    return "".join(f"{s}({r})" if r else s for s, r in with_readings(text, overrides))


def as_ruby_html(text: str, overrides: dict[str, str] | None = None) -> str:
    """Escaped HTML with <ruby> readings, for the web chat."""
    parts = []
    for s, r in with_readings(text, overrides):
        if r:
            parts.append(f"<ruby>{html.escape(s)}<rt>{html.escape(r)}</rt></ruby>")
        else:
            parts.append(html.escape(s))
    return "".join(parts)
