"""Admission control and response headers for the staff side (``/admin/...`` and ``/console``).

Why a limit: every console or admin API request takes a database connection and a worker
thread. Without a bound, a hundred open consoles (or one script) took every pooled
connection; the webhook's insert then waited for the pool and LINE got no answer. Here at
most ``RISTAPO_CONSOLE_CONCURRENCY`` staff-side requests run at once; the others wait on the
event loop, holding nothing, and after ``RISTAPO_CONSOLE_QUEUE_SECONDS`` get 503 with
``Retry-After``. The webhooks, the web chat and ``/healthz`` never pass through this gate.

Event streams (hours long, one database check per heartbeat in a thread) and static files
are not counted. Every response here gets ``Cache-Control: no-store`` (static files aside):
a shared or back-button cache must never keep a transcript or an account list.
"""
from __future__ import annotations

import asyncio
import weakref

STAFF_PREFIXES = ("/admin/", "/console")
NOT_COUNTED = ("/admin/api/events", "/console/events", "/console/static/")
CACHED_OK = ("/console/static/",)


class StaffSideAdmission:
    """ASGI middleware: bounded concurrency and ``no-store`` for staff-side requests."""

    def __init__(self, app, *, limit: int, queue_seconds: float) -> None:
        self.app = app
        self.limit = max(1, limit)
        self.queue_seconds = queue_seconds
        # why per loop: an asyncio.Semaphore belongs to one event loop (tests start several)
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()

    def _gate(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.limit)
        return gate

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(STAFF_PREFIXES):
            await self.app(scope, receive, send)
            return
        send = _no_store(send) if not path.startswith(CACHED_OK) else send
        if path.startswith(NOT_COUNTED):
            await self.app(scope, receive, send)
            return
        gate = self._gate()
        try:
            async with asyncio.timeout(self.queue_seconds):
                await gate.acquire()
        except TimeoutError:
            await _busy(send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            gate.release()


def _no_store(send):
    async def wrapped(message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
            message = {**message, "headers": headers + [(b"cache-control", b"no-store")]}
        await send(message)

    return wrapped


async def _busy(send) -> None:
    body = "混み合っています。少し待ってから、もう一度操作してください。".encode()
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()), (b"retry-after", b"5"),
    ]})
    await send({"type": "http.response.body", "body": body})


def install(app, settings) -> None:
    """Wraps the application (called by the composition root, bot/app.py)."""
    app.add_middleware(StaffSideAdmission, limit=settings.console_concurrency, queue_seconds=settings.console_queue_seconds)
