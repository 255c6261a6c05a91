"""The audit log: one append-only row per security-relevant act. Never message text.

Every login (success and failure), every read of a conversation, every claim, reply, note,
close, export and deletion writes one row in the same transaction as the act itself, so the
row exists exactly when the act happened.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, col, select

from admin.models import AuditEvent
from core.clock import now

_CSV_FIELDS = ["id", "at", "actor_id", "actor_name", "action", "target", "ip", "detail"]


def record(
    session: Session,
    *,
    action: str,
    actor_id: int | None = None,
    actor_name: str | None = None,
    target: str | None = None,
    ip: str | None = None,
    detail: str | None = None,
) -> AuditEvent:
    """Adds one audit row in the caller's transaction."""
    row = AuditEvent(
        at=now(),
        actor_id=actor_id,
        actor_name=(actor_name or None) and actor_name[:80],
        action=action[:60],
        target=target and target[:80],
        ip=ip and ip[:64],
        detail=detail and detail[:200],
    )
    session.add(row)
    session.flush()
    return row


def list_events(
    session: Session,
    *,
    actor_id: int | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[AuditEvent]:
    """Audit rows, newest first, filtered; ``action`` matches a prefix (``ticket.`` = all ticket acts)."""
    q = select(AuditEvent)
    if actor_id is not None:
        q = q.where(AuditEvent.actor_id == actor_id)
    if action:
        q = q.where(col(AuditEvent.action).startswith(action, autoescape=True))
    if target:
        q = q.where(AuditEvent.target == target)
    if since is not None:
        q = q.where(AuditEvent.at >= since)
    if until is not None:
        q = q.where(AuditEvent.at < until)
    q = q.order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc()).offset(offset).limit(limit)
    return list(session.exec(q).all())


def _cell(value) -> str:
    text = "" if value is None else (value.isoformat() if isinstance(value, datetime) else str(value))
    # why: a cell starting with = + - @ is a formula in spreadsheet apps (CSV injection)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


def to_csv(rows: Iterable[AuditEvent]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(_CSV_FIELDS)
    for r in rows:
        writer.writerow([_cell(getattr(r, f)) for f in _CSV_FIELDS])
    return buf.getvalue()
