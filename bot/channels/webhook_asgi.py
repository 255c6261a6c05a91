"""The one webhook mount for every channel adapter, served as plain ASGI in front of the web framework.

Why: a webhook only has to check a signature, store the body and answer 200, and LINE sends
them in bursts. Through FastAPI/Starlette (routing over every console route, request and
response objects, exception wrappers) each request cost about three times the webhook's own
work (measured with py-spy on a burst of 200; see docs/performance.md). Everything else
(the chat, the console, the API) still goes through the framework.

:func:`mount_webhook` serves ``adapter.webhook_path``: the adapter's ``parse_webhook`` says
what to store and answer (a :class:`~bot.channels.base.WebhookAnswer`), the pipeline stores
the events (persist-then-ack), and the answer's ``after`` (e.g. a courtesy message to a group)
runs once the answer is sent.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot import pipeline
from bot.channels.base import ChannelAdapter, WebhookAnswer

log = logging.getLogger("ristapo.webhook")

Handler = Callable[[dict[str, str], bytes], Awaitable[WebhookAnswer]]


def channel_handler(adapter: ChannelAdapter) -> Handler:
    """Verifies, stores, answers; the workers do everything else."""

    async def handle(headers: dict[str, str], body: bytes) -> WebhookAnswer:
        answer = adapter.parse_webhook(headers, body)
        # a database failure raises: answered 500, the platform redelivers, nothing acknowledged is lost
        await pipeline.store_and_ack(adapter.name, answer.events)
        return answer

    return handle


def mount_webhook(app, adapter: ChannelAdapter) -> None:
    """Serves ``POST adapter.webhook_path`` below the framework (see the module docstring)."""
    route: dict[str, Any] = dict(path=adapter.webhook_path, handler=channel_handler(adapter), max_bytes=adapter.max_body_bytes)
    if hasattr(app, "raw_routes"):  # bot.app.RistapoApp: before the whole middleware stack
        app.raw_routes[adapter.webhook_path] = WebhookRoute(None, **route)
    else:
        app.add_middleware(WebhookRoute, **route)


class WebhookRoute:
    """ASGI middleware: ``POST path`` goes to ``handler``; every other request to the app behind.

    Bodies above ``max_bytes`` get 413 without being read to the end; other methods on the
    path get 405. An exception in the handler (the database is down) is logged without the
    body and answered 500, so the platform redelivers later.
    """

    def __init__(self, app, *, path: str, handler: Handler, max_bytes: int) -> None:
        """``app``: the application behind (None when only ``path`` is ever routed here)."""
        self.app = app
        self.path = path
        self.handler = handler
        self.max_bytes = max_bytes
        self._after: set[asyncio.Task] = set()  # why kept: a task nobody references can be collected mid-run

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            await _answer(send, 405, "method not allowed", extra=[(b"allow", b"POST")])
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            log.warning("webhook rejected", extra={"kind": "too_large", "path": self.path})
            await _answer(send, 413, "too large")
            return
        body = await _read_body(receive, self.max_bytes)
        if body is None:
            log.warning("webhook rejected", extra={"kind": "too_large", "path": self.path})
            await _answer(send, 413, "too large")
            return
        try:
            answer = await self.handler(headers, body)
        except Exception as exc:
            # why no traceback: a database error's text can carry the statement's parameters
            log.error("webhook could not be stored; the platform will redeliver", extra={"path": self.path, "error_type": type(exc).__name__})
            await _answer(send, 500, "internal error")
            return
        await _answer(send, answer.status, answer.text)
        if answer.after is None:
            return
        if not answer.detach_after:
            await _run_after(answer.after, self.path)
            return
        task = asyncio.create_task(answer.after())
        self._after.add(task)
        task.add_done_callback(self._after.discard)


async def _run_after(after, path: str) -> None:
    """Runs ``after`` before the request ends; a failure is logged (type only), the answer is already sent."""
    try:
        await after()
    except Exception as exc:
        log.warning("webhook follow-up failed", extra={"path": path, "error_type": type(exc).__name__})


async def _read_body(receive, limit: int) -> bytes | None:
    """The whole request body, or None once it grows past ``limit`` (a missing length header)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _answer(send, status: int, text: str, *, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})
