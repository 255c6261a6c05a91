"""Shared helpers for the privacy tests (tests/bot/test_privacy_*.py): database walks, the CLI, content.

Checks that walk ``SQLModel.metadata`` (every table, every text column) are deliberate: a table
added later is covered without anyone editing these tests.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import String, Text, func, type_coerce
from sqlmodel import SQLModel, select

from bot.cli import main
from core import clock, db
from core.crypto import EncryptedText
from tests.conftest import CANARY

T0 = datetime(2025, 1, 6, 1, 0, tzinfo=UTC)


@pytest.fixture
def frozen():
    """Freeze the clock for the test and always thaw it."""
    clock.freeze(T0)
    yield clock.freeze
    clock.freeze(None)


# --------------------------------------------------------------------------- helpers


def text_columns(table):
    return [c for c in table.columns if isinstance(c.type, (EncryptedText, String, Text))]


def all_text_values():
    """(table, column, value) for every non-null text value in the database, decrypted."""
    db.import_all_models()
    with db.engine().connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            cols = text_columns(table)
            if not cols:
                continue
            for row in conn.execute(select(*cols)):
                for col, value in zip(cols, row, strict=True):
                    if value is not None:
                        yield table.name, col.name, str(value)


def tables_holding(marker: str) -> set[str]:
    return {f"{t}.{c}" for t, c, v in all_text_values() if marker in v}


def raw_tokens():
    """Every stored encrypted value as written in the database."""
    db.import_all_models()
    with db.engine().connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for col in table.columns:
                if isinstance(col.type, EncryptedText):
                    yield from conn.execute(select(type_coerce(col, Text)).where(col.is_not(None))).scalars()


def snapshot() -> dict[str, tuple[int, ...]]:
    """Row count and non-null count per column, for every table (a dry run must not change it)."""
    db.import_all_models()
    out = {}
    with db.engine().connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            out[table.name] = tuple(conn.execute(select(func.count(), *(func.count(c) for c in table.columns))).one())
    return out


def personal_tables():
    """channel_user and every table whose foreign keys lead to it, plus the raw inbox."""
    db.import_all_models()
    tables = {SQLModel.metadata.tables["channel_user"]}
    grew = True
    while grew:
        grew = False
        for t in SQLModel.metadata.sorted_tables:
            if t not in tables and any(fk.column.table in tables for fk in t.foreign_keys):
                tables.add(t)
                grew = True
    tables.add(SQLModel.metadata.tables["inbox_event"])
    return tables


def rows_older_than(cutoff: datetime) -> dict[str, int]:
    """Per personal table: rows whose every timestamp is before ``cutoff``."""
    out = {}
    with db.engine().connect() as conn:
        for table in personal_tables():
            stamps = [c for c in table.columns if _is_dt(c)]
            if not stamps:
                continue
            n = 0
            for row in conn.execute(select(*stamps)):
                if all(v is None or v < cutoff for v in row):
                    n += 1
            if n:
                out[table.name] = n
    return out


def _is_dt(col) -> bool:
    from bot.retention import _is_datetime

    return _is_datetime(col)


def run_cli(capsys, *argv) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def use_key_file(monkeypatch, settings):
    """Switch the prepared process from RISTAPO_DATA_KEY to a dev key file under the data dir."""
    from bot.startup import prepare
    from core.settings import get_settings

    monkeypatch.delenv("RISTAPO_DATA_KEY")
    get_settings.cache_clear()
    return prepare(get_settings(), create_tables=False)


def some_content(chat, marker=CANARY):
    """A consented user who writes ``marker``, is handed off with intake answers, and a declined user."""
    chat.say("こんにちは")
    chat.press("c:y")
    chat.say(f"仕事を探したい {marker}")
    chat.press("h")
    for step in ("who:self", "need:work", "urgency:week", "contact:chat"):
        chat.press(f"i:{step}")
    chat.say(f"追加で {marker} のことも")



def _purge(dry_run=False, **periods):
    from bot.retention import purge

    with db.session_scope() as s:
        return purge(
            s, retention_days=periods.get("days", 180), payload_retention_days=periods.get("payload_days", 7),
            ticket_max_age_days=periods.get("ticket_days"), dry_run=dry_run,
        )


def _inbox_event(external_id: str, *, state="done", payload=CANARY):
    from bot.models import InboxEvent

    with db.session_scope() as s:
        s.add(InboxEvent(channel="line", external_id=external_id, user_key="k", payload=json.dumps({"text": payload}), state=state, processed_at=clock.now() if state == "done" else None))
