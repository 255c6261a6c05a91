"""The run-time settings every turn reads (office hours, retention days), cached per process.

Why: each turn fills ``{office_hours}`` and ``{retention_days}`` in its answers and the consent
text. Both live in one-row tables that usually hold no row at all (the defaults apply), and
``session.get`` of a missing row asks the database every time: two queries per turn, each
after an autoflush of the batch's earlier turns. Profiled on the worker (issue 20) that was
about a quarter of a turn's CPU, for values an admin changes a few times a year.

The rule is the consent text's (:func:`bot.runtime.consent_for_turn`): a value read from the
database is reused for :data:`CACHE_SECONDS` by every turn of this process; a change flushed
through this process clears the cache at once (session hooks below), and a session that has
flushed a change of its own is never served from the cache nor fills it (it may roll back).
Another process's change is seen within :data:`CACHE_SECONDS`.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import event
from sqlmodel import Session

from core.models import ServiceSetting
from core.service_settings import retention_days
from core.settings import get_settings
from handoff.hours import describe_hours, load_hours
from handoff.models import OfficeHoursBase, OfficeSettings

CACHE_SECONDS = 1.0
_CHANGED = "ristapo_turn_settings_changed"


@dataclass(frozen=True)
class TurnSettings:
    """The settings a turn reads, as plain values (safe to share between threads)."""

    hours: OfficeHoursBase  # never mutated by readers; a save builds a new row
    office_hours: str  # ``describe_hours(hours)``: the text of ``{office_hours}``
    retention_days: int

    def answer_values(self) -> dict[str, str]:
        """What ``{office_hours}`` and ``{retention_days}`` in answers and the consent text mean."""
        return {"office_hours": self.office_hours, "retention_days": str(self.retention_days)}


_lock = threading.Lock()
_cache: tuple[object, object, float, TurnSettings] | None = None  # (engine, settings, fetched at, value)


def turn_settings(session: Session) -> TurnSettings:
    """The current :class:`TurnSettings`, from the cache when it is fresh (see the module doc)."""
    global _cache
    bind = session.get_bind()
    settings = get_settings()
    changed_here = session.info.get(_CHANGED, False)
    cached = _cache
    now = time.monotonic()
    if (not changed_here and cached is not None and cached[0] is bind and cached[1] is settings
            and now - cached[2] < CACHE_SECONDS):
        return cached[3]
    hours = load_hours(session)
    value = TurnSettings(hours, describe_hours(hours), retention_days(session, settings))
    if not changed_here and not session.info.get(_CHANGED, False):
        with _lock:
            _cache = (bind, settings, now, value)
    return value


def clear_turn_settings_cache() -> None:
    global _cache
    with _lock:
        _cache = None


@event.listens_for(Session, "after_flush")
def _note_change(session, _ctx):  # pragma: no cover - trivial
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, (OfficeSettings, ServiceSetting)):
            session.info[_CHANGED] = True
            clear_turn_settings_cache()
            return


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _settled(session, *_args):  # pragma: no cover - trivial
    # why clear again on commit: a turn of another session may have refilled the cache with the
    # old committed value between this session's flush and its commit
    if session.info.pop(_CHANGED, False):
        clear_turn_settings_cache()
