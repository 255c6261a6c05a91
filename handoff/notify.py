"""Staff notifications: in-process subscribers (the console's SSE stream) after commit.

Why after commit: a console must never be told about a ticket it then cannot read.
Notifications carry ids and flags only, never message text.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlmodel import Session

log = logging.getLogger("ristapo.notify")
_subscribers: list[Callable[[str, dict[str, Any]], None]] = []


def subscribe(fn: Callable[[str, dict[str, Any]], None]) -> Callable[[], None]:
    _subscribers.append(fn)
    return lambda: _subscribers.remove(fn) if fn in _subscribers else None


def publish(session: Session, kind: str, **data: Any) -> None:
    """Queues a notification to be delivered when ``session`` commits."""
    pending = session.info.setdefault("ristapo_notifications", [])
    pending.append((kind, data))
    if not session.info.get("ristapo_notify_hooked"):
        session.info["ristapo_notify_hooked"] = True

        @event.listens_for(session, "after_commit")
        def _after_commit(sess: Session) -> None:  # pragma: no cover - exercised via publish
            items = sess.info.pop("ristapo_notifications", [])
            for k, d in items:
                _deliver(k, d)

        @event.listens_for(session, "after_rollback")
        def _after_rollback(sess: Session) -> None:
            sess.info.pop("ristapo_notifications", None)


def _deliver(kind: str, data: dict[str, Any]) -> None:
    for fn in list(_subscribers):
        try:
            fn(kind, data)
        except Exception:
            log.exception("notification subscriber failed")
