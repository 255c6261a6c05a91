"""Run-time settings kept in the database, with the environment's value as the default."""
from __future__ import annotations

from sqlmodel import Session

from core.clock import now
from core.models import ServiceSetting
from core.settings import Settings

RETENTION_DAYS = "retention_days"


def get_value(session: Session, key: str) -> str | None:
    row = session.get(ServiceSetting, key)
    return row.value if row is not None else None


def do_set_value(session: Session, key: str, value: str, *, staff_id: int | None) -> None:
    """Stores ``key``; the caller commits (and audits)."""
    row = session.get(ServiceSetting, key) or ServiceSetting(key=key, value=value)
    row.value = value
    row.updated_at = now()
    row.updated_by = staff_id
    session.add(row)


def retention_days(session: Session, settings: Settings) -> int:
    """The retention period in force: what an admin set in the console, else RISTAPO_RETENTION_DAYS."""
    value = get_value(session, RETENTION_DAYS)
    try:
        return int(value) if value is not None else settings.retention_days
    except ValueError:
        return settings.retention_days
