"""Staff-side hardening found by the audit (issue 16): login race, enrolment secret, audit rows.

- 50 parallel wrong passwords must not get more password checks than the free failures;
- the TOTP secret offered at enrolment belongs to the session that asked for it;
- audit rows cannot be changed or deleted in the database itself (only very old rows deleted).
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pyotp
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from core import clock, db
from tests.staff_helpers import (
    KNOWN_PASSWORD,
    cheap_argon2,  # noqa: F401  (autouse fixture)
    client_for,
    make_api_app,
    make_staff,
)


@pytest.fixture
def app(settings):
    return make_api_app(settings)


# --- login throttling is counted before the password is checked --------------------------------

@pytest.mark.postgres
def test_fifty_parallel_wrong_passwords_get_only_the_free_checks(settings, monkeypatch, db_backend):
    from admin import accounts, auth
    from handoff.actions import ActionError

    make_staff("ken", ["staff"])
    checks = []
    lock = threading.Lock()
    real_verify = accounts.verify_password

    def slow_verify(password_hash, password):
        with lock:
            checks.append(1)
        time.sleep(0.05)  # argon2 takes this long for real: the window the race used
        return real_verify(password_hash, password)

    monkeypatch.setattr(accounts, "verify_password", slow_verify)
    barrier = threading.Barrier(50)

    def attempt(_n: int) -> str:
        barrier.wait()
        with Session(db.engine(), expire_on_commit=False) as s:
            try:
                accounts.do_login_password(s, username="ken", password="wrong-password-123", ip="203.0.113.9")
            except ActionError as exc:
                s.commit()
                return exc.code
            s.commit()
            return "ok"

    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(attempt, range(50)))
    assert len(checks) == auth.PAIR_FREE_FAILURES, outcomes
    assert outcomes.count("login_failed") == auth.PAIR_FREE_FAILURES
    assert outcomes.count("throttled") == 50 - auth.PAIR_FREE_FAILURES


def test_a_right_password_is_not_a_failure_and_does_not_reset_the_code_delay(app):
    from admin import auth
    from admin.models import LoginAttempt

    make_staff("ken", ["staff"])
    client = client_for(app, client=("198.51.100.7", 4000))
    r = client.post("/admin/api/login", json={"username": "ken", "password": KNOWN_PASSWORD})
    assert r.status_code == 200
    with db.session_scope() as s:
        assert s.exec(sa.select(sa.func.count()).select_from(LoginAttempt)).scalar() == 0
        assert auth.throttle_wait(s, username="ken", ip="198.51.100.7") == 0


# --- the enrolment secret belongs to one session ------------------------------------------------

def _start_enrolment(app, ip: str):
    from admin.auth import CSRF_HEADER

    client = client_for(app, client=(ip, 4000))
    r = client.post("/admin/api/login", json={"username": "hana", "password": KNOWN_PASSWORD})
    assert r.json()["next"] == "enroll_totp", r.text
    client.headers[CSRF_HEADER] = r.json()["csrf_token"]
    return client, client.get("/admin/api/login/totp-enrolment").json()["secret"]


def test_the_pending_totp_secret_is_bound_to_the_session_that_started_enrolment(app):
    make_staff("hana", ["staff"], enrolled=False)
    mine, my_secret = _start_enrolment(app, "198.51.100.7")
    other, other_secret = _start_enrolment(app, "203.0.113.9")
    assert other_secret != my_secret  # the second session does not see the first one's secret
    assert mine.get("/admin/api/login/totp-enrolment").json()["secret"] == my_secret  # stable per session
    # the other session cannot confirm with a code of my secret
    assert other.post("/admin/api/login/totp-enrolment", json={"code": pyotp.TOTP(my_secret).at(clock.now())}).status_code == 401
    assert mine.post("/admin/api/login/totp-enrolment", json={"code": pyotp.TOTP(my_secret).at(clock.now())}).json()["next"] == "done"
    # once enrolled, the other session's own secret can no longer replace it
    r = other.post("/admin/api/login/totp-enrolment", json={"code": pyotp.TOTP(other_secret).at(clock.now())})
    assert r.status_code not in (200, 401) and r.json()["code"] == "wrong_step"


# --- audit rows are append-only in the database itself -----------------------------------------

@pytest.mark.postgres
def test_the_database_refuses_to_change_or_delete_recent_audit_rows(settings, db_backend):
    from admin import audit
    from admin.models import AUDIT_KEEP_DAYS

    with db.session_scope() as s:
        audit.record(s, action="ticket.read", actor_name="ken", target="ticket:1")
        clock.freeze(clock.now() - timedelta(days=AUDIT_KEEP_DAYS + 5))
        try:
            audit.record(s, action="ticket.read", actor_name="old", target="ticket:0")
        finally:
            clock.freeze(None)
    for statement in ("UPDATE audit_event SET actor_name = 'someone-else'", "DELETE FROM audit_event WHERE actor_name = 'ken'"):
        with pytest.raises(sa.exc.DatabaseError), db.engine().begin() as conn:
            conn.execute(sa.text(statement))
    with db.engine().begin() as conn:  # a retention purge of rows past the keep period still works
        assert conn.execute(sa.text("DELETE FROM audit_event WHERE actor_name = 'old'")).rowcount == 1
    with db.engine().connect() as conn:
        assert conn.execute(sa.text("SELECT actor_name FROM audit_event")).scalars().all() == ["ken"]


def test_a_migrated_database_has_the_audit_triggers_too(tmp_path):
    from core import migrate

    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    migrate.upgrade(url)
    engine = db.make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO audit_event (at, action) VALUES ('2026-12-01 00:00:00.000000', 'x')"))
        with pytest.raises(sa.exc.DatabaseError), engine.begin() as conn:
            conn.execute(sa.text("UPDATE audit_event SET action = 'y'"))
        with pytest.raises(sa.exc.DatabaseError), engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM audit_event"))
    finally:
        engine.dispose()
