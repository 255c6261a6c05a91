"""Waking this process's workers when new work is committed (:func:`poke`), else they poll.

The session hooks that notice new outbox rows are registered by :func:`install`, called from
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

from bot.pipeline.tuning import BUSY_WINDOW_SECONDS, TUNING
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

    async def wait(self, timeout: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.event.wait(), timeout)
        self.event.clear()

    async def idle(self, last_work: float) -> None:
        """Waits for a poke, or polls: soon while work came recently, else every ``poll_seconds``."""
        recent = time.monotonic() - last_work < BUSY_WINDOW_SECONDS
        await self.wait(TUNING.busy_poll if recent else TUNING.poll_seconds)


_wakers: dict[str, list[_Waker]] = {"inbox": [], "outbox": []}


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
            return


def _wake_after_commit(session):  # pragma: no cover - trivial
    if session.info.pop(OUTBOX_ADDED, False):
        poke("outbox")


_HOOKS = (("after_flush", _note_outbox_rows), ("after_commit", _wake_after_commit))


def install() -> None:
    """Registers the session hooks that wake the delivery worker after a commit (idempotent)."""
    for name, fn in _HOOKS:
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)


def uninstall() -> None:
    """Removes the hooks again (tests)."""
    for name, fn in _HOOKS:
        if event.contains(Session, name, fn):
            event.remove(Session, name, fn)
