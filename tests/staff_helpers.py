"""Helpers for admin/handoff tests: an API-only app, staff personas, signed-in clients, tickets.

Personas are made directly in the database (one argon2 hash computed per test session) and
signed in by creating a session row, so tests spend no time in argon2 or TOTP unless they
test exactly that.
"""
from __future__ import annotations

from functools import lru_cache

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select

KNOWN_PASSWORD = "lantern-orchid-73-silk"
BASE_URL = "https://testserver"  # why https: the __Host- cookies are Secure


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch):
    """Argon2 with tiny cost so throttling tests can afford dozens of logins (import it to use).

    Verification reads the cost from each hash, so the code under test is unchanged.
    """
    from argon2 import PasswordHasher

    from admin import auth

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(auth, "_hasher", cheap)
    monkeypatch.setattr(auth, "_DUMMY_HASH", _cheap_hash("ristapo-dummy-password-for-timing"))


@lru_cache
def _cheap_hash(password: str) -> str:
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(password)


def known_hash() -> str:
    return _cheap_hash(KNOWN_PASSWORD)


def make_api_app(settings, runtime=None) -> FastAPI:
    """The admin API mounted on a bare app (independent of the other optional modules)."""
    from admin import api

    app = FastAPI()
    app.state.settings = settings
    app.state.runtime = runtime
    api.install(app, settings)
    return app


def make_staff(username: str, roles: list[str], *, enrolled: bool = True, must_change: bool = False) -> tuple[int, str | None]:
    """A staff account with KNOWN_PASSWORD; returns (id, TOTP secret or None)."""
    from admin.models import StaffUser
    from core import db

    secret = pyotp.random_base32() if enrolled else None
    with db.session_scope() as s:
        user = StaffUser(username=username, display_name=username.title(), roles=",".join(roles), password_hash=known_hash(), must_change_password=must_change, totp_secret=secret)
        s.add(user)
        s.flush()
        return user.id, secret


def new_session_token(staff_id: int) -> str:
    from admin.auth import do_create_session
    from admin.models import SessionStage, StaffUser
    from core import db

    with db.session_scope() as s:
        return do_create_session(s, s.get(StaffUser, staff_id), stage=SessionStage.full, ip="testclient")


def client_for(app: FastAPI, staff_id: int | None = None, **kwargs) -> TestClient:
    """A client over https; signed in as ``staff_id`` (with its CSRF header) when given."""
    from admin.auth import CSRF_HEADER, SESSION_COOKIE, csrf_token_for

    client = TestClient(app, base_url=BASE_URL, **kwargs)
    if staff_id is not None:
        token = new_session_token(staff_id)
        client.cookies.set(SESSION_COOKIE, token)
        client.headers[CSRF_HEADER] = csrf_token_for(token)
    return client


def hand_off(chat) -> int:
    """A consented user asks for a person and skips the intake; returns the ticket id."""
    from core import db
    from handoff.models import Ticket

    chat.say("こんにちは")
    chat.press("c:y")
    chat.press("h")
    for _ in range(4):
        chat.press("i:skip")
    assert chat.kinds() == ["handoff"]
    with db.session_scope() as s:
        return s.exec(select(Ticket.id).order_by(Ticket.id.desc())).first()


def audit_actions(prefix: str = "") -> list[str]:
    from admin.models import AuditEvent
    from core import db

    with db.session_scope() as s:
        return [a for a in s.exec(select(AuditEvent.action).order_by(AuditEvent.id)).all() if a.startswith(prefix)]
