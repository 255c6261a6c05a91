"""What changed between two versions of an entry: a line diff, and the entry as editors read it.

The stored file is YAML front matter + answer; a diff of the raw file shows ``keywords:``
lists and quoting before the answer text that actually changed. Diffing :func:`readable`
(answer first, then each field under a Japanese heading) shows what an editor cares about.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass

from knowledge.kb import EntryFormatError, parse_entry


@dataclass
class DiffLine:
    kind: str  # same | add | del | hunk
    text: str


def diff_lines(old: str, new: str) -> list[DiffLine]:
    """A unified line diff of two entry texts (what changed between versions)."""
    out = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=2):
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            out.append(DiffLine("hunk", line))
        elif line.startswith("+"):
            out.append(DiffLine("add", line[1:]))
        elif line.startswith("-"):
            out.append(DiffLine("del", line[1:]))
        else:
            out.append(DiffLine("same", line[1:]))
    return out


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
