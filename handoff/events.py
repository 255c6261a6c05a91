"""Staff notifications out of the process: the console's server-sent event stream and an
optional outgoing webhook (``RISTAPO_STAFF_WEBHOOK_URL``, e.g. a team chat).

Both are fed by :mod:`handoff.notify` after commit and carry ids and flags only — never
message text, pseudonyms or platform ids — so a team chat never holds consultation content.
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx

from handoff import notify

log = logging.getLogger("ristapo.events")
SAFE_KEYS = ("ticket_id", "urgent", "crisis", "staff_id")
WEBHOOK_KINDS = {"ticket_created", "user_message", "consent_b_answered"}


def safe_event(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The event reduced to the allow-listed fields."""
    out = {"kind": kind}
    out.update({k: data[k] for k in SAFE_KEYS if k in data})
    return out


async def event_stream(
    is_disconnected: Callable[[], Awaitable[bool]],
    still_allowed: Callable[[], bool],
    *,
    heartbeat: float = 15.0,
) -> AsyncIterator[str]:
    """SSE lines for one console connection until it disconnects or its session ends.

    Why ``still_allowed``: a disabled or logged-out staff member's open stream must stop too;
    it is checked at every heartbeat.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=200)

    def _put(item: dict[str, Any]) -> None:
        if not queue.full():
            queue.put_nowait(item)

    def on_event(kind: str, data: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(_put, safe_event(kind, data))

    unsubscribe = notify.subscribe(on_event)
    try:
        yield "retry: 5000\n\n"
        while True:
            if await is_disconnected():
                break
            try:
                item = await asyncio.wait_for(queue.get(), timeout=heartbeat)
            except TimeoutError:
                # why a thread: it queries the database; on the event loop it would stall webhooks
                if not await asyncio.to_thread(still_allowed):
                    break
                yield ": keep-alive\n\n"
                continue
            yield f"event: {item['kind']}\ndata: {json.dumps(item)}\n\n"
    finally:
        unsubscribe()


# --- outgoing webhook ---------------------------------------------------------------------------

_webhook_unsubscribe: Callable[[], None] | None = None


def webhook_payload(kind: str, data: dict[str, Any], console_url: str) -> dict[str, Any] | None:
    """The JSON sent to the team chat, or None for events it does not need."""
    if kind not in WEBHOOK_KINDS or (kind == "user_message" and not data.get("urgent")):
        return None
    event = safe_event(kind, data)
    words = {
        "ticket_created": "新しい相談が待っています",
        "user_message": "担当中の相談に急ぎのメッセージがあります",
        "consent_b_answered": "同意Bの返事がありました",
    }[kind]
    flag = "【緊急】" if data.get("crisis") else ("【急ぎ】" if data.get("urgent") else "")
    return {"text": f"りすたぽ: {flag}{words}。コンソールを開いてください: {console_url}", **event}


def install_webhook(url: str | None, console_url: str, post: Callable[[str, dict[str, Any]], None] | None = None) -> None:
    """Subscribes the webhook (replacing an earlier one); ``url=None`` turns it off."""
    global _webhook_unsubscribe
    if _webhook_unsubscribe is not None:
        _webhook_unsubscribe()
        _webhook_unsubscribe = None
    if not url:
        return
    sender = post or _post_in_background

    def on_event(kind: str, data: dict[str, Any]) -> None:
        payload = webhook_payload(kind, data, console_url)
        if payload is not None:
            sender(url, payload)

    _webhook_unsubscribe = notify.subscribe(on_event)


def _post_in_background(url: str, payload: dict[str, Any]) -> None:
    # why a thread: notifications run right after a commit inside a request; a slow team
    # chat must never delay the reply to the person writing.
    def run() -> None:
        try:
            httpx.post(url, json=payload, timeout=5.0).raise_for_status()
        except Exception as exc:
            log.warning("staff webhook failed", extra={"error_type": type(exc).__name__})

    threading.Thread(target=run, name="ristapo-staff-webhook", daemon=True).start()
