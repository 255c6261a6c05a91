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
    except (TimeoutError, aiohttp.ClientError):
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


def _raw_request(host: str, port: int, path: str, req: Signed) -> bytes:
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(req.body)}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in req.headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + req.body


async def burst(url: str, reqs: list[Signed]) -> Outcome:
    """Every request at once, each on its own new connection, written as prebuilt bytes.

    Why not aiohttp here: for a burst the client's own work is on the critical path; aiohttp
    costs ≈ 0.3 ms of CPU per new connection and request on this machine, so 200 at once took
    ≈ 35 ms against a server that does nothing. Raw asyncio streams with the request bytes
    built beforehand leave more of the measured time to the server.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"
    wire = [_raw_request(host, port, path, r) for r in reqs]
    out = Outcome()

    async def one(data: bytes) -> None:
        t = time.perf_counter()
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(data)
            status_line = await reader.readline()
            await reader.read()  # Connection: close, the server ends the response
            writer.close()
            if status_line.split(b" ", 2)[1:2] == [b"200"]:
                out.ok += 1
        except OSError:
            pass
        out.latencies.append(time.perf_counter() - t)

    await asyncio.gather(*(one(d) for d in wire))
    return out
