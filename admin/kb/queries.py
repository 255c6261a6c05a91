"""Reading entry versions: the published one, the open draft, the history, the one to diff against."""
from __future__ import annotations

from sqlmodel import Session, col, select

from admin.kb_models import OPEN_STATUSES, EntryVersion, VersionStatus
from knowledge.editorial.entries import KbFiles
from knowledge.kb import Entry, EntryFormatError, parse_entry


def get_version(session: Session, version_id: int) -> EntryVersion | None:
    return session.get(EntryVersion, version_id)


def published_version(session: Session, entry_id: str) -> EntryVersion | None:
    q = select(EntryVersion).where(EntryVersion.entry_id == entry_id, EntryVersion.status == VersionStatus.published.value)
    return session.exec(q.order_by(col(EntryVersion.id).desc())).first()


def open_version(session: Session, entry_id: str) -> EntryVersion | None:
    q = select(EntryVersion).where(EntryVersion.entry_id == entry_id, col(EntryVersion.status).in_(OPEN_STATUSES))
    return session.exec(q.order_by(col(EntryVersion.id).desc())).first()


def open_versions(session: Session) -> dict[str, EntryVersion]:
    rows = session.exec(select(EntryVersion).where(col(EntryVersion.status).in_(OPEN_STATUSES)).order_by(col(EntryVersion.id))).all()
    return {r.entry_id: r for r in rows}


def published_versions(session: Session) -> dict[str, EntryVersion]:
    rows = session.exec(select(EntryVersion).where(col(EntryVersion.status) == VersionStatus.published.value).order_by(col(EntryVersion.id))).all()
    return {r.entry_id: r for r in rows}


def history(session: Session, entry_id: str) -> list[EntryVersion]:
    """Every version of an entry, newest first."""
    q = select(EntryVersion).where(EntryVersion.entry_id == entry_id).order_by(col(EntryVersion.id).desc())
    return list(session.exec(q).all())


def max_version(session: Session, entry_id: str, files: KbFiles) -> int:
    """The highest version number this entry ever had, in the database or in its file."""
    numbers = [r.version for r in history(session, entry_id) if r.status in (VersionStatus.published.value, VersionStatus.superseded.value)]
    text = files.read(entry_id)
    if text is not None:
        try:
            numbers.append(parse_entry(text).version)
        except EntryFormatError:
            pass
    return max(numbers, default=0)


def previous_published(session: Session, row: EntryVersion) -> EntryVersion | None:
    """The published (or since superseded) version just before ``row``, to diff against."""
    q = (
        select(EntryVersion)
        .where(
            EntryVersion.entry_id == row.entry_id,
            col(EntryVersion.id) < row.id,
            col(EntryVersion.status).in_((VersionStatus.published.value, VersionStatus.superseded.value)),
        )
        .order_by(col(EntryVersion.id).desc())
    )
    return session.exec(q).first()


def parse_version(row: EntryVersion) -> Entry | None:
    try:
        return parse_entry(row.text)
    except EntryFormatError:
        return None
