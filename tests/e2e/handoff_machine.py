"""The hand-off state machine of the reliability suite (tests/e2e/test_reliability.py).

A hypothesis state machine over the hand-off actions (claim / release / reply / close / consent
withdrawn / deletion) with invariants: at most one assignee, no reply text stored without
consent, deleted users have no content. Kept apart from the test file so each stays small.
"""
from __future__ import annotations

from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import func
from sqlmodel import SQLModel, select

from core import db
from core.models import Conversation, Message
from handoff import actions
from handoff.models import OPEN_STATES, Outcome, Ticket, TicketNote, TicketState
from tests.conftest import CANARY, ChatDriver

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


class HandoffMachine(RuleBasedStateMachine):
    """Rules for users and staff, invariants checked after every step; ``runtime`` is set by
    :func:`handoff_machine` (a subclass per test, so the class itself holds no runtime)."""

    users = Bundle("users")
    runtime = None

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
        chat = ChatDriver(self.runtime, channel="web", user=pid)
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


def handoff_machine(runtime) -> type[HandoffMachine]:
    """The machine bound to ``runtime`` (the chats it starts talk to that runtime)."""
    return type("HandoffMachine", (HandoffMachine,), {"runtime": runtime})
