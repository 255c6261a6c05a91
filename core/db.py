"""The one place that opens the database engine (SQLite file by default, PostgreSQL by URL)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine

from core.write_lock import LockingConnection

_engine: Engine | None = None


def make_engine(url: str) -> Engine:
    """Create an engine with the pragmas each backend needs."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            _create_private(Path(path))
        # why the factory: one write lock per file in this process (core/write_lock.py), so a
        # writer waiting for another wakes when it commits instead of SQLite's stepped back-off
        connect_args = {"check_same_thread": False, "timeout": 30, "factory": LockingConnection}
        engine = create_engine(url, connect_args=connect_args)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            # why: WAL lets the webhook write while workers read; busy_timeout avoids spurious
            # locks (between processes; within one, the write lock of core/write_lock.py)
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _create_private(path: Path) -> None:
    """Creates the SQLite file readable by its owner only (0600) when it does not exist yet.

    Why: the database holds the consultations (encrypted text, but also who talked when); the
    process umask would often make it world-readable. SQLite creates its -wal and -shm files
    with the database file's mode, so they follow.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def init_engine(url: str) -> Engine:
    global _engine
    if _engine is not None:
        _engine.dispose()
    _engine = make_engine(url)
    return _engine


def engine() -> Engine:
    if _engine is None:
        from core.settings import get_settings

        init_engine(get_settings().database_url)
    assert _engine is not None
    return _engine


def import_all_models() -> None:
    """Import every room's tables so metadata is complete (create_all, Alembic, key rotation, retention).

    Why imports inside: each of those modules imports this one (for ``EncryptedText`` and the
    engine); at the top they would form a cycle, and every process would load every room.
    """
    import admin.kb_models
    import admin.models  # noqa: F401
    import core.inbox
    import core.models  # noqa: F401
    import handoff.models  # noqa: F401


def create_all() -> None:
    import_all_models()
    SQLModel.metadata.create_all(engine())


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session whose caller owns the transaction: commit on success, roll back on error."""
    with Session(engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def locking_connection(session: Session) -> LockingConnection | None:
    """The SQLite connection under ``session`` (None on PostgreSQL), to ask whether it should commit soon."""
    dbapi = session.connection().connection.dbapi_connection
    return dbapi if isinstance(dbapi, LockingConnection) else None


def ping() -> bool:
    from sqlalchemy import text

    try:
        with engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
