"""The editors' list of entries: every file plus new drafts, with why each may need re-checking."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from admin.kb.queries import open_versions, parse_version, published_versions
from admin.kb.workflow import do_record_file_version
from admin.kb_models import EntryVersion
from core.clock import now
from knowledge.editorial import staleness
from knowledge.editorial.entries import KbFiles
from knowledge.kb import Entry, load_kb


def stale_reasons(entry: Entry, published: EntryVersion | None, files: KbFiles, *, today: date | None = None) -> list[str]:
    """Why an entry should be re-checked: an old ``as_of`` or a seed changed since publish."""
    return staleness.stale_reasons(
        entry,
        last_checked=published.published_at.date() if published is not None and published.published_at else None,
        recorded_seeds=published.seed_hashes if published is not None else None,
        seeds_dir=files.seeds_dir,
        today=today or now().date(),
    )


@dataclass
class KbRow:
    entry_id: str
    title: str
    as_of: str
    version: int | None
    status: str  # published | draft | review | new
    open_version: EntryVersion | None
    stale: list[str]
    review: str | None = None  # "legal": the published wording waits for a legal check


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def kb_list(session: Session, files: KbFiles, *, query: str = "", today: date | None = None) -> list[KbRow]:
    """Every entry (files) plus new entries still in draft, filtered by ``query``.

    An entry file never recorded before is recorded here as published (caller commits).
    """
    kb = load_kb(files.entries_dir)
    open_rows = open_versions(session)
    published = published_versions(session)
    rows = []
    for entry in kb:
        pub = published.get(entry.id)
        if pub is None:
            # why: the seed hashes of this first record are what "a seed changed" is measured against
            pub = do_record_file_version(session, files, entry.id)
        op = open_rows.get(entry.id)
        stale = stale_reasons(entry, pub, files, today=today)
        if pub is not None and entry.path is not None and pub.text != entry.path.read_text(encoding="utf-8"):
            stale.append("ファイルが公開の記録と違います(git などで変更)。`ristapo kb publish` で記録してください")
        rows.append(KbRow(entry.id, entry.title, entry.as_of, entry.version, op.status if op else "published", op, stale, entry.review))
    for entry_id, op in open_rows.items():
        if kb.get(entry_id) is None:
            draft = parse_version(op)
            rows.append(KbRow(entry_id, draft.title if draft else entry_id, draft.as_of if draft else "", None, op.status, op, []))
    if query.strip():
        q = _fold(query.strip())
        haystacks = {e.id: _fold(" ".join([e.id, e.title, e.answer, *e.questions, *e.keywords])) for e in kb}
        rows = [r for r in rows if q in haystacks.get(r.entry_id, _fold(r.entry_id + " " + r.title))]
    return rows
