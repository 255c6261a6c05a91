"""``ristapo worker [--inbox] [--outbox]``: the pipeline workers as a process of their own.

Same code as the asyncio tasks inside ``ristapo serve``; run as many as you like against one
PostgreSQL (rows are taken with ``FOR UPDATE SKIP LOCKED``). ``bot.app.create_worker``
registers the adapter of every channel whose credentials are set (no web app is built).
SIGTERM/SIGINT stop it after the current step; an interrupted step is taken again by any
worker (inbox: the transaction never committed; outbox: its lease ends).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.app import WorkerProcess

log = logging.getLogger("ristapo.worker")


async def run_workers(worker: WorkerProcess, *, inbox: bool, outbox: bool, once: bool = False) -> None:
    from bot import pipeline

    for start in worker.on_startup:
        await start()
    if worker.freeze_heap:
        from core import heap

        if inbox and not once:
            await asyncio.to_thread(pipeline.warm_up)  # why: bot/pipeline/warm.py

        heap.freeze_long_lived()
    try:
        if once:
            if inbox:
                await pipeline.run_inbox_once()
            if outbox:
                await pipeline.run_outbox_once()
            return
        loops = []
        if inbox:
            loops.append(asyncio.create_task(pipeline.inbox_loop()))
        if outbox:
            loops.append(asyncio.create_task(pipeline.outbox_loop()))
        # not among the loops awaited below: on SQLite it has nothing to do and returns at once
        listener = asyncio.create_task(pipeline.listen_loop())
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        log.info("worker started", extra={"worker": "+".join(k for k, on in (("inbox", inbox), ("outbox", outbox)) if on)})
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait([waiter, *loops], return_when=asyncio.FIRST_COMPLETED)
        for t in (waiter, listener, *loops):
            t.cancel()
        for t in (listener, *loops):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        log.info("worker stopped")
    finally:
        for stop_hook in worker.on_shutdown:
            with contextlib.suppress(Exception):
                await stop_hook()


def cmd_worker(args: argparse.Namespace) -> int:
    from bot import pipeline
    from bot.app import create_worker
    from core.logs import setup_logging

    setup_logging()
    worker = create_worker()
    worker.freeze_heap = True  # why: core/heap.py (full collections paused the whole process)
    if not pipeline.worker_channels():
        log.warning("no channel is configured (LINE/Telegram credentials unset): the worker has nothing to deliver")
    both = not (args.inbox or args.outbox)
    asyncio.run(run_workers(worker, inbox=both or args.inbox, outbox=both or args.outbox, once=args.once))
    return 0


def register(subparsers, parser) -> None:
    p = subparsers.add_parser("worker", help="run the inbox and delivery workers as a separate process")
    p.add_argument("--inbox", action="store_true", help="only process stored webhook events")
    p.add_argument("--outbox", action="store_true", help="only deliver outgoing messages")
    p.add_argument("--once", action="store_true", help="work off what is due now, then exit")
    p.set_defaults(func=cmd_worker)
