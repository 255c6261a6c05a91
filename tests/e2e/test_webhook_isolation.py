"""The LINE webhook and ``/healthz`` keep answering when the console is slow or failing.

The console and the webhooks share one process (docs/performance.md, "Where the webhook's
tail went", says why that stays so). What keeps the webhook independent of the console: it is
served below the framework (bot/channels/webhook_asgi.py), never passes the staff-side
admission gate (admin/admission.py), and stores through its own thread hand-off, not the
console's thread pool or database session. Here every console request hangs (or fails) in
its database dependency while webhooks arrive; they must still be stored and answered 200.
"""
from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from sqlmodel import select

from bot.models import InboxEvent
from core import db
from tests.builders import line_body, make_line_text_event, sign
from tests.fakes.line_api import LINE_SECRET, line_api, line_api_server, line_env  # noqa: F401  (fixtures)

CONSOLE_REQUESTS = 6  # more than the admission limit (2): some hold threads, some queue on the loop


def _stored() -> int:
    with db.session_scope() as s:
        return len(s.exec(select(InboxEvent)).all())


@pytest.mark.parametrize("console", ["hanging", "failing"])
def test_webhooks_are_stored_and_answered_while_the_console_hangs_or_fails(line_env, console):
    from admin.deps import get_session

    app = line_env.app
    release = threading.Event()

    def broken_session():
        if console == "failing":
            raise RuntimeError("the console's database session failed")
        release.wait(30)  # a console request stuck in its query
        yield from get_session()

    app.dependency_overrides[get_session] = broken_session

    async def scenario():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            pages = ["/admin/api/tickets", "/console/inbox"]
            staff = [asyncio.create_task(client.get(pages[n % 2], headers={"Cookie": "x=y"})) for n in range(CONSOLE_REQUESTS)]
            await asyncio.sleep(0.3)  # they are in the gate or in its threads now
            answers = []
            for n in range(3):
                body = line_body(make_line_text_event("こんにちは", user_id=f"U-iso-{n}"))
                answers.append(await client.post("/webhooks/line", content=body,
                                                 headers={"X-Line-Signature": sign(body, LINE_SECRET), "Content-Type": "application/json"}))
            health = await client.get("/healthz")
            still_waiting = sum(1 for t in staff if not t.done())
            release.set()
            done = await asyncio.gather(*staff)
            return answers, health, still_waiting, done

    try:
        answers, health, still_waiting, done = asyncio.run(scenario())
    finally:
        release.set()
        app.dependency_overrides.clear()
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert health.status_code == 200
    assert _stored() == 3
    if console == "hanging":
        assert still_waiting == CONSOLE_REQUESTS  # the webhooks did not wait for any of them
        assert all(r.status_code in (200, 302, 303, 401, 403) for r in done)
    else:
        assert all(r.status_code >= 500 for r in done)
