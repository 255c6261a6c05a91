"""One write lock per SQLite file per process, taken where a write transaction begins.

Why: SQLite has one writer. When two connections of the same process want to write at once,
the loser's busy handler sleeps in fixed steps (1, 2, 5, 10 … 50, 100 ms) and retries; it is
not woken when the lock frees. A webhook's group commit waiting behind the inbox worker's turn
transaction lost retry after retry (228 ms after eleven tries, the bimodal burst of
docs/performance.md). Here every writer of the process first takes a ``threading`` lock, so a
waiting writer wakes the moment the other one commits. Between processes nothing changes:
SQLite's ``busy_timeout`` still decides (``ristapo worker`` processes, the CLIs).

Where: the connections come from :class:`LockingConnection` (``sqlite3.connect(factory=…)``),
so every writer — webhook store, inbox turns, outbox, console — goes through it without
knowing. pysqlite begins a transaction implicitly before the first INSERT, UPDATE, DELETE or
REPLACE (SQLite's write lock is taken there, reads before it take none); the lock is taken just
before that statement and released when the transaction ends (commit, rollback, close).

Why a threading lock: every database call runs in a thread (``asyncio.to_thread``, FastAPI's
thread pool); the event loop itself never writes, so blocking here never blocks the loop.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# why this long: the lock stands in for SQLite's busy_timeout (core/db.py); after it a writer
# goes on without the lock and SQLite's own busy handler decides, as before this lock existed
LOCK_TIMEOUT_SECONDS = 30.0

_EXPLICIT_STARTERS = ("BEGIN", "SAVEPOINT")
_TRANSACTION_STARTERS = ("INSERT", "UPDATE", "DELETE", "REPLACE", *_EXPLICIT_STARTERS)


class WriteLock:
    """A lock that lets urgent writers (webhook stores) go before the others waiting.

    Why priority: the webhook answers the platform only after its commit, while the inbox
    worker and the outbox go on a few ms later unnoticed; a store must not wait behind a chain
    of them.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._holder: int | None = None  # thread ident of the holder
        self._urgent_waiting = 0
        self._waiting = 0

    def acquire(self, *, urgent: bool = False, timeout: float = LOCK_TIMEOUT_SECONDS) -> bool:
        """Takes the lock; False if not taken (this thread holds it already, or timeout)."""
        me = threading.get_ident()
        with self._cond:
            if self._holder == me:
                # a second connection of the same thread: waiting here would wait for ourselves;
                # SQLite's busy handler decides, as it did before this lock
                return False
            if urgent:
                self._urgent_waiting += 1
            self._waiting += 1
            try:
                free = self._cond.wait_for(lambda: self._holder is None and (urgent or not self._urgent_waiting), timeout)
                if not free:
                    return False
                self._holder = me
                return True
            finally:
                self._waiting -= 1
                if urgent:
                    self._urgent_waiting -= 1
                    if not self._urgent_waiting:
                        self._cond.notify_all()  # the others may go now

    def release(self) -> None:
        with self._cond:
            self._holder = None
            self._cond.notify_all()

    @property
    def held(self) -> bool:
        return self._holder is not None

    @property
    def urgent_waiting(self) -> bool:
        """Whether an urgent writer (a webhook store) waits for the lock now."""
        return self._urgent_waiting > 0

    @property
    def waiting(self) -> int:
        """How many threads wait for the lock now."""
        return self._waiting


_locks: dict[str, WriteLock] = {}
_locks_guard = threading.Lock()
_urgency = threading.local()


def lock_for(database: str) -> WriteLock | None:
    """The process's lock for this database file; None for in-memory databases (one connection each)."""
    if not database or database == ":memory:" or "mode=memory" in database:
        return None
    key = database if database.startswith("file:") else os.path.realpath(database)
    with _locks_guard:
        found = _locks.get(key)
        if found is None:
            found = _locks[key] = WriteLock()
        return found


def _forget_locks() -> None:
    """In a forked child, locks held by the parent's threads would never be released."""
    global _locks_guard
    _locks.clear()
    _locks_guard = threading.Lock()


os.register_at_fork(after_in_child=_forget_locks)


@contextmanager
def urgent_writes() -> Iterator[None]:
    """Writes of this thread inside the block go before other waiting writers of the process."""
    before = getattr(_urgency, "on", False)
    _urgency.on = True
    try:
        yield
    finally:
        _urgency.on = before


class LockingConnection(sqlite3.Connection):
    """A pysqlite connection that holds its file's :class:`WriteLock` for each write transaction."""

    def __init__(self, database, *args, **kwargs) -> None:
        super().__init__(database, *args, **kwargs)
        self._write_lock = lock_for(os.fspath(database))
        self._holds_lock = False

    def cursor(self, factory=None):
        return super().cursor(factory or _LockingCursor)

    def before_statement(self, sql: str) -> None:
        """Takes the write lock if ``sql`` begins a transaction (pysqlite's implicit BEGIN)."""
        if self._write_lock is None or self._holds_lock or self.in_transaction:
            return
        head = sql.lstrip()[:9].upper()
        # autocommit connections (isolation_level None) open a transaction only explicitly
        starters = _EXPLICIT_STARTERS if self.isolation_level is None else _TRANSACTION_STARTERS
        if head.startswith(starters):
            self._holds_lock = self._write_lock.acquire(urgent=getattr(_urgency, "on", False))

    @property
    def urgent_writer_waiting(self) -> bool:
        """This connection holds the write lock and an urgent writer waits for it: commit soon."""
        return self._holds_lock and self._write_lock is not None and self._write_lock.urgent_waiting

    def after_statement(self) -> None:
        """Releases the lock once no transaction is open (a statement failed, or COMMIT as SQL)."""
        if self._holds_lock and not self.in_transaction:
            self._release()

    def _release(self) -> None:
        if self._holds_lock and self._write_lock is not None:
            self._holds_lock = False
            self._write_lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.after_statement()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.after_statement()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()


class _LockingCursor(sqlite3.Cursor):
    """Asks its connection for the write lock before a statement that begins a transaction."""

    connection: LockingConnection

    def execute(self, sql, parameters=(), /):
        self.connection.before_statement(sql)
        try:
            return super().execute(sql, parameters)
        finally:
            self.connection.after_statement()

    def executemany(self, sql, seq_of_parameters, /):
        self.connection.before_statement(sql)
        try:
            return super().executemany(sql, seq_of_parameters)
        finally:
            self.connection.after_statement()

    def executescript(self, sql_script, /):
        # a script commits any open transaction first and then runs without one
        try:
            return super().executescript(sql_script)
        finally:
            self.connection.after_statement()
