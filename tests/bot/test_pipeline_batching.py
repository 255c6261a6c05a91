"""The workers' passes batch by time while traffic flows, and cost no transaction for nothing.

Why these tests: at a few hundred events a second a worker that goes round at once takes one or
two events per pass, and each pass pays its claim, loads and commit (docs/performance.md, issue
20). What they pin is behaviour, not timing: which statements run, when a loop pauses (the
pauses are recorded, not slept), and that a lone message is never made to wait.
"""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, select

from bot import pipeline
from bot.channels.base import SendOutcome, SendResult
from bot.pipeline import loops, wake
from bot.pipeline.tuning import GATHER_AFTER_WORK_SECONDS, NOTIFY_COALESCE_SECONDS
from core import db, identity
from core.messages import OutMessage
from core.models import ChannelUser, OutboxMessage, OutboxState
from tests.builders import line_body, make_line_text_event, sign
from tests.fakes.line_api import line_api, line_api_server, line_env  # noqa: F401  (fixtures)


class _Stop(BaseException):
    """Ends a loop under test from inside its pass (not an Exception: the loop would log and go on)."""


class _Statements:
    """Counts the SQL statements whose text contains all of ``words`` (case-insensitive)."""

    def __init__(self, *words: str) -> None:
        self.words = [w.lower() for w in words]
        self.count = 0

    def __enter__(self):
        event.listen(db.engine(), "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(db.engine(), "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, params, context, executemany) -> None:
        text = statement.lower()
        if all(w in text for w in self.words):
            self.count += 1


def _store(line_env, *events: dict) -> None:
    body = line_body(*events)
    raw, _courtesy = line_env.adapter.split_events(body, sign(body, line_env.secret))
    with db.session_scope() as s:
        pipeline.store_events(s, "line", raw)


# -- the inbox pass --------------------------------------------------------------------------


@pytest.mark.postgres(only=True)
def test_a_claim_that_finds_fewer_than_asked_ends_the_pass(line_env, db_backend):
    """PostgreSQL: three due events, a batch of 32: one claim, not a second (empty) one."""
    _store(line_env, *[make_line_text_event("こんにちは", user_id=f"U-short-{i}") for i in range(3)])
    with _Statements("inbox_event", "for update", "skip locked") as claims:
        taken = pipeline.process_inbox_batch(50)
    assert taken == 3
    assert claims.count == 1


# -- when the loops pause ----------------------------------------------------------------------


def test_gather_pause_only_while_traffic_flows(monkeypatch):
    monkeypatch.setattr(pipeline.TUNING, "gather_seconds", 0.01)
    now = 1000.0
    # work a moment ago, the previous pass started just now: wait out the window
    assert loops.gather_pause(last_work=now, since=now, now=now) == pytest.approx(0.01)
    # the previous pass itself took longer than the window: go on at once
    assert loops.gather_pause(last_work=now, since=now - 0.02, now=now) == 0.0
    # quiet for longer than GATHER_AFTER_WORK_SECONDS (or never any work): a lone message goes at once
    assert loops.gather_pause(last_work=now - 2 * GATHER_AFTER_WORK_SECONDS, since=now, now=now) == 0.0
    assert loops.gather_pause(last_work=float("-inf"), since=now, now=now) == 0.0
    monkeypatch.setattr(pipeline.TUNING, "gather_seconds", 0.0)
    assert loops.gather_pause(last_work=now, since=now, now=now) == 0.0


