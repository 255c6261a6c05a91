"""Knowledge-base versions: every draft, review and published text of an entry, kept forever.

Files-first: the entry file under the KB directory is what the bot answers from; a
``published`` row is the record of what was written there, by whom and after whose review.
"""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from core.clock import now


class VersionStatus(str, enum.Enum):
    draft = "draft"  # being edited by its author
    review = "review"  # submitted; waiting for a second editor
    published = "published"  # the text in the entry file now
    rejected = "rejected"  # a reviewer sent it back (the author may start again)
    superseded = "superseded"  # was published, replaced by a newer version


OPEN_STATUSES = (VersionStatus.draft.value, VersionStatus.review.value)

STATUS_LABELS = {
    "draft": "下書き",
    "review": "確認待ち",
    "published": "公開中",
    "rejected": "差し戻し",
    "superseded": "過去の版",
}


class EntryVersion(SQLModel, table=True):
    """One version of one entry: the full entry file text and its review trail.

    ``version`` is the number written into the file's front matter: a draft carries the
    number it will get when published (base + 1). ``base_version`` is the published version
    the draft started from (None for a new entry), used to refuse publishing over a change
    that happened meanwhile (for example a git edit synced with ``ristapo kb publish``).
    """

    __tablename__ = "entry_version"
    id: int | None = Field(default=None, primary_key=True)
    entry_id: str = Field(index=True, max_length=80)
    version: int
    base_version: int | None = None
    status: str = Field(default=VersionStatus.draft.value, index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))  # the whole entry file
    author_id: int | None = None
    author_name: str | None = None
    reviewer_id: int | None = None
    reviewer_name: str | None = None
    note: str | None = None  # short reviewer note on rejection / "rollback to v3" / "sync"
    created_at: datetime = Field(default_factory=now)
    updated_at: datetime = Field(default_factory=now)
    submitted_at: datetime | None = None
    reviewed_at: datetime | None = None
    published_at: datetime | None = None
    seed_hashes: str | None = None  # JSON {seed file: sha256} at publish, for the stale flag
