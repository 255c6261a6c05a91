"""The in-process SQLite write lock (core/write_lock.py): writers of one process take turns.

Not timed: SQLite's busy_timeout is set to 0 on these connections, so a writer that reached
SQLite while another held its write lock would fail at once with "database is locked"
(SQLITE_BUSY) instead of sleeping in SQLite's back-off.
"""
from __future__ import annotations

import threading
import time

from sqlalchemy import event, text

from core import db
from core.write_lock import WriteLock, lock_for


def _engine_without_busy_wait(path):
    engine = db.make_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _no_busy_wait(dbapi_conn, _record):  # after core/db.py's pragmas
        dbapi_conn.execute("PRAGMA busy_timeout=0")

    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE note (who TEXT NOT NULL)"))
    return engine


def _wait_until(predicate) -> None:
    deadline = time.monotonic() + 10
    while not predicate():
        assert time.monotonic() < deadline, "the other thread never got there"
        time.sleep(0.001)


def test_two_writers_of_one_process_serialise_without_sqlite_busy(tmp_path):
    engine = _engine_without_busy_wait(tmp_path / "w.db")
    lock = lock_for(str(tmp_path / "w.db"))
    assert lock is not None
    first_wrote, first_may_commit = threading.Event(), threading.Event()
    order: list[str] = []
    errors: list[BaseException] = []

    def first() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO note (who) VALUES ('first')"))
            first_wrote.set()
            first_may_commit.wait(10)
            order.append("first commits")

    def second() -> None:
        first_wrote.wait(10)
        try:
            with engine.begin() as conn:
                conn.execute(text("SELECT count(*) FROM note")).scalar_one()  # reads take no lock
                conn.execute(text("INSERT INTO note (who) VALUES ('second')"))
                order.append("second wrote")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    first_wrote.wait(10)
    _wait_until(lambda: lock.waiting == 1)  # the second writer waits on the lock, not on SQLite
    first_may_commit.set()
    for t in threads:
        t.join(10)
    assert errors == []
    assert order == ["first commits", "second wrote"]
    with engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT who FROM note")).scalars()) == ["first", "second"]
    assert not lock.held
    engine.dispose()


def test_a_failed_or_rolled_back_transaction_frees_the_lock(tmp_path):
    engine = _engine_without_busy_wait(tmp_path / "r.db")
    lock = lock_for(str(tmp_path / "r.db"))
    assert lock is not None
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO note (who) VALUES ('x')"))
        assert lock.held
        conn.rollback()
        assert not lock.held
        try:
            conn.execute(text("INSERT INTO nowhere (who) VALUES ('x')"))
        except Exception:
            conn.rollback()
        assert not lock.held
    engine.dispose()


def test_an_urgent_writer_goes_before_a_waiting_one():
    lock = WriteLock()
    assert lock.acquire()
    order: list[str] = []

    def take(name: str, urgent: bool) -> None:
        assert lock.acquire(urgent=urgent)
        order.append(name)
        lock.release()

    worker = threading.Thread(target=take, args=("worker", False))
    worker.start()
    _wait_until(lambda: lock.waiting == 1)
    store = threading.Thread(target=take, args=("store", True))
    store.start()
    _wait_until(lambda: lock.waiting == 2)
    lock.release()
    worker.join(10)
    store.join(10)
    assert order == ["store", "worker"]


def test_a_second_connection_of_the_holding_thread_does_not_wait_for_itself():
    lock = WriteLock()
    assert lock.acquire()
    assert lock.acquire(timeout=10) is False  # at once: SQLite's busy handler decides, as before
    lock.release()
    assert lock.acquire(timeout=0)
