"""The hand-off queue through the admin API: the claim race, priority and views, access.

Runs on SQLite and (when RISTAPO_TEST_POSTGRES_URL is set) PostgreSQL: see conftest.
Replies and consent B: test_handoff_queue_replies.py; erasure, notifications, LINE:
test_handoff_queue_notify.py.
"""
from __future__ import annotations

import threading
from datetime import UTC

import pytest

from core import db
from core.models import ChannelUser
from handoff.models import Ticket
from tests.conftest import CANARY, ChatDriver
from tests.handoff.queue_helpers import app, get, rows, staff  # noqa: F401  (fixtures)
from tests.staff_helpers import (
    audit_actions,
    cheap_argon2,  # noqa: F401  (autouse fixture)
    client_for,
    hand_off,
    make_staff,
)

# --- the race ------------------------------------------------------------------------------------

def test_fifty_parallel_claims_have_exactly_one_winner(app, chat):
    ticket_id = hand_off(chat)
    people = [make_staff(f"staff{i}", ["staff"])[0] for i in range(5)]
    clients = [client_for(app, people[i % 5]) for i in range(50)]
    barrier = threading.Barrier(50)
    results: list[tuple[int, int]] = []
    lock = threading.Lock()

    def claim(i: int) -> None:
        barrier.wait()
        r = clients[i].post(f"/admin/api/tickets/{ticket_id}/claim")
        with lock:
            results.append((r.status_code, people[i % 5]))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(s for s, _ in results)
    assert statuses == [200] + [409] * 49
    winner = next(p for s, p in results if s == 200)
    ticket = get(Ticket, ticket_id)
    assert ticket.state == "claimed" and ticket.assignee_id == winner
    assert audit_actions("ticket.claim") == ["ticket.claim"]


# --- priority and views --------------------------------------------------------------------------

def test_queue_is_crisis_first_then_urgent_then_longest_waiting(app, shared_runtime):
    from datetime import datetime, timedelta

    from core import clock

    t0 = datetime(2027, 1, 13, 1, 0, tzinfo=UTC)
    made = {}
    try:
        for i, (name, how) in enumerate([("old", "normal"), ("newer", "normal"), ("urgent", "urgent"), ("crisis", "crisis")]):
            clock.freeze(t0 + timedelta(minutes=i))
            c = ChatDriver(shared_runtime, user=name)
            if how == "crisis":
                c.say("もう死にたい")
            else:
                c.say("こんにちは")
                c.press("c:y")
                c.press("h")
                c.press("i:who:skip")
                c.press("i:need:skip")
                c.press("i:urgency:tonight" if how == "urgent" else "i:urgency:skip")
                c.press("i:contact:skip")
            made[name] = rows(Ticket)[-1].id
        clock.freeze(t0 + timedelta(minutes=30))
        client = client_for(app, make_staff("sato", ["staff"])[0])
        queue = client.get("/admin/api/tickets").json()
    finally:
        clock.freeze(None)
    assert [q["id"] for q in queue] == [made["crisis"], made["urgent"], made["old"], made["newer"]]
    assert queue[0]["crisis"] and queue[1]["urgent"] and not queue[2]["urgent"]
    assert queue[2]["waiting_minutes"] == 30
    assert queue[1]["intake_summary"] == ["今夜泊まる所がない"]
    for q in queue:
        assert q["pseudonym"].startswith("相談者 ") and q["channel"] == "web"
        assert set(q) >= {"consent_a", "consent_b", "tags", "unread"}
        assert "text" not in q and "user_hash" not in q and "platform_id" not in q


def test_views_mine_waiting_and_closed_today(app, staff, chat):
    staff_id, client = staff
    ticket_id = hand_off(chat)
    assert [q["id"] for q in client.get("/admin/api/tickets?view=waiting").json()] == [ticket_id]
    assert client.get("/admin/api/tickets?view=mine").json() == []
    client.post(f"/admin/api/tickets/{ticket_id}/claim")
    assert [q["id"] for q in client.get("/admin/api/tickets?view=mine").json()] == [ticket_id]
    assert client.get("/admin/api/tickets?view=waiting").json() == []
    client.post(f"/admin/api/tickets/{ticket_id}/close", json={"outcome": "情報提供"})
    closed = client.get("/admin/api/tickets?view=closed_today").json()
    assert [(q["id"], q["outcome"]) for q in closed] == [(ticket_id, "情報提供")]
    assert client.get("/admin/api/tickets?view=everything").status_code == 422


# --- access --------------------------------------------------------------------------------------

def ticket_routes():
    from admin.api import ROUTES

    return [r for r in ROUTES if "{ticket_id}" in r.path]


def test_other_roles_get_no_ticket_content_on_any_id_route(app, chat):
    ticket_id = hand_off(chat)
    chat.say(f"相談の内容 {CANARY}")
    pseudonym = rows(ChannelUser)[0].pseudonym
    for roles in (["editor"], ["admin"], ["admin", "editor"]):
        person, _ = make_staff("-".join(roles) + "x", roles)
        client = client_for(app, person)
        for spec in ticket_routes():
            for tid in (ticket_id, ticket_id + 1000):
                r = client.request(spec.method, "/admin/api" + spec.path.format(ticket_id=tid), json={})
                assert r.status_code in (403, 404), (spec.path, roles, r.status_code)
                assert r.json() == {"detail": "forbidden"}
                assert CANARY not in r.text and pseudonym not in r.text


def test_the_gatekeeper_hides_whether_a_ticket_exists(app, chat):
    from admin.deps import actor_for
    from admin.models import StaffUser
    from handoff.actions import TicketNotFound, access_ticket_by_id
    from tests.staff_helpers import make_staff as mk

    ticket_id = hand_off(chat)
    editor_id, _ = mk("eddie", ["editor"])
    staff_id, _ = mk("sara", ["staff"])
    with db.session_scope() as s:
        editor = actor_for(s.get(StaffUser, editor_id), None)
        staffer = actor_for(s.get(StaffUser, staff_id), None)
        for actor, tid in ((editor, ticket_id), (editor, 99999), (staffer, 99999)):
            with pytest.raises(TicketNotFound) as err:
                access_ticket_by_id(s, actor, tid)
            assert err.value.status == 404 and err.value.message == "見つかりません。"
        assert access_ticket_by_id(s, staffer, ticket_id).id == ticket_id


def test_smuggled_fields_are_rejected(app, staff, chat):
    staff_id, client = staff
    admin_id, _ = make_staff("boss", ["admin"])
    boss = client_for(app, admin_id)
    ticket_id = hand_off(chat)
    client.post(f"/admin/api/tickets/{ticket_id}/claim")
    r = client.post(f"/admin/api/tickets/{ticket_id}/reply", json={"text": "こんにちは", "assignee_id": 99})
    assert r.status_code == 422
    r = client.post(f"/admin/api/tickets/{ticket_id}/close", json={"outcome": "情報提供", "state": "waiting"})
    assert r.status_code == 422
    r = boss.patch(f"/admin/api/staff/{staff_id}", json={"display_name": "x", "role": "admin"})
    assert r.status_code == 422
    r = boss.post("/admin/api/staff", json={"username": "newbie", "roles": ["staff"], "is_admin": True})
    assert r.status_code == 422
    r = boss.post("/admin/api/canned-replies", json={"title": "t", "body": "b", "updated_by": 1})
    assert r.status_code == 422
    assert get(Ticket, ticket_id).assignee_id == staff_id
