"""``ristapo serve --demo``: marked demo accounts and conversations, created once, never without --demo."""
from __future__ import annotations

import re

from sqlmodel import func, select


def _seed() -> list[str]:
    from bot.demo import seed_demo

    lines: list[str] = []
    seed_demo(lines.append)
    return lines


def _count(model, *where) -> int:
    from core import db

    with db.session_scope() as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()


def _passwords(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        m = re.match(r"\s+(demo-\S+)\s+\S+\s+一回限りのパスワード / one-time password: (\S+-\S+-\S+-\S+)$", line)
        if m:
            found[m.group(1)] = m.group(2)
    return found


def test_demo_creates_marked_accounts_and_conversations(settings):
    from admin import auth
    from admin.models import AuditEvent, StaffUser
    from core import db
    from core.models import ChannelUser, Message
    from handoff.models import Ticket

    lines = _seed()
    passwords = _passwords(lines)
    assert set(passwords) == {"demo-admin", "demo-staff", "demo-staff2", "demo-editor", "demo-editor2"}  # two editors: the two-person publish works end to end
    with db.session_scope() as s:
        users = {u.username: u for u in s.exec(select(StaffUser)).all()}
        for name, otp in passwords.items():
            assert auth.verify_password(users[name].password_hash, otp)
            assert users[name].must_change_password and not users[name].totp_enrolled  # first login still enrols
        assert users["demo-admin"].role_set == {"admin"} and users["demo-editor"].role_set == {"editor"}
        tickets = s.exec(select(Ticket)).all()
        assert tickets and all(t.is_demo for t in tickets)
        assert {t.state for t in tickets} >= {"waiting", "claimed", "closed"} and any(t.crisis for t in tickets)
        demo_users = s.exec(select(ChannelUser)).all()
        assert demo_users and all(u.is_demo and u.platform_id is None for u in demo_users)
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "staff.create")).all()
        answered = s.exec(select(Message).where(Message.sender == "bot", Message.entry_id.is_not(None))).all()
        assert answered and all(m.entry_version for m in answered)  # transcripts show entry + version
    assert any("デモ" in line for line in lines)


def test_demo_is_idempotent_and_refreshes_only_unused_passwords(settings):
    from admin import auth
    from admin.models import StaffUser
    from core import db
    from core.models import ChannelUser, Conversation, Message
    from handoff.models import Ticket

    _seed()
    counts = (_count(StaffUser), _count(Ticket), _count(ChannelUser), _count(Conversation), _count(Message))
    with db.session_scope() as s:  # demo-staff finished the first login and chose a password
        staff = s.exec(select(StaffUser).where(StaffUser.username == "demo-staff")).one()
        staff.password_hash = auth.hash_password("a chosen long passphrase")
        staff.must_change_password = False
    second = _passwords(_seed())
    assert (_count(StaffUser), _count(Ticket), _count(ChannelUser), _count(Conversation), _count(Message)) == counts
    assert "demo-staff" not in second and {"demo-admin", "demo-editor"} <= set(second)
    with db.session_scope() as s:
        staff = s.exec(select(StaffUser).where(StaffUser.username == "demo-staff")).one()
        assert auth.verify_password(staff.password_hash, "a chosen long passphrase")
        admin = s.exec(select(StaffUser).where(StaffUser.username == "demo-admin")).one()
        assert auth.verify_password(admin.password_hash, second["demo-admin"])


def test_without_demo_nothing_exists(settings):
    from admin.models import StaffUser
    from bot.app import create_app
    from core.models import ChannelUser
    from handoff.models import CannedReply, Ticket

    settings.run_workers = False
    create_app(settings)
    assert _count(StaffUser) == 0 and _count(Ticket) == 0 and _count(ChannelUser) == 0 and _count(CannedReply) == 0


def test_demo_badge_in_the_inbox(settings):
    from fastapi.testclient import TestClient

    from admin import auth
    from admin.models import SessionStage, StaffUser
    from bot.app import create_app
    from core import db

    settings.run_workers = False
    app = create_app(settings)
    _seed()
    with db.session_scope() as s:
        staff = s.exec(select(StaffUser).where(StaffUser.username == "demo-staff")).one()
        staff.must_change_password = False
        token = auth.do_create_session(s, staff, stage=SessionStage.full, ip="127.0.0.1")
    with TestClient(app, base_url="https://testserver") as client:
        client.cookies.set(auth.SESSION_COOKIE, token)
        html = client.get("/console/inbox").text
    assert html.count('st-badge-demo') >= 3 and "緊急" in html
