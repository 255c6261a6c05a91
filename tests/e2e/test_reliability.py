"""Reliability suite (research/reliability-security.md §5): what must keep working, lose
nothing and let no one in, on SQLite and on PostgreSQL.

* a hypothesis state machine over the hand-off actions (claim / release / reply / close /
  consent withdrawn / deletion) with invariants: at most one assignee, no reply text stored
  without consent, deleted users have no content;
* 50 parallel claims of one ticket: exactly one winner, one audit row;
* the database stopped mid-run: webhooks answer non-2xx, /healthz 503, no half-written turn,
  and after the restart every event is processed exactly once;
* schemathesis over the admin API's OpenAPI, signed in as an admin: no 5xx, responses match.
"""
from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import func
from sqlmodel import SQLModel, select

from core import db
from core.models import Conversation, Message
from tests.conftest import CANARY, ChatDriver
from tests.fakes.line_api import line_api, line_api_server, line_env  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[2]
PG_SCRIPT = ROOT / "scripts" / "pg-test-cluster.sh"
STAFF_IDS = (1, 2)
WHO = st.sampled_from(["holder", "holder", *STAFF_IDS])  # mostly the rightful holder, sometimes anyone


def _wipe() -> None:
    """Empties every table (children first): each hypothesis example starts from nothing."""
    db.import_all_models()
    with db.engine().begin() as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            if table.name == "audit_event":
                # why drop and create: the database refuses to delete recent audit rows (a trigger)
                table.drop(conn)
                table.create(conn)
                continue
            conn.execute(table.delete())


def _actor(staff_id: int):
    from admin import audit
    from handoff.actions import Actor

    def write(session, actor, action, target, detail):
        audit.record(session, action=action, actor_id=actor.id, actor_name=actor.name, target=target, ip=actor.ip, detail=detail)

    return Actor(id=staff_id, name=f"staff{staff_id}", roles=frozenset({"staff"}), ip="127.0.0.1", audit_writer=write)


# --------------------------------------------------------------------------- state machine


