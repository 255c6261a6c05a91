"""Crash test: ``ristapo serve`` is SIGKILLed right after answering the webhooks, then restarted.

Every acknowledged event must be processed exactly once and answered exactly once. In the
first test the fake LINE API answers 503 while the first server runs (an outage). The second
aims at the window between "LINE accepted a message" and "we recorded it": the fake takes each
message and then holds its answer, and the server is killed while it waits, ten times over.
"""
from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from bot.models import InboxEvent
from core import db
from core.models import ChannelUser, Message, OutboxMessage
from core.outbox import payload_messages
from tests.builders import line_body, make_line_text_event, sign
from tests.fakes.line_api import LINE_SECRET, LINE_TOKEN, Recorded, line_api, line_api_server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
USERS = [f"U-crash-{i}" for i in range(5)]
TEXTS = ["こんにちは", "住むところがない", "仕事を探したい", "お金に困っている", "家族のことで相談したい", "ありがとう"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(env: dict, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("ristapo serve exited: " + proc.stderr.read().decode(errors="replace")[-2000:])
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("ristapo serve did not come up")


def _rows(model):
    with db.session_scope() as s:
        return list(s.exec(select(model)).all())


def _env(line_api) -> dict:
    env = dict(os.environ)
    env.update(
        RISTAPO_LINE_CHANNEL_SECRET=LINE_SECRET,
        RISTAPO_LINE_CHANNEL_ACCESS_TOKEN=LINE_TOKEN,
        RISTAPO_LINE_API_BASE=line_api.base_url,
        RISTAPO_LINE_DATA_API_BASE=line_api.base_url,
        RISTAPO_RUN_WORKERS="1",
        RISTAPO_OUTBOX_LEASE_SECONDS="2",  # a send interrupted by the kill is retried soon
        RISTAPO_RETRY_BASE_SECONDS="0.2",
        RISTAPO_WORKER_POLL_SECONDS="0.2",
        NO_PROXY="127.0.0.1,localhost",
        PYTHONPATH=str(ROOT),
    )
    return env


def _post_all(port: int, events: list[dict]) -> list[int]:
    def post(ev):
        body = line_body(ev)
        return httpx.post(
            f"http://127.0.0.1:{port}/webhooks/line", content=body,
            headers={"X-Line-Signature": sign(body, LINE_SECRET), "Content-Type": "application/json"}, timeout=10,
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(post, events))


def test_sigkill_after_200_then_restart_processes_every_event_exactly_once(settings, line_api):
    env = _env(line_api)
    base = int(time.time() * 1000)
    events = [
        make_line_text_event(TEXTS[n % len(TEXTS)], user_id=user, timestamp=base + n)
        for n in range(len(TEXTS))
        for user in USERS
    ]
    port = _free_port()
    line_api.default_status = 503  # LINE is down while the first server runs
    proc = _start(env, port)
    try:
        statuses = _post_all(port, events)
        os.kill(proc.pid, signal.SIGKILL)  # right after the last 200
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert statuses == [200] * len(events)

    line_api.default_status = 200
    proc = _start(env, port)
    try:
        assert line_api.wait_for(lambda f: len(f.accepted) >= len(events), timeout=60), "not every event was answered"
        time.sleep(1.5)  # anything sent twice would arrive now
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()

    inbox = _rows(InboxEvent)
    assert len(inbox) == len(events) and {r.state for r in inbox} == {"done"}
    inbound = [m for m in _rows(Message) if m.direction == "in"]
    assert sorted(m.external_id for m in inbound) == sorted(ev["message"]["id"] for ev in events)  # each processed once
    outbox = _rows(OutboxMessage)
    assert len(outbox) == len(events) and {r.state for r in outbox} == {"delivered"}
    accepted = line_api.accepted
    assert len(accepted) == len(events)  # every reply sent once
    per_user = Counter(r.body.get("to") for r in accepted if r.path.endswith("/push"))
    replies = [r for r in accepted if r.path.endswith("/reply")]
    assert len({r.body["replyToken"] for r in replies}) == len(replies)
    assert len({r.retry_key for r in accepted if r.retry_key}) == sum(per_user.values())


KILL_RUNS = int(os.environ.get("RISTAPO_CRASH_RUNS", "10"))


def _request_texts(requests) -> list[tuple[str, ...]]:
    return [tuple(Recorded("POST", "", {}, {"messages": list(chunk)}).texts) for chunk in requests]


def _kill_while_line_holds(run: int, rng, env, port: int, proc, line_api):
    """Posts three events for each of four users, kills the server once 1..all answers reached
    the fake (which holds them), and starts it again. Returns (new process, users, seen, user_of_token)."""
    users = [f"U-kill{run}-{i}" for i in range(4)]
    base = int(time.time() * 1000)
    events = [
        make_line_text_event(TEXTS[n % len(TEXTS)], user_id=user, timestamp=base + n)
        for n in range(3) for user in users
    ]
    user_of_token = {ev["replyToken"]: ev["source"]["userId"] for ev in events}
    seen = len(line_api.accepted)
    line_api.default_delay = 30.0  # LINE takes each message, and its answer never comes back in time
    assert _post_all(port, events) == [200] * len(events)
    # at most one answer per user is in flight (a user's answers go in order): kill after 1..all
    kill_after = rng.randint(1, len(users))
    assert line_api.wait_for(lambda f: len(f.accepted) - seen >= kill_after, timeout=30), "no answer reached LINE"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    line_api.default_delay = 0.0
    proc = _start(env, port)
    return proc, users, seen, user_of_token


def _duplicates_and_losses(run: int, line_api, users, seen: int, user_of_token) -> tuple[int, int]:
    """Waits for every event's answer, then counts per user against what the outbox holds."""
    from bot.channels.line.payload import request_messages
    from core import identity

    duplicates = lost = 0

    def to_user(r) -> str | None:
        return r.body.get("to") if r.path.endswith("/push") else user_of_token.get(r.body.get("replyToken"))

    def got(fake) -> dict[str, list]:
        out: dict[str, list] = {u: [] for u in users}
        for r in fake.accepted[seen:]:
            if to_user(r) in out:
                out[to_user(r)].append(tuple(r.texts))
        return out

    assert line_api.wait_for(lambda f: all(len(v) >= 3 for v in got(f).values()), timeout=60), f"run {run}: not every event was answered"
    time.sleep(2.5)  # a lease (2 s) runs out: anything sent twice would arrive now
    received = got(line_api)
    with db.session_scope() as s:
        for user in users:
            key = identity.user_hash("line", user)
            rows = s.exec(
                select(OutboxMessage).join(ChannelUser, ChannelUser.id == OutboxMessage.user_id)
                .where(ChannelUser.user_hash == key).order_by(OutboxMessage.created_at)
            ).all()
            assert {r.state for r in rows} == {"delivered"}, f"run {run}: {[r.state for r in rows]}"
            expected = Counter(t for r in rows for t in _request_texts(request_messages(payload_messages(r))))
            duplicates += sum((Counter(received[user]) - expected).values())
            lost += sum((expected - Counter(received[user])).values())
    return duplicates, lost


def test_sigkill_while_line_holds_accepted_answers_sends_none_twice_and_loses_none(settings, line_api):
    """The fake takes each reply and holds its answer; the server is killed meanwhile, KILL_RUNS times.

    Counted per user: every answer the outbox holds must have reached the fake exactly once
    (a duplicate is an answer LINE delivered twice, a loss one it never got).
    """
    env = _env(line_api)
    port = _free_port()
    rng = random.Random(os.environ.get("RISTAPO_CRASH_SEED", "16"))
    duplicates = lost = 0
    proc = _start(env, port)
    try:
        for run in range(KILL_RUNS):
            proc, users, seen, user_of_token = _kill_while_line_holds(run, rng, env, port, proc, line_api)
            d, lo = _duplicates_and_losses(run, line_api, users, seen, user_of_token)
            duplicates += d
            lost += lo
    finally:
        line_api.default_delay = 0.0
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert (duplicates, lost) == (0, 0), f"{duplicates} answers sent twice and {lost} lost in {KILL_RUNS} kill runs"


def test_sigterm_stops_serve_even_while_a_console_event_stream_is_open(settings, line_api):
    """An open console (server-sent events never end by themselves) must not keep the server alive."""
    from admin.auth import SESSION_COOKIE
    from tests.staff_helpers import make_staff, new_session_token

    staff_id, _ = make_staff("sigterm", ["staff"])
    token = new_session_token(staff_id)
    env = dict(os.environ)
    env.update(RISTAPO_RUN_WORKERS="1", RISTAPO_SHUTDOWN_GRACE_SECONDS="1", NO_PROXY="127.0.0.1,localhost", PYTHONPATH=str(ROOT))
    port = _free_port()
    proc = _start(env, port)
    stream = socket.create_connection(("127.0.0.1", port))
    try:
        stream.sendall(f"GET /admin/api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {SESSION_COOKIE}={token}\r\n\r\n".encode())
        stream.settimeout(5)
        assert b" 200 " in stream.recv(4096).split(b"\r\n", 1)[0], "the event stream is open"
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        assert time.monotonic() - started < 10
    finally:
        stream.close()
        if proc.poll() is None:
            proc.kill()
