"""Entry files as editors change them: where they are, the edit form's fields, atomic writes."""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from knowledge import kb_check
from knowledge.kb import Entry, Source, dump_entry, parse_entry

ENTRY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,60}$")


@dataclass(frozen=True)
class KbFiles:
    """Where the live entry files and the seed texts are."""

    entries_dir: Path
    seeds_dir: Path | None = None

    @classmethod
    def default(cls, entries_dir: Path) -> KbFiles:
        return cls(Path(entries_dir), kb_check.default_seeds_dir())

    def entry_path(self, entry_id: str) -> Path:
        return self.entries_dir / f"{entry_id}.md"

    def read(self, entry_id: str) -> str | None:
        path = self.entry_path(entry_id)
        return path.read_text(encoding="utf-8") if path.exists() else None



# --- building entry text from the edit form --------------------------------------------------

@dataclass
class EntryFields:
    """What the edit form sends (lists already split, one item per line)."""

    title: str
    answer: str
    questions: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    as_of: str = ""
    needs_place: bool = False
    # Not on the edit form: None keeps what the draft already had (see do_save_draft).
    facets: dict[str, str] | None = None
    readings: dict[str, str] | None = None
    review: str | None = None

    @classmethod
    def of(cls, entry: Entry) -> EntryFields:
        return cls(entry.title, entry.answer, list(entry.questions), list(entry.keywords), list(entry.related),
                   list(entry.sources), entry.as_of, entry.needs_place, dict(entry.facets), dict(entry.readings), entry.review)


def split_lines(text: str) -> list[str]:
    """One item per line (or separated by 、 / , for keywords typed on one line); blanks dropped."""
    items = []
    for line in (text or "").replace("\r", "").split("\n"):
        line = line.strip()
        if line and line not in items:
            items.append(line)
    return items


def entry_text(entry_id: str, version: int, f: EntryFields) -> str:
    entry = Entry(
        id=entry_id,
        title=f.title.strip(),
        answer=f.answer.replace("\r", "").strip(),
        questions=tuple(f.questions),
        keywords=tuple(f.keywords),
        related=tuple(f.related),
        sources=tuple(s for s in f.sources if s.seed or s.name or s.url or s.quote),
        as_of=f.as_of.strip(),
        version=version,
        needs_place=f.needs_place,
        facets=dict(f.facets or {}),
        readings=dict(f.readings or {}),
        review=f.review,
    )
    return _dump(entry)


def _dump(entry: Entry) -> str:
    """``dump_entry`` plus an explicit ``needs_place: false``, as the entry files write it (no diff noise)."""
    text = dump_entry(entry)
    if not entry.needs_place:
        head, sep, body = text.partition("\n---\n")
        text = f"{head}\nneeds_place: false{sep}{body}"
    return text


def with_version(text: str, version: int) -> str:
    """The same entry text with its front-matter ``version`` set (re-serialised)."""
    entry = parse_entry(text)
    return _dump(replace(entry, version=version))


def write_entry_file(path: Path, text: str) -> None:
    """Writes ``text`` atomically: a temp file in the same folder, fsync, then os.replace.

    Why: the bot reloads whenever the folder changes; it must never read half a file.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
