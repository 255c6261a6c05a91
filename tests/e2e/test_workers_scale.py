"""Workers at scale: 4 ``ristapo worker`` processes on PostgreSQL over 1,000 stored LINE events,
one SIGKILLed midway → every event processed exactly once, every message sent once, and each
user's events handled in order.

Why the events are older than the reply-token window: a LINE *reply* has no idempotency key,
so a kill between "LINE accepted the reply" and "we recorded it" can never be made exactly-once
(the one at-least-once window, see test_line_crash). Pushes carry ``X-Line-Retry-Key`` = the
outbox id, and the fake (like LINE) accepts each key once, so "sent once" is measurable here.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.models import InboxEvent
from core import db
from core.models import ChannelUser, Message, OutboxMessage
from tests.builders import make_line_text_event
from tests.fakes.line_api import LINE_SECRET, LINE_TOKEN, line_api, line_api_server, line_env  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.postgres(only=True)]
ROOT = Path(__file__).resolve().parents[2]
N_EVENTS = 1000
N_USERS = 100
N_WORKERS = 4
TEXTS = ["こんにちは", "住むところがない", "仕事を探したい", "お金に困っている", "ありがとう"]


def _count(model, *where) -> int:
    with db.session_scope() as s:
        return int(s.exec(select(func.count()).select_from(model).where(*where)).one())


def _wait(predicate, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


def _store_events(line_env) -> list[dict]:
    """1,000 events of 100 users (10 each), stored through the real webhook."""
    base = int(time.time() * 1000) - 10 * 60 * 1000  # ten minutes ago: reply tokens expired
    events = [
        make_line_text_event(TEXTS[i % len(TEXTS)], user_id=f"U-scale-{u:03d}", timestamp=base + i * N_USERS + u)
        for i in range(N_EVENTS // N_USERS)
        for u in range(N_USERS)
    ]
    for start in range(0, N_EVENTS, 50):
        assert line_env.post(*events[start:start + 50]).status_code == 200
    assert _count(InboxEvent) == N_EVENTS
    return events


def _start_workers(fake, tmp_path) -> list[subprocess.Popen]:
    """Four worker processes; the fake answers a little slowly so the kill lands mid-work."""
    fake.default_delay = 0.01
    env = dict(os.environ)
    env.update(
        RISTAPO_DATA_DIR=str(tmp_path / "worker-var"),
        RISTAPO_LINE_CHANNEL_SECRET=LINE_SECRET,
        RISTAPO_LINE_CHANNEL_ACCESS_TOKEN=LINE_TOKEN,
        RISTAPO_LINE_API_BASE=fake.base_url,
        RISTAPO_LINE_DATA_API_BASE=fake.base_url,
        RISTAPO_OUTBOX_LEASE_SECONDS="3",  # the killed worker's sends are taken over soon
        RISTAPO_RETRY_BASE_SECONDS="0.2",
        RISTAPO_WORKER_POLL_SECONDS="0.2",
        NO_PROXY="127.0.0.1,localhost",
        PYTHONPATH=str(ROOT),
    )
    return [
        subprocess.Popen([sys.executable, "-m", "bot.cli", "worker"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(N_WORKERS)
    ]


def _kill_one_and_finish(workers) -> None:
    """Kills the first worker mid-run; the others finish every event and delivery."""
    _wait(lambda: _count(InboxEvent, InboxEvent.state == "done") >= N_EVENTS // 4, 120, "a quarter of the events")
    assert all(w.poll() is None for w in workers), "a worker died on its own"
    os.kill(workers[0].pid, signal.SIGKILL)
    workers[0].wait(10)
    done_at_kill = _count(InboxEvent, InboxEvent.state == "done")
    assert done_at_kill < N_EVENTS, "the kill must land mid-run"

    _wait(lambda: _count(InboxEvent, InboxEvent.state == "done") == N_EVENTS, 240, "every event processed")
    _wait(lambda: _count(OutboxMessage, OutboxMessage.state != "delivered") == 0, 120, "every message delivered")
    time.sleep(4)  # longer than the outbox lease: a duplicate send would show up now


def _stop_workers(workers) -> None:
    """Stops the surviving workers (SIGTERM, then kill after 20 s)."""
    for w in workers[1:]:
        if w.poll() is None:
            w.send_signal(signal.SIGTERM)
    for w in workers[1:]:
        try:
            w.wait(20)
        except subprocess.TimeoutExpired:
            w.kill()


def _processed_exactly_once_in_order(events) -> set[int]:
    """Every event processed once, every message delivered, each user's events in order; returns the outbox ids."""
    with db.session_scope() as s:
        inbox = s.exec(select(InboxEvent)).all()
        assert len(inbox) == N_EVENTS and {e.state for e in inbox} == {"done"}
        inbound = s.exec(select(Message).where(Message.direction == "in").order_by(Message.id)).all()
        by_external = Counter(m.external_id for m in inbound)
        assert len(by_external) == N_EVENTS and set(by_external.values()) == {1}, "an event was processed twice or not at all"
        outbox = s.exec(select(OutboxMessage)).all()
        assert len(outbox) == N_EVENTS and {o.state for o in outbox} == {"delivered"}
        # per-user order: each user's messages were handled in timestamp order
        users = {u.id: u for u in s.exec(select(ChannelUser)).all()}
        assert len(users) == N_USERS
        order = {ev["message"]["id"]: ev["timestamp"] for ev in events}
        seen: dict[int, list[int]] = defaultdict(list)
        for m in inbound:
            seen[m.conversation_id].append(order[m.external_id])
        assert all(ts == sorted(ts) for ts in seen.values()), "a user's events were handled out of order"
        outbox_ids = {o.id for o in outbox}
    return outbox_ids


def _sent_exactly_once(fake, outbox_ids: set[int]) -> None:
    accepted = fake.accepted
    keys = Counter(r.retry_key for r in accepted)
    assert not [r for r in accepted if r.path.endswith("/reply")], "expired reply tokens must not be used"
    assert set(keys) == outbox_ids and set(keys.values()) == {1}, "a message was sent twice or not at all"
    # repeats after the kill (if any) were answered 409 by the fake and not delivered again
    repeats = [r for r in fake.sends() if r.status == 409]
    assert all(r.retry_key in outbox_ids for r in repeats)


def test_four_workers_one_killed_every_event_once(line_env, tmp_path):
    fake = line_env.fake
    # 1. store 1,000 events of 100 users (10 each) through the real webhook
    events = _store_events(line_env)

    # 2. four worker processes; the fake answers a little slowly so the kill lands mid-work
    workers = _start_workers(fake, tmp_path)
    try:
        _kill_one_and_finish(workers)
    finally:
        _stop_workers(workers)
    for w in workers[1:]:
        assert w.returncode == 0, w.stderr.read().decode(errors="replace")[-2000:]

    # 3. exactly once
    outbox_ids = _processed_exactly_once_in_order(events)
    _sent_exactly_once(fake, outbox_ids)
