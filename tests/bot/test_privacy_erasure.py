"""Privacy end to end: erasure on request, users without consent, LINE unsend and raw events.

Checks that walk ``SQLModel.metadata`` (every table, every text column) are deliberate: a table
added later is covered without anyone editing these tests.
"""
from __future__ import annotations

from sqlalchemy import Text, type_coerce
from sqlmodel import SQLModel, select

from core import db
from core.crypto import EncryptedText
from core.models import ChannelUser, Conversation, Message, OutboxMessage
from tests.bot.privacy_helpers import (
    some_content,
    tables_holding,
)
from tests.conftest import CANARY
from tests.fakes.line_api import line_api, line_api_server, line_env  # noqa: F401  (fixtures)


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
