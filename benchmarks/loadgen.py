"""The benchmarks' load generator: signed LINE webhooks over aiohttp keep-alive connections.

Cheap on purpose, because it shares the two cores with the system under test: bodies are built
and signed before the timed part (:func:`signed_events`), requests go through one aiohttp
session per run (httpx's pool costs the *client* milliseconds per request at a few hundred
connections, which would be measured as server latency), and the event loop is uvloop's when
installed (:func:`run`).
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp

from tests.builders import line_body, make_line_text_event, sign

TEXTS = ["住むところがない", "仕事を探したい", "こんにちは", "お金に困っている", "出所したばかりです", "ありがとう"]


@dataclass(frozen=True)
class Signed:
    body: bytes
    headers: dict


@dataclass
class Outcome:
    ok: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, request → response read


def signed_events(n: int, users: int, prefix: str, secret: str) -> list[Signed]:
    """``n`` one-event webhook bodies from ``users`` distinct users, each with its signature."""
    out = []
    for i in range(n):
        body = line_body(make_line_text_event(TEXTS[i % len(TEXTS)], user_id=f"U{prefix}{i % users:04d}"))
        out.append(Signed(body, {"X-Line-Signature": sign(body, secret), "Content-Type": "application/json"}))
    return out


def run(coro):
    """``asyncio.run`` on uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def _session(connections: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections), timeout=aiohttp.ClientTimeout(total=60))


async def _post(client: aiohttp.ClientSession, url: str, req: Signed, out: Outcome) -> None:
    t = time.perf_counter()
    try:
        async with client.post(url, data=req.body, headers=req.headers) as r:
            await r.read()
            if r.status == 200:
                out.ok += 1
    except (aiohttp.ClientError, asyncio.TimeoutError):
        pass
    out.latencies.append(time.perf_counter() - t)


async def closed_loop(url: str, reqs: list[Signed], concurrency: int) -> Outcome:
    """Sends every request with at most ``concurrency`` in flight (as fast as the server takes them)."""
    out = Outcome()
    sem = asyncio.Semaphore(concurrency)
    async with _session(concurrency) as client:

        async def one(req: Signed) -> None:
            async with sem:
                await _post(client, url, req, out)

        await asyncio.gather(*(one(r) for r in reqs))
    return out


async def open_loop(urls: list[str], reqs: list[Signed], rate: float, connections: int = 256) -> Outcome:
    """Starts request ``i`` at ``i / rate`` s whatever the answers (round-robin over ``urls``)."""
    out = Outcome()
    async with _session(connections) as client:
        tasks = []
        start = time.perf_counter()
        for i, req in enumerate(reqs):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_post(client, urls[i % len(urls)], req, out)))
        await asyncio.gather(*tasks)
    return out
