"""Privacy guarantees end to end: keys and rotation, start-up refusal, retention, erasure, unsend.

Checks that walk ``SQLModel.metadata`` (every table, every text column) are deliberate: a table
added later is covered without anyone editing these tests.
"""
from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import String, Text, func, type_coerce
from sqlmodel import SQLModel, select

from bot.cli import main
from core import clock, crypto, db
from core.crypto import DecryptionError, EncryptedText, MissingKeyError
from core.models import ChannelUser, Conversation, Message, OutboxMessage
from tests.conftest import CANARY

T0 = datetime(2025, 1, 6, 1, 0, tzinfo=UTC)


@pytest.fixture
def frozen():
    """Freeze the clock for the test and always thaw it."""
    clock.freeze(T0)
    yield clock.freeze
    clock.freeze(None)


# --------------------------------------------------------------------------- helpers


def text_columns(table):
    return [c for c in table.columns if isinstance(c.type, (EncryptedText, String, Text))]


def all_text_values():
    """(table, column, value) for every non-null text value in the database, decrypted."""
    db.import_all_models()
    with db.engine().connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            cols = text_columns(table)
            if not cols:
                continue
            for row in conn.execute(select(*cols)):
                for col, value in zip(cols, row, strict=True):
                    if value is not None:
                        yield table.name, col.name, str(value)


def tables_holding(marker: str) -> set[str]:
    return {f"{t}.{c}" for t, c, v in all_text_values() if marker in v}


def raw_tokens():
    """Every stored encrypted value as written in the database."""
    db.import_all_models()
    with db.engine().connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for col in table.columns:
                if isinstance(col.type, EncryptedText):
                    yield from conn.execute(select(type_coerce(col, Text)).where(col.is_not(None))).scalars()


def snapshot() -> dict[str, tuple[int, ...]]:
    """Row count and non-null count per column, for every table (a dry run must not change it)."""
    db.import_all_models()
    out = {}
    with db.engine().connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            out[table.name] = tuple(conn.execute(select(func.count(), *(func.count(c) for c in table.columns))).one())
    return out


def personal_tables():
    """channel_user and every table whose foreign keys lead to it, plus the raw inbox."""
    db.import_all_models()
    tables = {SQLModel.metadata.tables["channel_user"]}
    grew = True
    while grew:
        grew = False
        for t in SQLModel.metadata.sorted_tables:
            if t not in tables and any(fk.column.table in tables for fk in t.foreign_keys):
                tables.add(t)
                grew = True
    tables.add(SQLModel.metadata.tables["inbox_event"])
    return tables


def rows_older_than(cutoff: datetime) -> dict[str, int]:
    """Per personal table: rows whose every timestamp is before ``cutoff``."""
    out = {}
    with db.engine().connect() as conn:
        for table in personal_tables():
            stamps = [c for c in table.columns if _is_dt(c)]
            if not stamps:
                continue
            n = 0
            for row in conn.execute(select(*stamps)):
                if all(v is None or v < cutoff for v in row):
                    n += 1
            if n:
                out[table.name] = n
    return out


def _is_dt(col) -> bool:
    from bot.retention import _is_datetime

    return _is_datetime(col)


def run_cli(capsys, *argv) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def use_key_file(monkeypatch, settings):
    """Switch the prepared process from RISTAPO_DATA_KEY to a dev key file under the data dir."""
    from bot.startup import prepare
    from core.settings import get_settings

    monkeypatch.delenv("RISTAPO_DATA_KEY")
    get_settings.cache_clear()
    return prepare(get_settings(), create_tables=False)


def some_content(chat, marker=CANARY):
    """A consented user who writes ``marker``, is handed off with intake answers, and a declined user."""
    chat.say("こんにちは")
    chat.press("c:y")
    chat.say(f"仕事を探したい {marker}")
    chat.press("h")
    for step in ("who:self", "need:work", "urgency:week", "contact:chat"):
        chat.press(f"i:{step}")
    chat.say(f"追加で {marker} のことも")


# --------------------------------------------------------------------------- keys


