"""Privacy end to end: retention (payload erasure, purge past the period, ticket maximum age, sessions)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from core import clock, db
from core.models import Conversation, Message, OutboxMessage
from tests.bot.privacy_helpers import (
    T0,
    _inbox_event,
    _purge,
    frozen,  # noqa: F401  (fixture)
    rows_older_than,
    run_cli,
    snapshot,
    some_content,
    tables_holding,
)
from tests.conftest import CANARY


class TestRetention:
    def test_payloads_are_erased_after_the_short_period_but_the_ids_stay(self, chat, frozen):
        from bot.models import InboxEvent

        some_content(chat)
        _inbox_event("ev-done")
        _inbox_event("ev-pending", state="pending")
        with db.session_scope() as s:
            for row in s.exec(select(OutboxMessage)).all():
                row.state, row.delivered_at = "delivered", clock.now()
        frozen(T0 + timedelta(days=8))
        counts = _purge()
        assert counts.get("inbox_event.payload") == 1 and counts.get("outbox_message.payload", 0) > 0
        with db.session_scope() as s:
            rows = {r.external_id: r for r in s.exec(select(InboxEvent)).all()}
            assert rows["ev-done"].payload is None, "processed: text erased"
            assert rows["ev-pending"].payload is not None, "not processed yet: kept"
            assert all(r.payload is None and r.reply_token is None for r in s.exec(select(OutboxMessage)).all())
            # the conversation itself is within the retention period
            assert any(m.body and CANARY in m.body for m in s.exec(select(Message)).all())

    def test_purge_past_the_period_leaves_nothing_older_and_dry_run_changes_nothing(self, chat, frozen, capsys):
        from handoff.models import Ticket

        some_content(chat)
        chat.user = "user-2"
        chat.say("こんにちは")
        chat.press("c:n")
        chat.say(f"仕事 {CANARY}")
        _inbox_event("ev-1")
        with db.session_scope() as s:  # staff closed the hand-off the next day
            for t in s.exec(select(Ticket)).all():
                t.state, t.closed_at = "closed", T0 + timedelta(days=1)
        later = T0 + timedelta(days=185)
        frozen(later)
        cutoff = later - timedelta(days=180)

        assert {"channel_user", "message", "ticket", "outbox_message", "inbox_event"} <= set(rows_older_than(cutoff))
        before = snapshot()
        code, out = run_cli(capsys, "purge", "--dry-run")
        assert code == 0 and "would delete: conversation" in out
        assert snapshot() == before, "a dry run changes nothing"
        dry = _purge(dry_run=True)
        assert snapshot() == before
        assert dry["conversation"] >= 2 and dry["message"] > 0 and dry["ticket"] == 1

        assert _purge() == dry, "the dry run predicted exactly what the real run removes"
        assert rows_older_than(cutoff) == {}
        assert tables_holding(CANARY) == set()
        assert _purge() == {}, "a second run finds nothing"

    def test_nothing_within_the_period_is_deleted(self, chat, frozen):
        from handoff.models import Ticket

        some_content(chat)
        with db.session_scope() as s:
            for t in s.exec(select(Ticket)).all():
                t.state, t.closed_at = "closed", T0 + timedelta(days=1)
        before = snapshot()
        frozen(T0 + timedelta(days=179))
        counts = _purge()
        assert set(counts) <= {"outbox_message.payload", "inbox_event.payload"}
        after = snapshot()
        assert {k: v[0] for k, v in after.items()} == {k: v[0] for k, v in before.items()}, "no row deleted"
        assert tables_holding(CANARY) == {"message.body"}

    def test_a_case_still_open_with_staff_is_kept(self, chat, frozen):
        some_content(chat)
        frozen(T0 + timedelta(days=400))
        counts = _purge()
        assert "conversation" not in counts and "ticket" not in counts
        assert tables_holding(CANARY) == {"message.body"}

    def test_an_open_ticket_idle_past_the_maximum_age_closes_and_its_content_then_follows_retention(self, chat, frozen):
        from handoff.models import Ticket, TicketNote

        some_content(chat)
        frozen(T0 + timedelta(days=60))
        assert "ticket.expired" not in _purge(ticket_days=90), "a ticket idle less than the maximum age stays open"
        frozen(T0 + timedelta(days=100))
        assert _purge(ticket_days=90).get("ticket.expired") == 1
        with db.session_scope() as s:
            (ticket,) = s.exec(select(Ticket)).all()
            assert ticket.state == "closed" and ticket.outcome == "expired" and ticket.intake
            (note,) = s.exec(select(TicketNote)).all()
            assert "90日間" in note.body
            assert s.get(Conversation, ticket.conversation_id).current_ticket_id is None
        assert tables_holding(CANARY) == {"message.body"}, "within the retention period the transcript stays"
        frozen(T0 + timedelta(days=200))
        _purge(ticket_days=90)
        assert tables_holding(CANARY) == set(), "past the period it goes, as in any closed case"
        with db.session_scope() as s:
            assert s.exec(select(Ticket.intake)).all() == [None]

    def test_the_daily_run_uses_the_maximum_age_setting(self, chat, frozen, monkeypatch):
        from bot.retention import run_once
        from core.settings import get_settings

        some_content(chat)
        monkeypatch.setenv("RISTAPO_TICKET_MAX_AGE_DAYS", "30")
        get_settings.cache_clear()
        frozen(T0 + timedelta(days=31))
        assert run_once(get_settings()).get("ticket.expired") == 1

    def test_old_turns_go_while_the_conversation_lives_on(self, consented_chat, frozen):
        chat = consented_chat
        chat.say(f"昔の話 {CANARY}")
        frozen(T0 + timedelta(days=200))
        chat.say("仕事を探したい")
        counts = _purge()
        assert counts.get("message", 0) >= 2 and "conversation" not in counts
        assert tables_holding(CANARY) == set()
        with db.session_scope() as s:
            assert s.exec(select(Message)).all(), "recent turns stay"

    def test_expired_staff_sessions_are_deleted(self, settings, frozen):
        models = pytest.importorskip("admin.models")
        if not hasattr(models, "StaffSession"):
            pytest.skip("no staff sessions in this checkout")
        with db.session_scope() as s:
            staff = models.StaffUser(username="alice", password_hash="x", roles="staff")
            s.add(staff)
            s.flush()
            s.add(models.StaffSession(token_hash="old", staff_id=staff.id))
        frozen(T0 + timedelta(hours=11))
        with db.session_scope() as s:
            s.add(models.StaffSession(token_hash="fresh", staff_id=1))
        assert _purge().get("staff_session") == 1
        with db.session_scope() as s:
            assert [r.token_hash for r in s.exec(select(models.StaffSession)).all()] == ["fresh"]

    async def test_install_adds_a_daily_task_that_logs_counts_only(self, settings, monkeypatch, caplog):
        import asyncio

        from bot import retention

        class State:
            workers: list = []

        class App:
            state = State()

        monkeypatch.setattr(retention, "FIRST_RUN_DELAY", 0)
        ran = asyncio.Event()
        real = retention.run_once

        def once(s, **kw):
            counts = real(s, **kw)
            ran.set()
            return counts

        monkeypatch.setattr(retention, "run_once", once)
        caplog.set_level("INFO", logger="ristapo.retention")
        retention.install(App(), settings)
        assert len(App.state.workers) == 1
        task = asyncio.create_task(App.state.workers[0](App()))
        await asyncio.wait_for(ran.wait(), timeout=20)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert [r.getMessage() for r in caplog.records] == ["retention purge: nothing"]


# --------------------------------------------------------------------------- erasure


def test_login_attempts_are_kept_30_days(settings, frozen):
    from admin.models import LoginAttempt

    with db.session_scope() as s:
        s.add(LoginAttempt(username="someone", ip="192.0.2.1"))
    frozen(T0 + timedelta(days=29))
    assert "login_attempt" not in _purge()
    frozen(T0 + timedelta(days=31))
    assert _purge().get("login_attempt") == 1
