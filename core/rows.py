"""``saved_id``: the primary key of a row the database has already numbered; ``table_of``: a
model's Core table.

Why: SQLModel tables declare ``id: int | None`` (None until the first flush), so a type checker
cannot tell that a loaded or flushed row has its key. This says so in one place, and fails
loudly if a caller forgot to flush, instead of writing a NULL foreign key.
"""
from __future__ import annotations

from typing import Protocol

from sqlalchemy import Table
from sqlmodel import SQLModel


class _Keyed(Protocol):
    @property
    def id(self) -> int | None: ...


def saved_id(row: _Keyed) -> int:
    """``row.id``, which must be set (the row was loaded, or added and flushed)."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id yet: flush the session first")
    return row.id


def table_of(model: type[SQLModel]) -> Table:
    """The SQLAlchemy ``Table`` of a ``table=True`` model (for Core statements over whole tables)."""
    return model.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models at class creation, untyped
