"""Who may read or export a transcript: route × role × data owner (docs/security.md, issue 16.4).

The rule: transcripts are read and exported by accounts with the ``staff`` role only; staff
work as one team, so the ticket's assignee and a colleague alike may read it. An admin-only or
editor account gets 403 (with an ``authz.denied`` audit row) and never a byte of the text;
no session gets 401 (API) or the login page (console). Every export is audited.
"""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from tests.conftest import CANARY
from tests.staff_helpers import BASE_URL, audit_actions, cheap_argon2, client_for, hand_off, make_staff  # noqa: F401  (autouse fixture)

# persona → roles; "assignee" holds the claim on the ticket (the data owner on the staff side)
PERSONAS = {
    "anonymous": None,
    "editor": ["editor"],
    "admin-only": ["admin"],
    "admin+editor": ["admin", "editor"],
    "assignee": ["staff"],
    "colleague": ["staff"],
    "admin+staff": ["admin", "staff"],
}
READERS = {"assignee", "colleague", "admin+staff"}
ROUTES = [  # (kind, path template): every route that returns transcript text
    ("api", "/admin/api/tickets/{ticket}"),
    ("api", "/admin/api/users/{user}/export"),
    ("console", "/console/tickets/{ticket}"),
    ("console", "/console/tickets/{ticket}/export"),
]


@pytest.fixture
def app(settings):
    from bot.app import create_app

    settings.run_workers = False
    return create_app(settings)


@pytest.fixture
def world(app, chat):
    """A ticket whose user wrote the canary, claimed by ``assignee``; a client per persona."""
    from core import db
    from core.models import ChannelUser

    clients = {}
    for name, roles in PERSONAS.items():
        staff_id = make_staff(name.replace("+", "-"), roles)[0] if roles else None
        clients[name] = (staff_id, client_for(app, staff_id) if staff_id else TestClient(app, base_url=BASE_URL))
    ticket = hand_off(chat)
    chat.say(f"わたしの話 {CANARY}")
    assert clients["assignee"][1].post(f"/admin/api/tickets/{ticket}/claim").status_code == 200
    with db.session_scope() as s:
        user = s.exec(select(ChannelUser.id)).one()
    return clients, ticket, user


@pytest.mark.parametrize("kind,template", ROUTES, ids=[p for _k, p in ROUTES])
@pytest.mark.parametrize("persona", list(PERSONAS))
def test_only_staff_read_or_export_transcripts(world, kind, template, persona):
    clients, ticket, user = world
    staff_id, client = clients[persona]
    r = client.get(template.format(ticket=ticket, user=user), follow_redirects=False)
    assert CANARY not in r.text or persona in READERS
    if persona in READERS:
        assert r.status_code == 200 and CANARY in r.text, (r.status_code, r.text[:200])
    elif persona == "anonymous":
        assert r.status_code == (401 if kind == "api" else 303)
    else:
        assert r.status_code == 403, r.status_code
        assert "authz.denied" in audit_actions("authz.")


@pytest.mark.parametrize("persona", sorted(READERS))
def test_every_export_is_audited_with_its_actor(world, persona):
    from admin.models import AuditEvent
    from core import db

    clients, ticket, user = world
    staff_id, client = clients[persona]
    assert client.get(f"/admin/api/users/{user}/export").status_code == 200
    assert client.get(f"/console/tickets/{ticket}/export").status_code == 200
    with db.session_scope() as s:
        rows = s.exec(select(AuditEvent).where(AuditEvent.action == "user.export")).all()
    assert [(r.actor_id, r.target) for r in rows] == [(staff_id, f"user:{user}")] * 2


def test_an_admin_only_account_gets_no_transcript_through_the_gatekeeper_either(world):
    """Defence in depth: even called directly, the gatekeeper refuses a non-staff actor."""
    from admin import disclosure
    from admin.accounts import NotFound
    from core import db
    from handoff.actions import Actor

    _clients, _ticket, user = world
    admin = Actor(id=1, name="boss", roles=frozenset({"admin"}), ip=None, audit_writer=lambda *a: None)
    with db.session_scope() as s, pytest.raises(NotFound):
        disclosure.access_user_transcripts(s, admin, user)
    with db.session_scope() as s, pytest.raises(NotFound):
        disclosure.access_user_transcripts(s, Actor(id=2, name="s", roles=frozenset({"staff"}), ip=None, audit_writer=lambda *a: None), 99999)
