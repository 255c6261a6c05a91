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
from bot.pipeline.outbox import SendJob, deliver, finish_and_claim, finish_jobs
from bot.pipeline.tuning import FINISH_LINGER_SECONDS, GATHER_AFTER_WORK_SECONDS, SEND_CONCURRENCY, TUNING

log = logging.getLogger("ristapo.pipeline")


def gather_pause(last_work: float, since: float, now: float) -> float:
    """Seconds to wait before the next claim so that it finds more than one or two events.

    Only while traffic flows (work done within :data:`GATHER_AFTER_WORK_SECONDS`): a lone
    message after a quiet spell is taken at once. The window runs from ``since`` (the start of
    the previous pass, or the wake-up), so a pass that took longer than the window goes on at once.
    """
    if TUNING.gather_seconds <= 0 or now - last_work > GATHER_AFTER_WORK_SECONDS:
        return 0.0
    return max(0.0, min(TUNING.gather_seconds, since + TUNING.gather_seconds - now))


async def _pause(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


async def inbox_loop(*, concurrency: int | None = None, limit: int = 50) -> None:
    """Processes inbox events forever: wakes on :func:`~bot.pipeline.wake.poke` and polls for other processes.

    After a pass that found work but not a full ``limit``, the loop goes round after
    :func:`gather_pause` (more is probably arriving); after a full one, at once (a backlog);
    after an empty one it waits for a poke or the poll.
    """
    loop = asyncio.get_running_loop()
    last_work = float("-inf")
    with wake.waker("inbox") as waker:
        while True:
            started = time.monotonic()
            # why clear here: a poke that came before this claim is for work the claim sees
            waker.clear()
            try:
                n = await asyncio.to_thread(process_inbox_batch, limit, loop=loop)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("inbox worker pass failed")
                n = 0
            if n:
                last_work = time.monotonic()
                if n < limit:
                    await _pause(gather_pause(last_work, started, time.monotonic()))
            else:
                await waker.idle(last_work)
                woken = time.monotonic()
                await _pause(gather_pause(last_work, woken, woken))


async def outbox_loop(*, concurrency: int = SEND_CONCURRENCY) -> None:
    """Delivers outbox rows forever, keeping up to ``concurrency`` sends in flight.

    Each round records the sends completed since the last one and claims new rows in ONE
    transaction (:func:`~bot.pipeline.outbox.finish_and_claim`). Why: recording each send and
    claiming its successor alone cost two transactions per message at moderate rates.
    """
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
                    # why linger: sends complete one by one; let a few more come to record together
                    await asyncio.sleep(FINISH_LINGER_SECONDS)
                batch, finished[:] = list(finished), []
                waker.clear()  # a poke before this claim is for rows the claim sees
                jobs = await _finish_and_claim(batch, concurrency - len(inflight))
                for job in jobs:
                    task = asyncio.create_task(one(job))
                    inflight.add(task)
                    task.add_done_callback(inflight.discard)
                if jobs:
                    last_work = time.monotonic()
                if not finished:
                    await waker.idle(last_work)
                    woken = time.monotonic()
                    if not finished:  # woken by new rows, not by a completed send: let more come
                        await _pause(gather_pause(last_work, woken, woken))
        finally:
            for t in inflight:
                t.cancel()


async def _finish_and_claim(batch: list[tuple[SendJob, SendResult]], free: int) -> list[SendJob]:
    """Records ``batch`` and claims up to ``free`` rows; never raises (the loop goes on)."""
    try:
        return await asyncio.to_thread(finish_and_claim, batch, max(free, 0))
    except Exception:
        log.exception("outbox round failed")
    if batch:
        try:
            # record the outcomes alone; the rows claimed (if any) were rolled back with them
            await asyncio.to_thread(finish_jobs, batch)
        except Exception:
            # the leases run out and the rows are sent again (idempotently) later
            log.exception("recording send outcomes failed")
    return []


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
