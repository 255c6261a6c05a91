"""Signing in to the console: one-time password → new password → TOTP, sessions, throttling."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlmodel import select

from admin.auth import CSRF_HEADER, SESSION_COOKIE, password_problems
from core import clock, db
from tests.staff_helpers import (
    BASE_URL,
    KNOWN_PASSWORD,
    audit_actions,
    cheap_argon2,  # noqa: F401  (autouse fixture)
    client_for,
    make_api_app,
    make_staff,
)

T0 = datetime(2027, 1, 13, 1, 0, 0, tzinfo=UTC)  # 10:00 JST on a Wednesday
NEW_PASSWORD = "quiet-harbour-lamp-2031"


@pytest.fixture
def app(settings):
    return make_api_app(settings)


@pytest.fixture
def tick():
    """A frozen clock that tests move forward: ``tick(seconds)``."""
    state = {"at": T0}
    clock.freeze(T0)

    def advance(seconds: float) -> datetime:
        state["at"] += timedelta(seconds=seconds)
        clock.freeze(state["at"])
        return state["at"]

    yield advance
    clock.freeze(None)


def code_for(secret: str) -> str:
    return pyotp.TOTP(secret).at(clock.now())


def csrf(client, body: dict) -> None:
    client.headers[CSRF_HEADER] = body["csrf_token"]


def login(client, username: str, password: str, **kw):
    return client.post("/admin/api/login", json={"username": username, "password": password}, **kw)


def full_login(client, username: str, secret: str):
    r = login(client, username, KNOWN_PASSWORD)
    assert r.status_code == 200 and r.json()["next"] == "totp", r.text
    csrf(client, r.json())
    r = client.post("/admin/api/login/totp", json={"code": code_for(secret)})
    assert r.status_code == 200, r.text
    csrf(client, r.json())
    return r


def test_first_login_changes_the_password_and_enrols_totp(app, tick):
    from admin import accounts

    with db.session_scope() as s:
        _user, one_time = accounts.do_create_staff(s, username="hana", display_name="Hana", roles=["staff"], by="cli", by_id=None, ip="cli")
    client = client_for(app)
    r = login(client, "hana", one_time)
    assert r.json()["next"] == "change_password"
    cookie = r.headers["set-cookie"]
    assert SESSION_COOKIE in cookie and "Secure" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert "Domain" not in cookie and "Path=/" in cookie
    csrf(client, r.json())
    # a partial session reaches nothing else
    assert client.get("/admin/api/me").status_code == 401
    assert client.get("/admin/api/tickets").status_code == 401

    r = client.post("/admin/api/login/password", json={"new_password": "password1234"})
    assert r.status_code == 400 and r.json()["code"] == "weak_password"
    r = client.post("/admin/api/login/password", json={"new_password": NEW_PASSWORD})
    assert r.json()["next"] == "enroll_totp"
    csrf(client, r.json())

    r = client.get("/admin/api/login/totp-enrolment")
    body = r.json()
    assert body["qr_svg_data_url"].startswith("data:image/svg+xml;base64,")
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    secret = body["secret"]
    r = client.post("/admin/api/login/totp-enrolment", json={"code": "000000" if code_for(secret) != "000000" else "111111"})
    assert r.status_code == 401
    r = client.post("/admin/api/login/totp-enrolment", json={"code": code_for(secret)})
    assert r.json()["next"] == "done"
    csrf(client, r.json())
    me = client.get("/admin/api/me").json()
    assert me["user"]["username"] == "hana" and me["user"]["totp_enrolled"] and not me["user"]["must_change_password"]
    assert "password_hash" not in str(me) and secret not in str(me)

    # the code that confirmed enrolment cannot be replayed for a login
    client2 = client_for(app)
    r = login(client2, "hana", NEW_PASSWORD)
    csrf(client2, r.json())
    assert client2.post("/admin/api/login/totp", json={"code": code_for(secret)}).status_code == 401
    tick(30)
    assert client2.post("/admin/api/login/totp", json={"code": code_for(secret)}).status_code == 200


def test_password_policy():
    assert password_problems("short-1", username="x")
    assert password_problems("qwerty123456", username="x")
    assert password_problems("Password123!", username="x")
    assert password_problems("hana-is-my-name-ok", username="hana")
    assert password_problems("aaaaaaaaaaaaaaaa", username="x")
    assert password_problems(NEW_PASSWORD, username="hana") == []


def test_totp_code_is_accepted_once(app, tick):
    staff_id, secret = make_staff("ken", ["staff"])
    full_login(client_for(app), "ken", secret)
    other = client_for(app)
    r = login(other, "ken", KNOWN_PASSWORD)
    csrf(other, r.json())
    r = other.post("/admin/api/login/totp", json={"code": code_for(secret)})
    assert r.status_code == 401
    assert "login.fail" in audit_actions("login.")


def test_login_without_totp_gives_no_session(app, tick):
    make_staff("ken", ["staff"])
    client = client_for(app)
    r = login(client, "ken", KNOWN_PASSWORD)
    assert r.json()["next"] == "totp"
    csrf(client, r.json())
    assert client.get("/admin/api/me").status_code == 401


def test_logout_invalidates_the_session_at_once(app, tick):
    make_staff("ken", ["staff"])
    client = client_for(app)
    secret = None
    with db.session_scope() as s:
        from admin.models import StaffUser

        secret = s.exec(select(StaffUser.totp_secret)).one()
    full_login(client, "ken", secret)
    old = client.cookies.get(SESSION_COOKIE)
    assert client.get("/admin/api/me").status_code == 200
    assert client.post("/admin/api/logout").status_code == 200
    replay = client_for(app)
    replay.cookies.set(SESSION_COOKIE, old)
    assert replay.get("/admin/api/me").status_code == 401
    assert "logout" in audit_actions()


def test_disabled_users_session_is_rejected_on_its_next_request(app, tick):
    admin_id, _ = make_staff("boss", ["admin"])
    staff_id, _ = make_staff("ken", ["staff"])
    ken = client_for(app, staff_id)
    assert ken.get("/admin/api/tickets").status_code == 200
    boss = client_for(app, admin_id)
    assert boss.post(f"/admin/api/staff/{staff_id}/disable").status_code == 200
    assert ken.get("/admin/api/tickets").status_code == 401
    assert login(client_for(app), "ken", KNOWN_PASSWORD).status_code == 401


def test_idle_and_absolute_timeouts(app, tick):
    staff_id, _ = make_staff("ken", ["staff"])
    ken = client_for(app, staff_id)
    tick(29 * 60)
    assert ken.get("/admin/api/me").status_code == 200  # moves the idle deadline
    tick(29 * 60)
    assert ken.get("/admin/api/me").status_code == 200
    tick(31 * 60)
    assert ken.get("/admin/api/me").status_code == 401  # idle for 31 min

    ken = client_for(app, staff_id)
    for _ in range(21):  # busy all day: 21 × 29 min > 10 h
        tick(29 * 60)
        status = ken.get("/admin/api/me").status_code
    assert status == 401


def test_state_changes_need_the_csrf_token(app, tick):
    staff_id, _ = make_staff("ken", ["staff"])
    ken = client_for(app, staff_id)
    token = ken.headers.pop(CSRF_HEADER)
    assert ken.post("/admin/api/logout").status_code == 403
    assert ken.post("/admin/api/logout", headers={CSRF_HEADER: "x" * 64}).status_code == 403
    # a foreign Origin is refused even with the token
    assert ken.post("/admin/api/logout", headers={CSRF_HEADER: token, "Origin": "https://evil.example"}).status_code == 403
    # the HTML console may send it as a form field
    assert ken.post("/admin/api/logout", data={"csrf_token": token}).status_code == 200


def test_login_from_a_foreign_origin_is_refused(app):
    make_staff("ken", ["staff"])
    r = login(client_for(app), "ken", KNOWN_PASSWORD, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403


def test_login_throttling_slows_one_place_without_locking_out_the_person(app, tick):
    _id, secret = make_staff("ken", ["staff"])
    attacker = client_for(app, client=("203.0.113.9", 4000))
    for _ in range(5):
        assert login(attacker, "ken", "wrong-password-123").status_code == 401
    r = login(attacker, "ken", KNOWN_PASSWORD)  # even the right password waits now
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    # the real person at their own desk is not locked out
    desk = client_for(app, client=("198.51.100.7", 4000))
    assert login(desk, "ken", KNOWN_PASSWORD).status_code == 200
    # the delay grows with further failures but ends
    tick(3)
    assert login(attacker, "ken", "wrong-password-123").status_code == 401
    r = login(attacker, "ken", "wrong-password-123")
    assert r.status_code == 429
    tick(16 * 60)
    assert login(attacker, "ken", KNOWN_PASSWORD).status_code == 200
    actions = audit_actions("login.")
    assert actions.count("login.fail") == 6 and "login.throttled" in actions


def test_many_accounts_from_one_ip_are_capped(app, tick):
    attacker = client_for(app, client=("203.0.113.9", 4000))
    for i in range(30):
        login(attacker, f"user{i}", "wrong-password-123")
    assert login(attacker, "someone", "wrong-password-123").status_code == 429


def test_failed_logins_never_store_the_password(app, tick):
    from admin.models import AuditEvent, LoginAttempt

    make_staff("ken", ["staff"])
    login(client_for(app), "ken", "CANARY-guess-123456")
    with db.session_scope() as s:
        rows = [str(r.model_dump()) for r in s.exec(select(AuditEvent)).all()] + [str(r.model_dump()) for r in s.exec(select(LoginAttempt)).all()]
    assert rows and not any("CANARY" in r for r in rows)


def test_cookies_need_https(app):
    """Over plain http the Secure cookie is not sent back: the console only works over https."""
    from fastapi.testclient import TestClient

    make_staff("ken", ["staff"])
    assert BASE_URL.startswith("https://")
    plain = TestClient(app, base_url="http://testserver")
    assert login(plain, "ken", KNOWN_PASSWORD).status_code == 200
    assert plain.get("/admin/api/me").status_code == 401