class TestKeys:
    def test_rotation_reencrypts_and_the_old_key_can_then_be_removed(self, chat, monkeypatch, capsys):
        s = use_key_file(monkeypatch, None)
        some_content(chat)
        keyfile = s.data_dir / "keys" / "data-keys.json"
        assert json.loads(keyfile.read_text())["current"] == "dev1"

        code, out = run_cli(capsys, "keys", "rotate", "--no-reencrypt")
        new = json.loads(keyfile.read_text())["current"]
        assert code == 0 and new != "dev1" and new in out
        code, out = run_cli(capsys, "keys", "remove", "dev1")
        assert code == 1, "a key still in use is never removed"
        assert set(json.loads(keyfile.read_text())["keys"]) == {"dev1", new}

        code, out = run_cli(capsys, "keys", "reencrypt")
        assert code == 0 and "message.body" in out and "re-encrypted" in out
        code, out = run_cli(capsys, "keys", "status")
        assert code == 0 and "key dev1: no longer used" in out
        assert {crypto.KeyRing.key_id_of(t) for t in raw_tokens()} == {new}

        code, out = run_cli(capsys, "keys", "remove", "dev1")
        assert code == 0
        assert set(json.loads(keyfile.read_text())["keys"]) == {new}
        # a process that starts now knows only the new key, and reads everything
        crypto.configure(data_key=None, key_file=None, data_dir=s.data_dir, production=False)
        assert set(crypto.keyring().keys) == {new}
        assert tables_holding(CANARY) == {"message.body"}
        assert CANARY not in out

    def test_rotate_in_one_step_with_a_key_file(self, chat, monkeypatch, capsys):
        use_key_file(monkeypatch, None)
        some_content(chat)
        code, out = run_cli(capsys, "keys", "rotate")
        current = crypto.keyring().current
        assert code == 0 and current != "dev1"
        assert {crypto.KeyRing.key_id_of(t) for t in raw_tokens()} == {current}
        assert CANARY not in out and base64.b64encode(crypto.keyring().keys[current]).decode() not in out

    def test_a_running_process_reads_rows_rotated_by_another(self, chat, monkeypatch, capsys):
        use_key_file(monkeypatch, None)
        some_content(chat)
        old_ring = crypto.keyring()
        code, _ = run_cli(capsys, "keys", "rotate")
        assert code == 0
        # the "service" still holds the ring it loaded at start-up (dev1 only)
        crypto.set_keyring(crypto.KeyRing(keys={"dev1": old_ring.keys["dev1"]}, current="dev1", reload=old_ring.reload))
        assert tables_holding(CANARY) == {"message.body"}

    def test_rotation_with_the_key_in_the_environment_prints_the_new_value(self, chat, monkeypatch, capsys):
        from bot.startup import prepare
        from core.settings import get_settings

        some_content(chat)
        code, out = run_cli(capsys, "keys", "rotate")
        assert code == 0
        value = next(line.split("=", 1)[1] for line in out.splitlines() if line.startswith("RISTAPO_DATA_KEY="))
        ring = crypto.parse_keys(value)
        assert ring.current != "t1" and set(ring.keys) == {ring.current, "t1"}
        # nothing rewritten yet: services still running with the old value must keep reading
        assert {crypto.KeyRing.key_id_of(t) for t in raw_tokens()} == {"t1"}

        monkeypatch.setenv("RISTAPO_DATA_KEY", value)
        get_settings.cache_clear()
        code, out = run_cli(capsys, "keys", "reencrypt")
        assert code == 0
        assert {crypto.KeyRing.key_id_of(t) for t in raw_tokens()} == {ring.current}
        code, out = run_cli(capsys, "keys", "remove", "t1")
        assert code == 0
        smaller = next(line.split("=", 1)[1] for line in out.splitlines() if line.startswith("RISTAPO_DATA_KEY="))
        monkeypatch.setenv("RISTAPO_DATA_KEY", smaller)
        get_settings.cache_clear()
        prepare(get_settings(), create_tables=False)
        assert set(crypto.keyring().keys) == {ring.current}
        assert tables_holding(CANARY) == {"message.body"}

    def test_plain_values_left_from_before_encryption_are_encrypted(self, chat, capsys):
        some_content(chat)
        with db.engine().begin() as conn:
            body = Message.__table__.c.body
            conn.execute(Message.__table__.update().values({body.name: type_coerce("legacy plain text", Text)}).where(Message.__table__.c.id == 1))
        code, out = run_cli(capsys, "keys", "status")
        assert "1 values are not encrypted yet" in out
        code, out = run_cli(capsys, "keys", "reencrypt")
        assert code == 0 and "1 plain values encrypted" in out
        assert all(t.startswith("enc1:t1:") for t in raw_tokens())

    def test_a_wrong_key_is_a_clear_error_never_garbage(self, chat):
        some_content(chat)
        other = base64.b64encode(os.urandom(32)).decode()
        crypto.set_keyring(crypto.parse_keys(f"t1:{other}"))
        with pytest.raises(DecryptionError, match=r"key 't1' does not open this value \(wrong key"):
            list(all_text_values())
        crypto.set_keyring(crypto.parse_keys(f"t2:{other}"))
        with pytest.raises(DecryptionError, match=r"no key with id 't1' is configured \(known: t2\)"):
            with db.session_scope() as s:
                s.exec(select(Message).where(Message.body.is_not(None))).all()

    def test_tampered_or_damaged_values_are_refused(self):
        ring = crypto.parse_keys("a:" + crypto.new_key_b64())
        token = ring.encrypt(CANARY)
        kid, blob = token.split(":", 2)[1:]
        raw = bytearray(base64.b64decode(blob))
        raw[-1] ^= 1
        for bad in (f"enc1:{kid}:" + base64.b64encode(bytes(raw)).decode(), f"enc1:{kid}:***", f"enc1:{kid}:AAAA", CANARY + ":x:y"):
            with pytest.raises(DecryptionError) as err:
                ring.decrypt(bad)
            assert CANARY not in str(err.value)
        assert "keys" not in repr(ring) and str(ring.keys[kid]) not in repr(ring)

    def test_production_without_a_key_refuses_to_start(self, tmp_path, monkeypatch):
        from bot.startup import prepare
        from core.settings import Settings

        monkeypatch.delenv("RISTAPO_DATA_KEY", raising=False)
        monkeypatch.delenv("RISTAPO_DATA_KEY_FILE", raising=False)
        s = Settings(env="production", data_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path}/p.db")
        with pytest.raises(MissingKeyError, match="RISTAPO_DATA_KEY or RISTAPO_DATA_KEY_FILE; refusing to start"):
            prepare(s, create_tables=False)
        assert not (tmp_path / "var" / "keys" / "data-keys.json").exists(), "production never invents a key"

    def test_dev_mode_creates_a_key_under_the_data_dir_and_says_so(self, tmp_path, monkeypatch, caplog):
        from bot.startup import prepare
        from core.settings import Settings

        monkeypatch.delenv("RISTAPO_DATA_KEY", raising=False)
        monkeypatch.delenv("RISTAPO_DATA_KEY_FILE", raising=False)
        s = Settings(env="dev", data_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path}/d.db")
        caplog.set_level("WARNING", logger="ristapo.crypto")
        prepare(s, create_tables=False)
        path = tmp_path / "var" / "keys" / "data-keys.json"
        assert path.exists() and (path.stat().st_mode & 0o077) == 0
        assert any("created a development data key" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records)
        key = crypto.keyring().keys["dev1"]
        caplog.clear()
        prepare(s, create_tables=False)
        assert crypto.keyring().keys["dev1"] == key, "the same key is used on the next start"
        assert not caplog.records