def _machine(runtime):
    from handoff import actions
    from handoff.models import OPEN_STATES, Outcome, Ticket, TicketNote, TicketState

    class HandoffMachine(RuleBasedStateMachine):
        users = Bundle("users")

        def __init__(self):
            super().__init__()
            _wipe()
            self.chats: dict[str, ChatDriver] = {}
            self.n = 0
            self.holder: dict[int, int] = {}  # ticket id -> staff id that the model says holds it
            self.erased_convs: set[int] = set()
            self.seen_msg = 0

        # ---- helpers
        def _tickets(self):
            with db.session_scope() as s:
                return [(t.id, t.state, t.assignee_id, t.user_id) for t in s.exec(select(Ticket).order_by(Ticket.id)).all()]

        def _pick(self, pick: int):
            tickets = self._tickets()
            assume(tickets)
            return tickets[pick % len(tickets)]

        def _staff_do(self, staff_id: int, check, do) -> bool:
            """Runs ``check(session, actor)`` then ``do(session, actor, ticket)`` in one transaction."""
            actor = _actor(staff_id)
            try:
                with db.session_scope() as s:
                    do(s, actor, check(s, actor))
                return True
            except actions.ActionError:
                return False

        def _conv_ids(self, platform_id: str) -> set[int]:
            from core import identity
            from core.models import ChannelUser

            with db.session_scope() as s:
                user = s.exec(select(ChannelUser).where(ChannelUser.user_hash == identity.user_hash("web", platform_id))).first()
                if user is None:
                    return set()
                return {c.id for c in s.exec(select(Conversation).where(Conversation.user_id == user.id)).all()}

        # ---- user side
        # why two users waiting from the start: rules then reach claims and replies quickly
        @initialize(target=users)
        def consenting_user_waits(self):
            pid = self.new_user("c:y")
            self.ask_for_staff(pid)
            return pid

        @initialize(target=users, consent=st.sampled_from(["c:n", None]))
        def non_consenting_user_waits(self, consent):
            pid = self.new_user(consent)
            self.ask_for_staff(pid)
            return pid

        @rule(target=users, consent=st.sampled_from(["c:y", "c:n", None]))
        def new_user(self, consent):
            self.n += 1
            pid = f"sm-{self.n}"
            chat = ChatDriver(runtime, channel="web", user=pid)
            chat.say("こんにちは")
            if consent:
                chat.press(consent)
            self.chats[pid] = chat
            return pid

        @rule(user=users, text=st.sampled_from([f"仕事を探したい {CANARY}", "住むところがない", "ありがとう", "家族が捕まった"]))
        def user_says(self, user, text):
            self.chats[user].say(text)

        @rule(user=users)
        def ask_for_staff(self, user):
            chat = self.chats[user]
            chat.press("h")
            for _ in range(6):  # skip the intake questions, if any
                skips = [b.action for m in chat.last for b in (m.buttons or []) if b.action.endswith(":skip")]
                if not skips:
                    break
                chat.press(skips[0])

        @rule(user=users)
        def give_consent(self, user):
            self.chats[user].press("c:y")

        @rule(user=users)
        def withdraw_consent(self, user):
            self.chats[user].press("c:n")

        @rule(user=users, by_staff=st.booleans(), who=WHO)
        def erase(self, user, by_staff, who):
            """The user deletes (「記録を消して」) or staff erase on their request (one rule: both paths)."""
            before = self._conv_ids(user)
            if not by_staff:
                chat = self.chats[user]
                chat.press("d")
                chat.press("d:y")
                self.erased_convs |= before
                return
            from core import identity
            from core.models import ChannelUser

            with db.session_scope() as s:
                uid = s.exec(select(ChannelUser.id).where(ChannelUser.user_hash == identity.user_hash("web", user))).first()
                tickets = [(t.id, t.state, t.assignee_id) for t in s.exec(select(Ticket).where(Ticket.user_id == uid).order_by(Ticket.id.desc())).all()]
            assume(tickets)
            tid, state, assignee = tickets[0]
            staff = self._staff(who, assignee)
            ok = self._staff_do(staff, lambda s, a: actions.check_erase_ticket_user(s, a, tid), actions.do_erase_ticket_user)
            assert ok == (state != TicketState.claimed.value or assignee == staff), (state, assignee, staff, ok)
            if ok:
                self.erased_convs |= before

        # ---- staff side
        def _staff(self, who, assignee) -> int:
            """``who`` is a staff id, or "holder": the ticket's assignee when it has one."""
            if who == "holder":
                return assignee if assignee is not None else STAFF_IDS[0]
            return who

        def _choose(self, pick: int, prefer: str | None):
            """A ticket: from those in state ``prefer`` when there are any, else from all."""
            tickets = self._tickets()
            assume(tickets)
            pool = [t for t in tickets if t[1] == prefer] if prefer else []
            pool = pool or tickets
            return pool[pick % len(pool)]

        @rule(who=st.sampled_from(STAFF_IDS), pick=st.integers(0, 50), prefer=st.sampled_from(["waiting", None]))
        def claim(self, who, pick, prefer):
            tid, state, assignee, _ = self._choose(pick, prefer)
            ok = self._staff_do(who, lambda s, a: actions.check_claim_ticket(s, a, tid), actions.do_claim_ticket)
            assert ok == (state == TicketState.waiting.value and assignee is None), (state, assignee, ok)
            if ok:
                self.holder[tid] = who

        @rule(who=WHO, pick=st.integers(0, 50), prefer=st.sampled_from(["claimed", None]))
        def release(self, who, pick, prefer):
            tid, state, assignee, _ = self._choose(pick, prefer)
            staff = self._staff(who, assignee)
            ok = self._staff_do(staff, lambda s, a: actions.access_ticket_by_id(s, a, tid), actions.do_release_ticket)
            assert ok == (state == TicketState.claimed.value and assignee == staff), (state, assignee, staff, ok)

        @rule(who=WHO, pick=st.integers(0, 50), prefer=st.sampled_from(["claimed", None]), text=st.sampled_from(["お電話できます", f"記録 {CANARY}", "  "]))
        def reply(self, who, pick, prefer, text):
            tid, state, assignee, _ = self._choose(pick, prefer)
            staff = self._staff(who, assignee)
            ok = self._staff_do(staff, lambda s, a: actions.check_reply(s, a, tid, text), lambda s, a, t: actions.do_reply(s, a, t, text))
            assert ok == (state == TicketState.claimed.value and assignee == staff and bool(text.strip())), (state, assignee, staff, ok)

        @rule(who=WHO, pick=st.integers(0, 50), prefer=st.sampled_from(["claimed", None]), outcome=st.sampled_from(list(Outcome)))
        def close(self, who, pick, prefer, outcome):
            tid, state, assignee, _ = self._choose(pick, prefer)
            staff = self._staff(who, assignee)
            ok = self._staff_do(staff, lambda s, a: actions.check_close_ticket(s, a, tid), lambda s, a, t: actions.do_close_ticket(s, a, t, outcome))
            assert ok == (state == TicketState.claimed.value and assignee == staff), (state, assignee, staff, ok)

        # ---- invariants
        @invariant()
        def at_most_one_assignee(self):
            with db.session_scope() as s:
                tickets = s.exec(select(Ticket)).all()
                open_per_conv: dict[int, int] = {}
                for t in tickets:
                    if t.state == TicketState.claimed.value:
                        assert t.assignee_id is not None and t.assignee_id == self.holder.get(t.id), (t.id, t.assignee_id, self.holder.get(t.id))
                    if t.state == TicketState.waiting.value:
                        assert t.assignee_id is None
                    if t.state in OPEN_STATES:
                        open_per_conv[t.conversation_id] = open_per_conv.get(t.conversation_id, 0) + 1
                assert all(n == 1 for n in open_per_conv.values()), "a conversation has two open tickets"

        @invariant()
        def no_text_kept_without_consent(self):
            with db.session_scope() as s:
                rows = s.exec(select(Message).where(Message.id > self.seen_msg).order_by(Message.id)).all()
                for m in rows:
                    conv = s.get(Conversation, m.conversation_id)
                    if conv.consent_version is None or conv.closed:
                        assert m.body is None, f"{m.sender} text kept in conversation {conv.id} without consent A"
                if rows:
                    self.seen_msg = rows[-1].id

        @invariant()
        def deleted_users_have_no_content(self):
            if not self.erased_convs:
                return
            ids = list(self.erased_convs)
            with db.session_scope() as s:
                assert s.exec(select(func.count()).select_from(Message).where(Message.conversation_id.in_(ids))).one() == 0
                for conv in s.exec(select(Conversation).where(Conversation.id.in_(ids))).all():
                    assert conv.closed and conv.context is None and conv.consent_version is None
                for t in s.exec(select(Ticket).where(Ticket.conversation_id.in_(ids))).all():
                    assert t.intake is None and t.tags is None and t.state not in OPEN_STATES
                    assert s.exec(select(func.count()).select_from(TicketNote).where(TicketNote.ticket_id == t.id)).one() == 0

    return HandoffMachine


