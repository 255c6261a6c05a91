"""Shared helpers of the hand-off queue tests (tests/handoff/test_handoff_queue*.py): rows, the app, a staff client."""
from __future__ import annotations

import pytest
from sqlmodel import select

from core import db
from core.models import OutboxMessage
from handoff.models import Ticket
from tests.staff_helpers import client_for, make_api_app, make_staff


def rows(model):
    with db.session_scope() as s:
        return list(s.exec(select(model)).all())


def get(model, id_):
    with db.session_scope() as s:
        return s.get(model, id_)


@pytest.fixture
def app(settings, shared_runtime):
    return make_api_app(settings, shared_runtime)


@pytest.fixture
def staff(app):
    staff_id, _ = make_staff("sato", ["staff"])
    return staff_id, client_for(app, staff_id)


def outbox_of(ticket_id: int, sender: str | None = None) -> list[OutboxMessage]:
    t = get(Ticket, ticket_id)
    out = [r for r in rows(OutboxMessage) if r.user_id == t.user_id]
    return [r for r in out if sender is None or r.sender == sender]



def hand_off_from_here(chat) -> int:
    chat.press("h")
    for _ in range(4):
        chat.press("i:skip")
    return rows(Ticket)[-1].id