# --------------------------------------------------------------------------- retention


def _purge(dry_run=False, **periods):
    from bot.retention import purge

    with db.session_scope() as s:
        return purge(
            s, retention_days=periods.get("days", 180), payload_retention_days=periods.get("payload_days", 7),
            ticket_max_age_days=periods.get("ticket_days"), dry_run=dry_run,
        )


def _inbox_event(external_id: str, *, state="done", payload=CANARY):
    from bot.models import InboxEvent

    with db.session_scope() as s:
        s.add(InboxEvent(channel="line", external_id=external_id, user_key="k", payload=json.dumps({"text": payload}), state=state, processed_at=clock.now() if state == "done" else None))


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


class TestErasure:
    def test_deletion_removes_every_row_that_referenced_the_users_content(self, chat):
        mine, theirs = f"{CANARY}-mine", f"{CANARY}-theirs"
        some_content(chat, marker=mine)
        chat.user = "user-2"
        some_content(chat, marker=theirs)
        chat.user = "user-1"
        with db.session_scope() as s:
            old = [c.id for c in s.exec(select(Conversation)).all() if c.user_id == 1]
        assert tables_holding(mine), "the check can see the content before deletion"

        chat.say("記録を消して")
        chat.press("d:y")

        assert tables_holding(mine) == set(), "no table holds the user's words"
        assert tables_holding(theirs), "someone else's records are untouched"
        # table by table: any row tied to the erased conversations keeps no encrypted content
        db.import_all_models()
        with db.engine().connect() as conn:
            for table in SQLModel.metadata.sorted_tables:
                secret = [c for c in table.columns if isinstance(c.type, EncryptedText)]
                link = table.c.get("conversation_id")
                if not secret or link is None:
                    continue
                for row in conn.execute(select(*secret).where(link.in_(old))):
                    assert all(v is None for v in row), f"{table.name} still holds content of an erased conversation"


    def test_a_staff_reply_not_yet_delivered_is_erased_and_never_sent(self, chat):
        from handoff import actions
        from tests.staff_helpers import hand_off

        ticket_id = hand_off(chat)
        staff = actions.Actor(id=1, name="staff", roles=frozenset({"staff"}), ip=None, audit_writer=lambda *a: None)
        with db.session_scope() as s:
            ticket = actions.do_claim_ticket(s, staff, actions.access_ticket_by_id(s, staff, ticket_id))
            oid = actions.do_reply(s, staff, ticket, f"{CANARY} の件でお返事します")
        assert "outbox_message.payload" in tables_holding(CANARY)

        chat.say("記録を消して")
        chat.press("d:y")

        assert tables_holding(CANARY) == set()
        with db.session_scope() as s:
            row = s.get(OutboxMessage, oid)
            assert row.state == "cancelled" and row.payload is None  # the delivery worker will not take it

    def test_every_encrypted_column_is_declared_as_user_text_or_not(self, settings):
        """A new table or column with encrypted text must say how erasure covers it (handoff/erase.py)."""
        from handoff.erase import NOT_USER_TEXT, USER_TEXT

        db.import_all_models()
        columns = {f"{t.name}.{c.name}" for t in SQLModel.metadata.sorted_tables for c in t.columns}
        encrypted = {
            f"{t.name}.{c.name}" for t in SQLModel.metadata.sorted_tables for c in t.columns if isinstance(c.type, EncryptedText)
        }
        assert encrypted - set(USER_TEXT) - set(NOT_USER_TEXT) == set(), "declare these in handoff/erase.py"
        assert (set(USER_TEXT) | set(NOT_USER_TEXT)) - columns == set(), "declared columns that do not exist"
        assert not set(USER_TEXT) & set(NOT_USER_TEXT)

    def test_erasure_leaves_no_user_text_in_any_declared_column(self, chat):
        """Every USER_TEXT column, filled through the real flows, holds nothing of the user afterwards."""
        from handoff import actions
        from handoff.erase import USER_TEXT
        from handoff.models import Ticket

        some_content(chat)
        staff = actions.Actor(id=1, name="staff", roles=frozenset({"staff"}), ip=None, audit_writer=lambda *a: None)
        with db.session_scope() as s:
            ticket = s.exec(select(Ticket)).first()
            ticket = actions.do_claim_ticket(s, staff, ticket)
            actions.do_add_note(s, staff, ticket, f"メモ {CANARY}")
            actions.do_reply(s, staff, ticket, f"返事 {CANARY}")
        with db.session_scope() as s:
            user_id = s.exec(select(Ticket.user_id)).first()
        chat.say("記録を消して")
        chat.press("d:y")

        assert tables_holding(CANARY) == set()
        db.import_all_models()
        with db.engine().connect() as conn:
            conv_ids = list(conn.execute(select(Conversation.id).where(Conversation.user_id == user_id)).scalars())
            for name in USER_TEXT:
                table_name, column = name.split(".")
                if table_name == "inbox_event":
                    continue  # not used by the chat driver; see TestLine
                table = SQLModel.metadata.tables[table_name]
                owner = (
                    table.c.user_id == user_id if "user_id" in table.c
                    else table.c.conversation_id.in_(conv_ids) if "conversation_id" in table.c
                    else None
                )
                if owner is None:
                    continue  # ticket_note: deleted with its ticket's content (tables_holding saw none)
                values = [v for v in conn.execute(select(table.c[column]).where(owner)).scalars() if v is not None]
                if table_name == "outbox_message":
                    # only the confirmation of the erasure itself, sent after it, remains
                    assert len(values) <= 1 and CANARY not in (values[0] if values else ""), name
                elif table_name == "conversation":
                    assert values == [], name
                else:
                    assert values == [], name