def _run_inbox_loop(monkeypatch, script: list[int]) -> list[float]:
    """Runs the real inbox loop over passes that take ``script``'s counts; returns its pauses."""
    passes = iter(script)
    pauses: list[float] = []

    def fake_pass(limit, *, loop=None):
        n = next(passes, None)
        if n is None:
            raise _Stop()
        return n

    async def record(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(loops, "process_inbox_batch", fake_pass)
    monkeypatch.setattr(loops, "_pause", record)
    # why a long window: the pauses are recorded, not slept, and a slow thread hand-off on a
    # busy machine must not eat a short one
    monkeypatch.setattr(pipeline.TUNING, "gather_seconds", 1.0)
    monkeypatch.setattr(pipeline.TUNING, "poll_seconds", 0.01)  # the "idle" waits end by the poll
    monkeypatch.setattr(pipeline.TUNING, "busy_poll_seconds", 0.01)
    with pytest.raises(_Stop):
        asyncio.run(loops.inbox_loop(limit=50))
    return pauses


def test_a_lone_message_after_a_quiet_spell_is_taken_without_a_pause(monkeypatch):
    # nothing to do, then (woken) one event, then nothing
    pauses = _run_inbox_loop(monkeypatch, [0, 1, 0])
    assert pauses[0] == 0.0, "no work before: the pass that takes the lone message does not wait"
    assert 0.0 < pauses[1] <= 1.0, "after it, traffic may be flowing: the next pass gathers"


def test_a_short_pass_while_traffic_flows_is_followed_by_a_pause(monkeypatch):
    pauses = _run_inbox_loop(monkeypatch, [3, 2])
    assert len(pauses) == 2 and all(0.0 < p <= 1.0 for p in pauses)


def test_a_full_pass_goes_round_at_once(monkeypatch):
    """A backlog (the pass took its whole limit): no pause, no wait."""
    assert _run_inbox_loop(monkeypatch, [50, 50]) == []


# -- the delivery round ------------------------------------------------------------------------


def test_recording_a_delivery_and_claiming_the_next_row_is_one_round(line_env, db_backend):
    """A user's second row is due once the first is delivered: the same transaction claims it."""
    from core.outbox import enqueue

    line_env.post(make_line_text_event("こんにちは", user_id="U-round"))
    line_env.process()  # the user exists and got the consent prompt
    with db.session_scope() as s:
        user = s.execute(select(ChannelUser).where(ChannelUser.user_hash == identity.user_hash("line", "U-round"))).scalar_one()
        first = enqueue(s, user=user, messages=[OutMessage("text", "一通目")], sender="staff")
        s.flush()
        second = enqueue(s, user=user, messages=[OutMessage("text", "二通目")], sender="staff")
        ids = (first.id, second.id)
    [job] = pipeline.claim_outbox(10)  # the second waits behind the first
    assert job.outbox_id == ids[0]
    jobs = pipeline.finish_and_claim([(job, SendResult(SendOutcome.delivered))], 10)
    assert [j.outbox_id for j in jobs] == [ids[1]]
    with db.session_scope() as s:
        states = dict(s.execute(select(OutboxMessage.id, OutboxMessage.state).where(OutboxMessage.id.in_(ids))).all())
    assert states == {ids[0]: OutboxState.delivered.value, ids[1]: OutboxState.sending.value}


def test_a_failed_round_records_nothing_and_leases_nothing(line_env, db_backend, monkeypatch):
    from bot.pipeline import outbox

    line_env.post(make_line_text_event("こんにちは", user_id="U-round-fail"))
    line_env.process()
    with db.session_scope() as s:
        user = s.execute(select(ChannelUser).where(ChannelUser.user_hash == identity.user_hash("line", "U-round-fail"))).scalar_one()
        from core.outbox import enqueue

        row = enqueue(s, user=user, messages=[OutMessage("text", "一通目")], sender="staff")
        s.flush()
        rid = row.id
    [job] = pipeline.claim_outbox(10)

    def broken(session, limit):
        raise RuntimeError("the claim failed")

    monkeypatch.setattr(outbox, "_claim", broken)
    with pytest.raises(RuntimeError):
        pipeline.finish_and_claim([(job, SendResult(SendOutcome.delivered))], 10)
    with db.session_scope() as s:
        assert s.get(OutboxMessage, rid).state == OutboxState.sending.value  # not recorded: rolled back


# -- NOTIFY from the webhook's stores ----------------------------------------------------------


@pytest.mark.postgres(only=True)
def test_webhook_stores_send_one_notify_per_interval(line_env, db_backend, monkeypatch):
    clock = [5000.0]
    monkeypatch.setattr(wake, "_monotonic", lambda: clock[0])
    monkeypatch.setattr(wake, "_last_notified", {})
    with _Statements("notify", "ristapo_inbox") as notifies:
        _store(line_env, make_line_text_event("一", user_id="U-notify-1"))
        assert notifies.count == 1, "a store after a quiet spell always notifies"
        clock[0] += NOTIFY_COALESCE_SECONDS / 2
        _store(line_env, make_line_text_event("二", user_id="U-notify-2"))
        assert notifies.count == 1, "one within the interval: the workers woken by the first go round anyway"
        clock[0] += NOTIFY_COALESCE_SECONDS
        _store(line_env, make_line_text_event("三", user_id="U-notify-3"))
        assert notifies.count == 2
    # the outbox's NOTIFY (a turn's rows) is not coalesced
    with _Statements("notify", "ristapo_outbox") as outbox_notifies:
        from sqlalchemy import text

        with db.session_scope() as s:
            wake.notify(s.connection(), "outbox")
            wake.notify(s.connection(), "outbox")
            s.execute(text("SELECT 1"))
    assert outbox_notifies.count == 2


# -- the webhook's group commit ----------------------------------------------------------------


def test_webhook_stores_while_requests_flow_share_a_transaction(line_env, db_backend, monkeypatch):
    """A lone request is stored at once; one right behind a store that just began waits to join the next."""
    from bot.pipeline import store

    monkeypatch.setattr(store, "STORE_LINGER_SECONDS", 0.5)  # long: the test's steps must fall inside it
    batches: list[int] = []
    real = store._store_batch

    def counting(batch):
        batches.append(len(batch))
        return real(batch)

    monkeypatch.setattr(store, "_store_batch", counting)

    def raw(user: str):
        body = line_body(make_line_text_event("こんにちは", user_id=user))
        return line_env.adapter.split_events(body, sign(body, line_env.secret))[0]

    async def main() -> None:
        await pipeline.store_and_ack("line", raw("U-group-1"))  # the first after a quiet spell: alone
        second = asyncio.create_task(pipeline.store_and_ack("line", raw("U-group-2")))
        await asyncio.sleep(0)  # the second request queues and its store begins
        await asyncio.sleep(0)
        third = asyncio.create_task(pipeline.store_and_ack("line", raw("U-group-3")))
        await asyncio.gather(second, third)

    asyncio.run(main())
    assert batches == [1, 2]
    with db.session_scope() as s:
        from bot.models import InboxEvent

        assert len(s.execute(select(InboxEvent.id)).all()) == 3
