"""The worker loops (inbox and delivery) and their wiring into ``ristapo serve`` / ``ristapo worker``.

Each loop works while there is work, then waits for a :func:`~bot.pipeline.wake.poke` from
this process (or, on PostgreSQL, relayed by :func:`listen_loop` from another process's
commit) or polls the database.
"""
from __future__ import annotations

import asyncio
import logging
import time

from bot.channels.base import SendResult
from bot.pipeline import listen, tuning, wake
from bot.pipeline.inbox import process_inbox_batch
from bot.pipeline.outbox import SendJob, claim_outbox, deliver, finish_jobs
from bot.pipeline.tuning import FINISH_LINGER_SECONDS, SEND_CONCURRENCY

log = logging.getLogger("ristapo.pipeline")


async def inbox_loop(*, concurrency: int | None = None) -> None:
    """Processes inbox events forever: wakes on :func:`~bot.pipeline.wake.poke` and polls for other processes."""
    loop = asyncio.get_running_loop()
    last_work = float("-inf")
    with wake.waker("inbox") as waker:
        while True:
            try:
                n = await asyncio.to_thread(process_inbox_batch, 50, loop=loop)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("inbox worker pass failed")
                n = 0
            if n:
                last_work = time.monotonic()
            else:
                await waker.idle(last_work)


async def outbox_loop(*, concurrency: int = SEND_CONCURRENCY) -> None:
    """Delivers outbox rows forever, keeping up to ``concurrency`` sends in flight."""
    with wake.waker("outbox") as waker:
        inflight: set[asyncio.Task] = set()
        finished: list[tuple[SendJob, SendResult]] = []
        last_work = float("-inf")

        async def one(job: SendJob) -> None:
            finished.append((job, await deliver(job)))
            waker.set()

        try:
            while True:
                if finished and inflight and len(finished) < concurrency // 2:
                    # why linger: sends complete one by one; recording each and claiming its
                    # successor alone would cost two transactions per message
                    await asyncio.sleep(FINISH_LINGER_SECONDS)
                if finished:
                    batch, finished[:] = list(finished), []
                    try:
                        await asyncio.to_thread(finish_jobs, batch)
                    except Exception:
                        # the leases run out and the rows are sent again (idempotently) later
                        log.exception("recording send outcomes failed")
                free = concurrency - len(inflight)
                jobs: list[SendJob] = []
                if free > 0:
                    try:
                        jobs = await asyncio.to_thread(claim_outbox, free)
                    except Exception:
                        log.exception("outbox claim failed")
                for job in jobs:
                    task = asyncio.create_task(one(job))
                    inflight.add(task)
                    task.add_done_callback(inflight.discard)
                if jobs:
                    last_work = time.monotonic()
                if not jobs and not finished:
                    await waker.idle(last_work)
        finally:
            for t in inflight:
                t.cancel()


async def listen_loop() -> None:
    """Relays other processes' commits to this process's workers (PostgreSQL); returns at once otherwise."""
    if listen.wanted():
        await listen.listen_forever()


async def _inbox_worker(app) -> None:
    await inbox_loop()


async def _outbox_worker(app) -> None:
    await outbox_loop()


async def _listen_worker(app) -> None:
    await listen_loop()


def configure(settings) -> None:
    """Readies the pipeline of this process: its tunables from ``settings``, the wake-up hooks."""
    tuning.configure(settings)
    wake.install()


def install(app, settings) -> None:
    """Configures the pipeline and adds its workers to the app's lifespan (``RISTAPO_RUN_WORKERS``)."""
    configure(settings)
    app.state.workers.append(_inbox_worker)
    app.state.workers.append(_outbox_worker)
    app.state.workers.append(_listen_worker)
    if settings.run_workers:
        import sys

        # why: the inbox worker's engine turns run in a thread; a shorter GIL switch interval
        # (default 5 ms) keeps the event loop, and so the webhook's answer, responsive
        sys.setswitchinterval(0.001)
