"""Waking the workers when new work is committed: this process's (:func:`poke`), and others'.

Other processes learn of a commit through PostgreSQL NOTIFY (:func:`notify`, sent inside the
committing transaction; bot/pipeline/listen.py receives it); on SQLite they poll.

The session hooks that notice new outbox rows (wake this process after the commit, NOTIFY
the others within it) are registered by :func:`install`, called from
the composition root (``create_app``, ``ristapo worker``). Why not at import: a hook on the
``Session`` class acts for every session of the whole process, and importing a module (a
test, a CLI command) should not change what every commit does.
"""
from __future__ import annotations

import asyncio
import contextlib
import time

from sqlalchemy import event
from sqlmodel import Session

from bot.pipeline.tuning import BUSY_WINDOW_SECONDS, NOTIFY_COALESCE_SECONDS, TUNING
from core.models import OutboxMessage, OutboxState
from core.outbox import OUTBOX_ADDED


class _Waker:
    """An asyncio.Event that any thread can set (webhook commit, inbox commit, console reply)."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()

    def set(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to wake
            self.loop.call_soon_threadsafe(self.event.set)

    def clear(self) -> None:
        """Forgets earlier pokes (the loop is about to look at the database anyway)."""
        self.event.clear()

    async def wait(self, timeout: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.event.wait(), timeout)
        self.event.clear()

    async def idle(self, last_work: float) -> None:
        """Waits for a poke, or polls: soon while work came recently, else every ``poll_seconds``."""
        recent = time.monotonic() - last_work < BUSY_WINDOW_SECONDS
        await self.wait(TUNING.busy_poll if recent else TUNING.poll_seconds)


_wakers: dict[str, list[_Waker]] = {"inbox": [], "outbox": []}
CHANNELS = {"inbox": "ristapo_inbox", "outbox": "ristapo_outbox"}  # PostgreSQL NOTIFY channels
_NOTIFIED = "ristapo_outbox_notified"  # session.info: this transaction has sent its NOTIFY


def notify(connection, kind: str, *, coalesce: bool = False) -> None:
    """Tells other processes' ``kind`` workers when the caller's transaction commits (PostgreSQL).

    NOTIFY is transactional: it is delivered at commit and dropped by a rollback, so a worker
    is never woken for work it cannot see yet. On SQLite it does nothing.

    ``coalesce`` (the webhook's stores): skipped if this process sent one less than
    :data:`NOTIFY_COALESCE_SECONDS` ago. Why: at hundreds of requests a second, every NOTIFY
    wakes every listening worker process and its backend for a few events at most. Why it loses
    no wake-up: the worker that takes the notified events then goes round again
    (bot/pipeline/loops.py) after the skipped ones were committed; the poll stays the fallback.
    """
    if connection.dialect.name != "postgresql":
        return
    if coalesce:
        now = _monotonic()
        if now - _last_notified.get(kind, float("-inf")) < NOTIFY_COALESCE_SECONDS:
            return
        _last_notified[kind] = now  # a race between two threads costs one extra NOTIFY, nothing else
    connection.exec_driver_sql(f"NOTIFY {CHANNELS[kind]}")


_monotonic = time.monotonic  # tests replace it
_last_notified: dict[str, float] = {}


def poke(kind: str) -> None:
    """Wakes this process's ``inbox`` or ``outbox`` workers now (new work was committed)."""
    for w in list(_wakers.get(kind, [])):
        w.set()


def poke_inbox() -> None:
    poke("inbox")


def poke_outbox() -> None:
    poke("outbox")


@contextlib.contextmanager
def waker(kind: str):
    """A :class:`_Waker` that :func:`poke` reaches while the block runs (one worker loop)."""
    w = _Waker()
    _wakers[kind].append(w)
    try:
        yield w
    finally:
        _wakers[kind].remove(w)


def _note_outbox_rows(session, _ctx):  # pragma: no cover - trivial
    # why: staff replies (console) and engine turns add outbox rows from many places; one hook
    # wakes the delivery worker after their commit without each caller knowing about it.
    for obj in session.new:
        if isinstance(obj, OutboxMessage) and obj.state == OutboxState.pending.value:
            session.info[OUTBOX_ADDED] = True
            break
    _notify_outbox(session)


def _notify_outbox(session, *_args) -> None:
    """NOTIFY once per transaction that added outbox rows (at its flush, or just before commit).

    Why both moments: ORM rows are seen at the flush, which may come after ``before_commit``;
    rows inserted in bulk (bot.service.TurnWrites) only set the flag, before the commit.
    """
    if not session.info.get(OUTBOX_ADDED) or session.info.get(_NOTIFIED):
        return
    if session.get_bind().dialect.name == "postgresql":
        notify(session.connection(), "outbox")
    session.info[_NOTIFIED] = True


def _wake_after_commit(session):  # pragma: no cover - trivial
    session.info.pop(_NOTIFIED, None)
    if session.info.pop(OUTBOX_ADDED, False):
        poke("outbox")


def _forget_notify(session, *_args):  # pragma: no cover - trivial
    session.info.pop(_NOTIFIED, None)  # the rollback dropped it: the next commit sends it again


_HOOKS = (
    ("after_flush", _note_outbox_rows),
    ("before_commit", _notify_outbox),
    ("after_commit", _wake_after_commit),
    ("after_soft_rollback", _forget_notify),
)


def install() -> None:
    """Registers the session hooks that wake the delivery workers of a commit's outbox rows (idempotent)."""
    for name, fn in _HOOKS:
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)