class TestWithoutConsent:
    """A user who declined consent A: only what the office needs to act on danger is kept."""

    def _declined_user_with_a_ticket(self, chat) -> int:
        from handoff.models import Ticket

        chat.say("こんにちは")
        chat.press("c:n")
        assert any(m.kind == "answer" for m in chat.say("仕事を探したい"))
        chat.say("死にたい")
        with db.session_scope() as s:
            return s.exec(select(Ticket.id)).one()

    def test_no_topic_intent_or_score_is_stored_and_the_crisis_still_is(self, chat):
        from handoff.models import Ticket

        ticket_id = self._declined_user_with_a_ticket(chat)
        with db.session_scope() as s:
            rows = s.exec(select(Message)).all()
            assert rows and all(m.intent is None and m.entry_id is None and m.score is None for m in rows)
            ticket = s.get(Ticket, ticket_id)
            assert ticket.crisis and ticket.priority == 0 and ticket.answered_topics is None

    def test_staff_see_no_topics_of_a_declined_user(self, chat):
        from handoff import views
        from handoff.models import Ticket

        ticket_id = self._declined_user_with_a_ticket(chat)
        with db.session_scope() as s:
            ticket = s.get(Ticket, ticket_id)
            ticket.answered_topics = "job-support"  # as an older version stored it
            detail = views.detail(s, ticket, lambda _i: None, lambda _e: "仕事")
        assert detail.answered_topics == []
        assert all(item.entry_id is None for item in detail.transcript)
        assert detail.ticket.crisis

    def test_the_crisis_log_line_names_no_conversation(self, chat, caplog):
        import logging

        caplog.set_level(logging.INFO)
        chat.say("死にたい")
        (record,) = [r for r in caplog.records if r.getMessage() == "crisis flagged"]
        assert not hasattr(record, "conversation")

    def test_with_consent_topic_and_intent_are_encrypted_at_rest(self, consented_chat):
        consented_chat.say("仕事を探したい")
        with db.engine().connect() as conn:
            raw = conn.execute(
                select(type_coerce(Message.__table__.c.intent, Text), type_coerce(Message.__table__.c.entry_id, Text))
                .where(Message.__table__.c.direction == "in", Message.__table__.c.intent.is_not(None))
            ).all()
        assert raw and all(v.startswith("enc1:") for row in raw for v in row if v is not None)
        with db.session_scope() as s:
            assert "faq" in {m.intent for m in s.exec(select(Message)).all()}


