"""A saturated console must not stall the webhooks: a real ``ristapo serve`` on loopback.

The audit (issue 16, item 1): about 16 concurrent signed-in requests froze the whole process,
because the session lookup ran on the event loop and waited there for a pooled connection.
Here 100 signed-in console and admin API requests are fired at once while the LINE webhook
and ``/healthz`` are probed; both must keep answering within 200 ms (95th percentile; no
probe above 1 s), every console request must still be served, and SIGTERM must stop it.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time

import httpx
import pytest

from tests.builders import line_body, make_line_text_event, sign
from tests.e2e.test_line_crash import ROOT, _free_port, _start
from tests.fakes.line_api import LINE_SECRET, LINE_TOKEN, line_api, line_api_server  # noqa: F401  (fixtures)
from tests.staff_helpers import (
    cheap_argon2,  # noqa: F401  (autouse fixture)
    make_staff,
    new_session_token,
)

pytestmark = pytest.mark.slow
CONCURRENT = 100
LIMIT_MS = 200
STALL_MS = 1000


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


def _serve_env(line_api) -> dict:
    env = dict(os.environ)
    env.update(
        RISTAPO_LINE_CHANNEL_SECRET=LINE_SECRET,
        RISTAPO_LINE_CHANNEL_ACCESS_TOKEN=LINE_TOKEN,
        RISTAPO_LINE_API_BASE=line_api.base_url,
        RISTAPO_LINE_DATA_API_BASE=line_api.base_url,
        RISTAPO_RUN_WORKERS="1",
        NO_PROXY="127.0.0.1,localhost",
        PYTHONPATH=str(ROOT),
    )
    return env


async def _console_burst(base: str, tokens: list[str]) -> list[int]:
    """``CONCURRENT`` signed-in requests at once (API and console pages), their statuses."""
    from admin.auth import SESSION_COOKIE

    paths = ["/admin/api/tickets", "/console/inbox", "/admin/api/me", "/console/inbox?view=mine"]
    limits = httpx.Limits(max_connections=CONCURRENT + 10, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:

        async def one(n: int) -> int:
            token = tokens[n % len(tokens)]
            # why a raw Cookie header: __Host- cookies are Secure and this is plain http on loopback
            r = await client.get(paths[n % len(paths)], headers={"Cookie": f"{SESSION_COOKIE}={token}"})
            return r.status_code

        return await asyncio.gather(*(one(n) for n in range(CONCURRENT)))


def _probe(base: str, done: threading.Event) -> tuple[list[float], list[float], list[int]]:
    """Health and webhook latencies (ms) and statuses until ``done`` (at least a few rounds)."""
    health, webhook, statuses = [], [], []
    with httpx.Client(base_url=base, timeout=30) as client:
        rounds = 0
        while not done.is_set() or rounds < 10:
            rounds += 1
            t = time.perf_counter()
            statuses.append(client.get("/healthz").status_code)
            health.append((time.perf_counter() - t) * 1000)
            body = line_body(make_line_text_event("こんにちは", user_id=f"U-sat-{rounds % 7}"))
            t = time.perf_counter()
            statuses.append(client.post("/webhooks/line", content=body, headers={"X-Line-Signature": sign(body, LINE_SECRET), "Content-Type": "application/json"}).status_code)
            webhook.append((time.perf_counter() - t) * 1000)
            time.sleep(0.02)
    return health, webhook, statuses


def _warm_up(base: str, token: str, line_api) -> None:
    """First requests load templates and the understanding; measure the steady state."""
    from admin.auth import SESSION_COOKIE

    with httpx.Client(base_url=base, timeout=60) as client:
        assert client.get("/console/inbox", headers={"Cookie": f"{SESSION_COOKIE}={token}"}).status_code == 200
        body = line_body(make_line_text_event("こんにちは", user_id="U-sat-warm"))
        client.post("/webhooks/line", content=body, headers={"X-Line-Signature": sign(body, LINE_SECRET), "Content-Type": "application/json"})
    assert line_api.wait_for(lambda f: len(f.accepted) >= 1, timeout=60), "the bot never answered the warm-up message"


@pytest.mark.postgres
def test_hundred_concurrent_console_requests_leave_webhook_and_health_fast(settings, line_api, db_backend):
    staff = [make_staff(f"sat-{i}", ["staff"])[0] for i in range(10)]
    tokens = [new_session_token(s) for s in staff]
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(_serve_env(line_api), port)
    try:
        _warm_up(base, tokens[0], line_api)
        done = threading.Event()
        result: dict = {}
        prober = threading.Thread(target=lambda: result.update(probe=_probe(base, done)))
        prober.start()
        time.sleep(0.1)
        started = time.monotonic()
        statuses = asyncio.run(_console_burst(base, tokens))
        burst_seconds = time.monotonic() - started
        done.set()
        prober.join(60)
        health, webhook, probe_statuses = result["probe"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("ristapo serve did not stop on SIGTERM") from None
    assert statuses == [200] * CONCURRENT, sorted(set(statuses))
    assert set(probe_statuses) == {200}
    # why p95 and a looser max: on a shared CI machine another process can take the core for a
    # moment whatever we do (one console user alone saw 260 ms spikes, docs/performance.md);
    # the old code did not answer at all for as long as the burst lasted
    for name, values in (("healthz", health), ("webhook", webhook)):
        assert len(values) >= 10, (name, len(values))
        assert _p95(values) < LIMIT_MS, (name, [round(x) for x in values], burst_seconds)
        assert max(values) < STALL_MS, (name, [round(x) for x in values], burst_seconds)
