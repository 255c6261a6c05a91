"""One place that says what time it is, so tests can freeze it (after-hours, retention).

All times are timezone-aware UTC: SQLModel's ``UTCDateTime`` columns refuse naive values.
"""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")
_frozen: datetime | None = None


def now() -> datetime:
    """Current time, timezone-aware UTC."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC)


def now_naive() -> datetime:
    """Alias of :func:`now` (aware UTC), kept for older call sites; new code calls ``now()``."""
    return now()


def freeze(at: datetime | None) -> None:
    """Freeze the clock at ``at`` (aware datetime), or unfreeze with ``None``."""
    global _frozen
    if at is not None and at.tzinfo is None:
        raise ValueError("freeze() needs an aware datetime")
    _frozen = at.astimezone(UTC) if at else None