# --------------------------------------------------------------------------- LINE (unsend, erasure of raw events)

from tests.fakes.line_api import line_api, line_api_server, line_env  # noqa: E402, F401  (fixtures)


class TestLine:
    def test_unsend_removes_that_message_everywhere(self, line_env):
        from tests.builders import make_line_event, make_line_postback_event, make_line_text_event

        user = "U" + "a" * 32
        line_env.post(make_line_text_event("こんにちは", user_id=user))
        line_env.post(make_line_postback_event("c:y", user_id=user))
        line_env.process()
        keep = make_line_text_event(f"残す {CANARY}-keep", user_id=user)
        gone = make_line_text_event(f"取り消す {CANARY}-gone", user_id=user)
        line_env.post(keep, gone)
        line_env.process()
        assert tables_holding(f"{CANARY}-gone") >= {"message.body"}

        line_env.post(make_line_event("unsend", user_id=user, unsend={"messageId": gone["message"]["id"]}))
        line_env.process()
        assert tables_holding(f"{CANARY}-gone") == set()
        assert "message.body" in tables_holding(f"{CANARY}-keep")
        with db.session_scope() as s:
            assert not s.exec(select(Message).where(Message.external_id == gone["message"]["id"])).all()

    def test_deletion_also_erases_the_raw_events(self, line_env):
        from tests.builders import make_line_postback_event, make_line_text_event

        user = "U" + "b" * 32
        line_env.post(make_line_text_event("こんにちは", user_id=user))
        line_env.post(make_line_postback_event("c:y", user_id=user))
        line_env.process()
        line_env.post(make_line_text_event(f"仕事 {CANARY}", user_id=user))
        line_env.process()
        assert "inbox_event.payload" in tables_holding(CANARY)
        line_env.post(make_line_text_event("記録を消して", user_id=user))
        line_env.process()
        line_env.post(make_line_postback_event("d:y", user_id=user))
        line_env.process()
        assert tables_holding(CANARY) == set()
        with db.session_scope() as s:
            assert s.exec(select(ChannelUser)).all()


def test_login_attempts_are_kept_30_days(settings, frozen):
    from admin.models import LoginAttempt

    with db.session_scope() as s:
        s.add(LoginAttempt(username="someone", ip="192.0.2.1"))
    frozen(T0 + timedelta(days=29))
    assert "login_attempt" not in _purge()
    frozen(T0 + timedelta(days=31))
    assert _purge().get("login_attempt") == 1