@pytest.mark.slow
@pytest.mark.postgres
def test_handoff_state_machine_keeps_its_invariants(settings, shared_runtime):
    machine = _machine(shared_runtime)
    run_state_machine_as_test(
        machine,
        settings=hsettings(
            max_examples=int(os.environ.get("RISTAPO_SM_EXAMPLES", "15")),
            stateful_step_count=50,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )


# --------------------------------------------------------------------------- claim race


def _open_ticket(shared_runtime) -> int:
    from handoff.models import Ticket

    chat = ChatDriver(shared_runtime, channel="web", user="race-user")
    chat.say("こんにちは")
    chat.press("c:n")
    chat.press("h")
    with db.session_scope() as s:
        return s.exec(select(Ticket.id)).one()


@pytest.mark.postgres
def test_fifty_parallel_claims_have_one_winner(settings, shared_runtime):
    from admin.models import AuditEvent
    from handoff import actions
    from handoff.models import Ticket

    ticket_id = _open_ticket(shared_runtime)
    n = 50
    barrier = threading.Barrier(n)
    results: dict[int, str] = {}

    def claim(staff_id: int) -> None:
        actor = _actor(staff_id)
        barrier.wait()
        try:
            with db.session_scope() as s:
                ticket = actions.check_claim_ticket(s, actor, ticket_id)
                actions.do_claim_ticket(s, actor, ticket)
            results[staff_id] = "won"
        except actions.TicketConflict:
            results[staff_id] = "409"
        except Exception as exc:  # anything else (a 500) is a failure
            results[staff_id] = f"error {type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=claim, args=(100 + i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    winners = [sid for sid, r in results.items() if r == "won"]
    assert len(results) == n and sorted(set(results.values())) == ["409", "won"], results
    assert len(winners) == 1
    with db.session_scope() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket.assignee_id == winners[0] and ticket.state == "claimed"
        claims = s.exec(select(AuditEvent).where(AuditEvent.action == "ticket.claim")).all()
        assert [a.actor_id for a in claims] == winners


# --------------------------------------------------------------------------- database outage


class _Outage:
    """Stops and restarts "the database": the real PostgreSQL server, or for SQLite an engine
    that cannot connect (the file's directory is unreachable) swapped in and back out."""

    def __init__(self, backend: str):
        self.backend = backend
        self._saved = None
        self.is_down = False

    def down(self) -> None:
        if self.is_down:
            return
        self.is_down = True
        if self.backend == "postgres":
            subprocess.run(["bash", str(PG_SCRIPT), "down"], check=True, timeout=90)
        else:
            from sqlalchemy import create_engine

            self._saved = db._engine
            db._engine = create_engine("sqlite:///file:/nonexistent-ristapo/db.sqlite?mode=ro&uri=true")

    def up(self) -> None:
        if not self.is_down:
            return
        self.is_down = False
        if self.backend == "postgres":
            subprocess.run(["bash", str(PG_SCRIPT), "up"], check=True, timeout=90)
        elif self._saved is not None:
            db._engine.dispose()
            db._engine, self._saved = self._saved, None


@pytest.fixture
def outage(db_backend):
    if db_backend == "postgres" and not os.environ.get("RISTAPO_PG_TEST_DIR"):
        pytest.skip("RISTAPO_PG_TEST_DIR not set: the throwaway cluster cannot be stopped from here")
    o = _Outage(db_backend)
    yield o
    o.up()  # never leave the database down for the next test


@pytest.mark.slow
@pytest.mark.postgres
def test_database_stopped_mid_run(line_env, outage, db_backend):
    """Webhooks answer non-2xx while the database is down, /healthz says 503, a turn cut off
    at commit leaves nothing behind, and after the restart every event is processed once."""
    from fastapi.testclient import TestClient
    from sqlalchemy.exc import OperationalError

    from bot import pipeline
    from bot.models import InboxEvent
    from bot.pipeline import inbox
    from core.models import OutboxMessage
    from tests.builders import make_line_text_event

    client = TestClient(line_env.app, raise_server_exceptions=False)
    assert client.get("/healthz").status_code == 200

    def rows(model):
        with db.session_scope() as s:
            return list(s.exec(select(model)).all())

    # 1. a turn whose commit is cut off by the outage
    ev1 = make_line_text_event("住むところがない", user_id="U-outage-1")
    assert line_env.post(ev1).status_code == 200
    original = inbox._process_event

    def cut_at_commit(session, row, runtime, *batch):
        outcome = original(session, row, runtime, *batch)
        session.flush()  # the turn's message, outbox and state rows are written, not committed
        if db_backend == "postgres":
            outage.down()
        else:
            raise OperationalError("COMMIT", {}, Exception("database is unreachable"))
        return outcome

    inbox._process_event = cut_at_commit
    try:
        pipeline.process_inbox_batch(10)  # logs the failure; must not raise
    finally:
        inbox._process_event = original
    if db_backend == "sqlite":
        outage.down()

    # 2. while down: webhooks non-2xx, health 503, workers survive
    ev2 = make_line_text_event("仕事を探したい", user_id="U-outage-2")
    from tests.builders import line_body, sign

    body = line_body(ev2)
    r = client.post("/webhooks/line", content=body, headers={"Content-Type": "application/json", "X-Line-Signature": sign(body, line_env.secret)})
    assert not 200 <= r.status_code < 300, "a webhook must not be acknowledged when it could not be stored"
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["database"] == "unreachable"
    with pytest.raises(Exception):
        pipeline.process_inbox_batch(10)

    # 3. after the restart: nothing half-written, then everything exactly once
    outage.up()
    assert client.get("/healthz").status_code == 200
    inbox = rows(InboxEvent)
    assert [(e.state, e.processed_at) for e in inbox] == [("pending", None)], "the cut-off turn must not be marked done"
    assert rows(Message) == [] and rows(OutboxMessage) == [], "no half-written turn"
    # LINE redelivers the unacknowledged webhook
    assert client.post("/webhooks/line", content=body, headers={"Content-Type": "application/json", "X-Line-Signature": sign(body, line_env.secret)}).status_code == 200
    pipeline.process_inbox_batch(10)  # the backed-off event may wait; process what is due
    _make_all_due()
    line_env.process()
    assert sorted(e.state for e in rows(InboxEvent)) == ["done", "done"]
    assert len([m for m in rows(Message) if m.direction == "in"]) == 2
    replies = line_env.fake.accepted
    assert len(replies) == 2 and len({r.body.get("replyToken") or r.retry_key for r in replies}) == 2
    line_env.process()
    assert len(line_env.fake.accepted) == 2, "nothing is sent twice"


def _make_all_due() -> None:
    from bot.models import InboxEvent
    from core.models import OutboxMessage

    with db.session_scope() as s:
        for e in s.exec(select(InboxEvent).where(InboxEvent.state == "pending")).all():
            e.lease_until = None
            s.add(e)
        for o in s.exec(select(OutboxMessage).where(OutboxMessage.state == "pending")).all():
            o.next_try_at = o.created_at
            s.add(o)


# --------------------------------------------------------------------------- admin API fuzzing

# Operations whose responses are checked for 5xx only. Why: schemathesis 4 rewrites pydantic's
# `prefixItems` (a tuple, valid OpenAPI 3.1) into draft-4 `items: [...]` and then rejects its
# own rewrite as an invalid schema; the documents FastAPI serves are fine.
SCHEMA_CHECK_SKIPPED = {"/admin/api/settings/hours"}


@pytest.mark.slow
def test_admin_api_fuzzed_as_admin_has_no_5xx_and_matches_its_schema(settings, shared_runtime, monkeypatch):
    """Schemathesis over every /admin/api operation, signed in as a staff+admin account:
    no 5xx anywhere, and every documented response matches its schema."""
    import schemathesis
    from hypothesis import given
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    from admin import auth
    from admin.auth import CSRF_HEADER, SESSION_COOKIE, csrf_token_for
    from bot.app import create_app
    from tests.staff_helpers import cheap_argon2, hand_off, make_staff, new_session_token  # noqa: F401

    monkeypatch.setattr(auth, "_hasher", __import__("argon2").PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    settings.env = "dev"  # the OpenAPI document is served in development only
    app = create_app(settings)
    admin_id, _ = make_staff("fuzz-admin", ["admin", "staff", "editor"])
    make_staff("fuzz-colleague", ["staff"])
    for i in range(2):  # something to find: tickets, a user, audit rows
        hand_off(ChatDriver(shared_runtime, channel="web", user=f"fuzz-user-{i}"))

    schema = (
        schemathesis.openapi.from_asgi("/openapi.json", app)
        .include(path_regex=r"^/admin/api/")
        # why excluded: an endless event stream, and calls that end the fuzzing session itself
        .exclude(path_regex=r"/(events|logout)$")
    )
    examples = int(os.environ.get("RISTAPO_FUZZ_EXAMPLES", "20"))
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        checks = [not_a_server_error]
        if operation.path not in SCHEMA_CHECK_SKIPPED:
            checks.append(response_schema_conformance)

        @given(case=operation.as_strategy())
        @hsettings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def run(case):
            token = new_session_token(admin_id)  # fresh each time: a fuzzed call may end a session
            case.call_and_validate(
                headers={"Cookie": f"{SESSION_COOKIE}={token}", CSRF_HEADER: csrf_token_for(token), "Origin": "http://testserver"},
                checks=checks,
            )

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert operations >= 20, f"only {operations} admin operations found in the OpenAPI document"
    assert not failures, "\n\n".join(failures)
