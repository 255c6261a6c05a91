"""An entry as editors read it (answer first, then the rest in words), for the version diff.

The stored file is YAML front matter + answer; a diff of the raw file shows ``keywords:``
lists and quoting before the answer text that actually changed. Diffing this readable form
shows the answer first, and each field under a Japanese heading.
"""
from __future__ import annotations

from knowledge.kb import EntryFormatError, parse_entry


def readable(text: str) -> str:
    """The entry's fields as headed plain text; the raw text when it does not parse."""
    if not text:
        return ""
    try:
        e = parse_entry(text)
    except EntryFormatError:
        return text
    parts = [f"【タイトル】{e.title}", "【回答】", *e.answer.strip().splitlines(), ""]
    parts += ["【質問の言い方】", *(f"・{q}" for q in e.questions), ""]
    parts += ["【出典】"]
    for s in e.sources:
        label = s.name or (f"資料 {s.seed}" if s.seed else "")
        parts.append(f"・{label}" + (f" {s.url}" if s.url else "") + (f"「{s.quote}」" if s.quote else ""))
    parts += [f"【基準日】{e.as_of}", f"【キーワード】{'、'.join(e.keywords)}", f"【関連項目】{'、'.join(e.related)}",
              f"【地名を聞く】{'はい' if e.needs_place else 'いいえ'}"]
    return "\n".join(parts)
