"""The staff side of a crisis and of call-backs: top of the queue, a one-tap outcome counted on
the dashboard with the time to the first staff reply, and the call-back list."""
from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from core import db
from core.clock import JST
from handoff.hours import DEFAULT_HOURS, do_save_hours
from handoff.models import Ticket
from tests.admin.test_console_staff import app, open_ticket, persona, staff  # noqa: F401  (fixtures)
from tests.conftest import ChatDriver


def test_a_crisis_ticket_is_on_top_and_its_outcome_and_first_reply_are_counted(app, staff, settings, shared_runtime):
    admin = _admin(app)
    if True:
        calm = ChatDriver(shared_runtime, user="calm")
        calm_id = open_ticket(calm)
        danger = ChatDriver(shared_runtime, user="danger")
        danger.say("こんにちは")
        danger.press("c:y")
        danger.say("もう死にたい")
        with db.session_scope() as s:
            crisis_id = s.exec(select(Ticket.id).where(Ticket.crisis == True)).one()  # noqa: E712
        page = staff.get("/console/inbox?view=waiting").text
        assert page.index(f'data-ticket="{crisis_id}"') < page.index(f'data-ticket="{calm_id}"')  # the crisis on top

        assert staff.post(f"/console/tickets/{crisis_id}/claim").status_code == 303
        assert staff.post(f"/console/tickets/{crisis_id}/reply", {"text": "職員の佐藤です。いま、どこにいますか?"}).status_code == 303
        page = staff.get(f"/console/tickets/{crisis_id}").text
        assert "110番・119番をすすめた" in page and "連絡がとれた" in page
        assert staff.post(f"/console/tickets/{crisis_id}/crisis-outcome", {"outcome": "reached"}).status_code == 303
        assert staff.post(f"/console/tickets/{crisis_id}/crisis-outcome", {"outcome": "nonsense"}).status_code == 400
        with db.session_scope() as s:
            t = s.get(Ticket, crisis_id)
            assert t.crisis_outcome == "reached"
            assert timedelta(0) <= t.first_staff_reply_at - t.created_at < timedelta(minutes=5)
            month = t.created_at.astimezone(JST).strftime("%Y-%m")

        board = admin.get("/console/admin").text
        row = board[board.index('id="ad-crisis"'):]
        assert month in row and "0分" in row
        assert row.count("<tr>") == 2  # the header and one month


def test_call_backs_are_listed_for_staff(app, staff, shared_runtime):
    with db.session_scope() as s:
        do_save_hours(s, DEFAULT_HOURS.model_copy(update={"phone_callbacks": True}), staff_id=None)
    chat = ChatDriver(shared_runtime, user="caller")
    chat.say("こんにちは")
    chat.press("c:y")
    chat.press("h")
    for action in ("i:skip", "i:skip", "i:skip", "i:contact:phone"):
        chat.press(action)
    chat.say("090-1111-2222")
    chat.press("cb:am")
    other = ChatDriver(shared_runtime, user="chatter")
    open_ticket(other)
    with db.session_scope() as s:
        caller_ticket = s.exec(select(Ticket.id).where(Ticket.callback_window.is_not(None))).one()
    page = staff.get("/console/inbox?view=callback").text
    assert "折り返し電話" in page and f"/console/tickets/{caller_ticket}" in page
    assert page.count("data-ticket=") == 1
    detail = staff.get(f"/console/tickets/{caller_ticket}").text
    assert "09011112222" in detail and "午前" in detail


def _admin(app):
    from fastapi.testclient import TestClient

    from admin import auth
    from admin.models import SessionStage, StaffUser

    with db.session_scope() as s:
        user = StaffUser(username="boss", display_name="Boss", roles="admin", password_hash="x", must_change_password=False, totp_secret="JBSWY3DPEHPK3PXP")
        s.add(user)
        s.flush()
        token = auth.do_create_session(s, user, stage=SessionStage.full, ip="127.0.0.1")
    client = TestClient(app, base_url="https://testserver")
    client.cookies.set(auth.SESSION_COOKIE, token)
    return client
