"""A channel's webhook served as plain ASGI, in front of the web framework.

Why: a webhook only has to check a signature, store the body and answer 200, and LINE sends
them in bursts. Through FastAPI/Starlette (routing over every console route, request and
response objects, exception wrappers) each request cost about three times the webhook's own
work (measured with py-spy on a burst of 200; see docs/performance.md). Everything else
(the chat, the console, the API) still goes through the framework.

The handler gets the request headers (lower-case names) and the body, and returns
``(status, text, after)``; ``after`` is an optional coroutine function run once the answer
is sent (e.g. a courtesy message to a group), like Starlette's BackgroundTask.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("ristapo.webhook")

After = Callable[[], Awaitable[None]] | None
Handler = Callable[[dict[str, str], bytes], Awaitable[tuple[int, str, After]]]


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
            status, text, after = await self.handler(headers, body)
        except Exception as exc:
            # why no traceback: a database error's text can carry the statement's parameters
            log.error("webhook could not be stored; the platform will redeliver", extra={"path": self.path, "error_type": type(exc).__name__})
            await _answer(send, 500, "internal error")
            return
        await _answer(send, status, text)
        if after is not None:
            task = asyncio.create_task(after())
            self._after.add(task)
            task.add_done_callback(self._after.discard)


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
