"""Runs ``ristapo serve`` with timing probes inside (a diagnostic, not a test; not for production).

``python -m benchmarks.tail_probe serve --port N`` with ``PROBE_OUT=/path.json``. On exit it
writes, with wall-clock times (``time.time()``, comparable with the load generator's):

- ``hooks``: per LINE webhook request, when it entered the ASGI app, when the handler got to the
  group commit, when its events were committed and when it answered;
- ``stores``: per group commit, when it was handed to the thread pool, when a thread started it,
  the connection checkout, the INSERT (where a SQLite write-lock wait shows) and the commit;
- ``writes``: every write transaction of any thread (first INSERT/UPDATE/DELETE → commit or
  rollback): who held SQLite's single write lock, and for how long;
- ``loop_lag``: a task sleeping 2 ms, and how late it woke up (the event loop busy or waiting
  for the GIL);
- ``gil_lag``: a thread sleeping 0.5 ms, and how late it ran again (the GIL and the CPU);
- ``slow_callbacks``: event-loop callbacks over 2 ms, wall and this thread's CPU time.

Why it exists: issue 16.1's webhook p99 (234 ms with 100 console users) had been put down to
the GIL without a measurement; this shows which of these the slow requests waited for.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time

T = time.time
out: dict[str, list] = {"hooks": [], "stores": [], "writes": [], "loop_lag": [], "gil_lag": [], "slow_callbacks": [], "inbox_passes": [], "gc": []}


def _install_request_probes() -> None:
    """Webhook requests: enter/exit of each, and its wait in the group commit."""
    from bot import pipeline
    from bot.channels import webhook_asgi

    current: dict[int, dict] = {}
    orig_call = webhook_asgi.WebhookRoute.__call__

    async def call(self, scope, receive, send):
        if scope.get("type") != "http" or scope.get("path") != self.path:
            return await orig_call(self, scope, receive, send)
        rec = {"enter": T()}
        task = asyncio.current_task()
        current[id(task)] = rec
        try:
            await orig_call(self, scope, receive, send)
        finally:
            rec["exit"] = T()
            current.pop(id(task), None)
            out["hooks"].append(rec)

    webhook_asgi.WebhookRoute.__call__ = call

    orig_store = pipeline.store._GroupCommit.store

    async def store(self, channel, events):
        rec = current.get(id(asyncio.current_task()), {})
        rec["store_in"] = T()
        rec["drain_busy"] = bool(self.task is not None and not self.task.done())
        try:
            return await orig_store(self, channel, events)
        finally:
            rec["store_out"] = T()

    pipeline.store._GroupCommit.store = store


def _install_thread_probes() -> None:
    """Work sent to threads: the store batches and the inbox passes."""
    from bot import pipeline

    orig_to_thread = asyncio.to_thread

    async def to_thread(func, *args, **kwargs):
        if func is pipeline.store._store_batch:
            rec = {"queued": T(), "n": len(args[0])}
            out["stores"].append(rec)

            def run():
                rec["thread_start"] = T()
                threading.current_thread().probe_store = rec
                try:
                    return func(*args, **kwargs)
                finally:
                    threading.current_thread().probe_store = None
                    rec["thread_end"] = T()

            r = await orig_to_thread(run)
            rec["resumed"] = T()
            return r
        if getattr(func, "__name__", "") == "process_inbox_batch":
            rec = {"queued": T()}

            def run_inbox():
                rec["start"] = T()
                try:
                    n = func(*args, **kwargs)
                    rec["n"] = n
                    return n
                finally:
                    rec["end"] = T()
                    out["inbox_passes"].append(rec)

            return await orig_to_thread(run_inbox)
        return await orig_to_thread(func, *args, **kwargs)

    asyncio.to_thread = to_thread


def _install_write_probes() -> None:
    """Write transactions (SQLite's one writer), inserts of the store batches, connection checkouts."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    state = threading.local()

    @event.listens_for(Engine, "before_cursor_execute")
    def _before(conn, cursor, statement, params, context, executemany):
        head = statement.lstrip()[:6].upper()
        st = threading.current_thread()
        rec = getattr(st, "probe_store", None)
        if rec is not None and head == "INSERT":
            rec["insert_start"] = T()
        if head in ("INSERT", "UPDATE", "DELETE") and getattr(state, "write", None) is None:
            state.write = {"start": T(), "thread": st.name, "store": rec is not None, "first": statement.split("\n")[0][:60]}

    @event.listens_for(Engine, "after_cursor_execute")
    def _after(conn, cursor, statement, params, context, executemany):
        rec = getattr(threading.current_thread(), "probe_store", None)
        if rec is not None and statement.lstrip()[:6].upper() == "INSERT":
            rec["insert_end"] = T()

    def _end(conn, how):
        w = getattr(state, "write", None)
        if w is not None:
            w["end"] = T()
            w["how"] = how
            out["writes"].append(w)
            state.write = None

    event.listen(Engine, "commit", lambda conn: _end(conn, "commit"))
    event.listen(Engine, "rollback", lambda conn: _end(conn, "rollback"))

    if os.environ.get("PROBE_WAL_AUTOCHECKPOINT"):  # experiment: who pays for WAL checkpoints

        @event.listens_for(Engine, "connect")
        def _no_auto_checkpoint(dbapi_conn, record):
            dbapi_conn.execute(f"PRAGMA wal_autocheckpoint={int(os.environ['PROBE_WAL_AUTOCHECKPOINT'])}")

    @event.listens_for(Engine, "checkout")
    def _checkout(dbapi_conn, record, proxy):
        rec = getattr(threading.current_thread(), "probe_store", None)
        if rec is not None:
            rec["checked_out"] = T()


def _install_loop_probe() -> None:
    """Event-loop callbacks slower than 2 ms."""
    orig_run = asyncio.events.Handle._run

    def run(self):
        w0, c0 = time.perf_counter(), time.thread_time()
        try:
            return orig_run(self)
        finally:
            dw = time.perf_counter() - w0
            if dw > 0.002:
                out["slow_callbacks"].append({"at": T(), "wall": dw, "cpu": time.thread_time() - c0, "what": repr(self)[:160]})

    asyncio.events.Handle._run = run


def _install_gil_probe() -> None:
    """A thread that sleeps 0.5 ms and records how late it wakes."""
    def gil_probe():
        while True:
            t = time.perf_counter()
            time.sleep(0.0005)
            late = time.perf_counter() - t - 0.0005
            if late > 0.002:
                out["gil_lag"].append((T(), late))

    threading.Thread(target=gil_probe, daemon=True, name="probe-gil").start()


def _install_gc_probe() -> None:
    """Garbage collection (runs with the GIL held, in whichever thread allocated last)."""
    import gc

    gc_start: dict[str, float] = {}

    def on_gc(phase, info):
        if phase == "start":
            gc_start["t"] = time.perf_counter()
            if info["generation"] == 2 and os.environ.get("PROBE_GC_DETAIL") == "1":
                import traceback

                gc_start["detail"] = {"unfrozen": len(gc.get_objects()), "frozen": gc.get_freeze_count(),
                                      "stack": [f"{f.filename.rsplit('/', 2)[-2:]}:{f.lineno} {f.name}" for f in traceback.extract_stack(limit=12)]}
                gc_start["t"] = time.perf_counter()
        else:
            d = time.perf_counter() - gc_start.get("t", time.perf_counter())
            if info["generation"] == 2 or d > 0.002:
                out["gc"].append({"at": T(), "gen": info["generation"], "seconds": d, "collected": info["collected"],
                                  "thread": threading.current_thread().name, **gc_start.pop("detail", {})})

    gc.callbacks.append(on_gc)


def _install() -> None:
    from core import db

    _install_request_probes()
    _install_thread_probes()
    _install_write_probes()
    _install_loop_probe()
    _install_gil_probe()
    _install_gc_probe()
    _ = db  # imported so the engine module is loaded before the app


async def _loop_probe() -> None:
    while True:
        t = time.perf_counter()
        await asyncio.sleep(0.002)
        late = time.perf_counter() - t - 0.002
        if late > 0.002:
            out["loop_lag"].append((T(), late))


def _dump() -> None:
    path = os.environ.get("PROBE_OUT")
    if path:
        with open(path, "w") as f:
            json.dump(out, f)


def main() -> None:
    _install()
    from bot import app as app_module

    orig_create = app_module.create_app

    def create_app(*a, **k):
        app = orig_create(*a, **k)

        async def start_probe(_app):
            out["modules_at_start"] = sorted(sys.modules)
            _app.state.probe_task = asyncio.create_task(_loop_probe())

        async def dump(_app):
            import collections
            import gc

            objs = gc.get_objects()
            out["modules_later"] = sorted(set(sys.modules) - set(out.get("modules_at_start", ())))
            out["heap"] = {"objects": len(objs), "frozen": gc.get_freeze_count(),
                           "types": collections.Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in objs).most_common(25)}
            del objs
            _dump()

        app.state.on_startup.append(start_probe)
        # why at shutdown, not atexit: uvicorn re-raises SIGTERM after its shutdown
        app.state.on_shutdown.append(dump)
        return app

    app_module.create_app = create_app
    from bot.cli import main as cli_main

    sys.exit(cli_main(sys.argv[1:]))


if __name__ == "__main__":
    main()
