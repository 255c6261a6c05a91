"""One place that says what time it is, so tests can freeze it (after-hours, retention)."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")
_frozen: datetime | None = None


def now() -> datetime:
    """Current time, timezone-aware UTC."""
    if _frozen is not None:
        return _frozen
    return datetime.now(timezone.utc)


def now_naive() -> datetime:
    """Current UTC time without tzinfo, as stored in the database (SQLite drops tzinfo)."""
    return now().replace(tzinfo=None)


def freeze(at: datetime | None) -> None:
    """Freeze the clock at ``at`` (aware datetime), or unfreeze with ``None``."""
    global _frozen
    if at is not None and at.tzinfo is None:
        raise ValueError("freeze() needs an aware datetime")
    _frozen = at.astimezone(timezone.utc) if at else None
