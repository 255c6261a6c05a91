"""The admin console pages through HTTP: roles, accounts, hours, canned replies, consent, retention, audit."""
from __future__ import annotations

import re

import pytest
from sqlmodel import select

from tests.admin.test_console_staff import app, audit_rows, open_ticket, persona  # noqa: F401  (fixtures)

ADMIN_PAGES = ["/console/admin", "/console/admin/accounts", "/console/admin/hours", "/console/admin/canned",
               "/console/admin/consent", "/console/admin/retention", "/console/admin/audit", "/console/admin/audit.csv"]


@pytest.fixture
def admin(persona):
    return persona("kanri", "admin")


@pytest.mark.parametrize("roles", ["staff", "editor", "staff,editor"])
def test_other_roles_see_no_admin_pages(persona, roles):
    other = persona("someone", roles)
    for url in ADMIN_PAGES:
        r = other.get(url)
        assert r.status_code == 403, url
        assert "kanri" not in r.text and "監査ログ" not in r.text
    assert other.post("/console/admin/accounts", {"username": "x-new", "roles": "admin"}).status_code == 403
    assert audit_rows("authz.denied")


def test_every_admin_page_opens(admin):
    for url in ADMIN_PAGES:
        assert admin.get(url).status_code == 200, url
    assert admin.get("/console/admin").text.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 4


def test_create_account_shows_the_one_time_password_once(admin):
    from admin import auth
    from admin.models import StaffUser
    from core import db

    r = admin.post("/console/admin/accounts", {"username": "Sato", "display_name": "佐藤", "roles": ["staff", "editor"]})
    assert r.status_code == 200
    otp = re.search(r'class="ad-otp">([^<]+)<', r.text).group(1)
    with db.session_scope() as s:
        user = s.exec(select(StaffUser).where(StaffUser.username == "sato")).one()
        assert auth.verify_password(user.password_hash, otp) and user.must_change_password
        assert user.role_set == {"staff", "editor"}
    assert otp not in admin.get("/console/admin/accounts").text
    assert audit_rows("staff.create")
    again = admin.post("/console/admin/accounts", {"username": "sato", "roles": ["staff"]})
    assert again.status_code == 400 and "もう使われています" in again.text
    assert admin.post("/console/admin/accounts", {"username": "nobody", "roles": []}).status_code == 422


def test_disable_reset_totp_and_roles(admin, persona):
    from admin.models import StaffSession, StaffUser
    from core import db

    staff = persona("suzuki", "staff")
    assert staff.get("/console/inbox").status_code == 200
    assert admin.post(f"/console/admin/accounts/{staff.id}/disable").status_code == 303
    assert staff.get("/console/inbox", follow_redirects=False).status_code == 303  # session ended at once
    assert admin.post(f"/console/admin/accounts/{staff.id}/enable").status_code == 303
    assert admin.post(f"/console/admin/accounts/{staff.id}/reset-totp").status_code == 303
    assert admin.post(f"/console/admin/accounts/{staff.id}/roles", {"roles": ["editor"], "display_name": "鈴木"}).status_code == 303
    with db.session_scope() as s:
        user = s.get(StaffUser, staff.id)
        assert user.totp_secret is None and user.role_set == {"editor"} and user.display_name == "鈴木"
        assert not s.exec(select(StaffSession).where(StaffSession.staff_id == staff.id)).all()
    r = admin.post(f"/console/admin/accounts/{admin.id}/roles", {"roles": ["staff"]})
    assert r.status_code == 400 and "最後の管理者" in r.text
    r = admin.post(f"/console/admin/accounts/{staff.id}/reset-password")
    assert re.search(r'class="ad-otp">[^<]+<', r.text)
    for action in ("staff.disable", "staff.enable", "staff.reset_totp", "staff.update", "staff.reset_password"):
        assert audit_rows(action), action


def test_office_hours_form(admin):
    from core import db
    from handoff.hours import load_hours

    r = admin.post("/console/admin/hours", {"day0": "8:30-12:00, 13:00-17:15", "day1": "9:00-17:00", "day5": "",
                                             "closed_days": "12/29\n12-30", "closed_dates": "2027-05-06", "minutes_per_ticket": "30"})
    assert r.status_code == 303
    with db.session_scope() as s:
        h = load_hours(s)
    assert h.weekly == {"0": [("08:30", "12:00"), ("13:00", "17:15")], "1": [("09:00", "17:00")]}
    assert h.closed_days == ["12-29", "12-30"] and h.closed_dates == ["2027-05-06"]
    assert h.public_holidays is False and h.minutes_per_ticket == 30
    assert h.phone_callbacks is False  # off unless ticked
    assert admin.post("/console/admin/hours", {"day0": "8:30-17:15", "phone_callbacks": "1"}).status_code == 303
    with db.session_scope() as s:
        assert load_hours(s).phone_callbacks is True
    assert audit_rows("settings.hours")
    bad = admin.post("/console/admin/hours", {"day0": "17:00-9:00"})
    assert bad.status_code == 422 and "17:00-9:00" in bad.text  # the form keeps what was typed


def test_canned_replies_crud(admin):
    from core import db
    from handoff.models import CannedReply

    assert admin.post("/console/admin/canned", {"title": "あいさつ", "body": "担当の職員です。"}).status_code == 303
    with db.session_scope() as s:
        cid = s.exec(select(CannedReply.id)).one()
    assert admin.post(f"/console/admin/canned/{cid}", {"title": "あいさつ", "body": "担当の職員です。よろしくお願いします。"}).status_code == 303
    assert admin.post("/console/admin/canned", {"title": "あいさつ", "body": "重複"}).status_code == 400
    assert admin.post(f"/console/admin/canned/{cid}/delete").status_code == 303
    with db.session_scope() as s:
        assert not s.exec(select(CannedReply)).all()
    for action in ("canned.create", "canned.update", "canned.delete"):
        assert audit_rows(action)


def test_new_consent_version_asks_users_again(admin, consented_chat):
    from core import db
    from core.models import ConsentText

    text = "新しい説明です。" * 5
    assert admin.post("/console/admin/consent", {"text": text}).status_code == 400  # needs the confirmation
    assert admin.post("/console/admin/consent", {"text": text, "confirm": "1"}).status_code == 303
    with db.session_scope() as s:
        assert s.exec(select(ConsentText.version).order_by(ConsentText.version.desc())).first() == 3
    out = consented_chat.say("保護観察ってなんですか")
    assert any(m.kind == "consent" and text in m.text for m in out)
    assert audit_rows("consent.publish", "consent:A:3")
    assert admin.post("/console/admin/consent", {"text": text, "confirm": "1"}).status_code == 400  # unchanged


def test_retention_period_applies_to_every_process(admin, settings):
    from core import db
    from core.service_settings import retention_days
    from core.settings import Settings

    assert admin.post("/console/admin/retention", {"days": "90"}).status_code == 400  # needs the confirmation
    assert admin.post("/console/admin/retention", {"days": "10", "confirm": "1"}).status_code == 400
    assert admin.post("/console/admin/retention", {"days": "90", "confirm": "1"}).status_code == 303
    with db.session_scope() as s:  # e.g. `ristapo purge` in another process, or another machine
        assert retention_days(s, Settings()) == 90
    page = admin.get("/console/admin/retention").text
    assert 'value="90"' in page and "同意の説明文に「90日」と書かれていません" in page
    assert audit_rows("settings.retention")[0].detail == "180->90"


def test_raising_the_retention_period_needs_no_shortening_confirmation(admin):
    """A longer period deletes nothing: no checkbox; shortening again still asks for it."""
    page = admin.post("/console/admin/retention", {"days": "365"})
    assert page.status_code == 303, page.text
    assert audit_rows("settings.retention")[0].detail == "180->365"
    assert admin.post("/console/admin/retention", {"days": "365"}).status_code == 303  # unchanged: nothing shortened
    refused = admin.post("/console/admin/retention", {"days": "200"})
    assert refused.status_code == 400 and "確認のチェック" in refused.text


def test_audit_log_filters_and_csv(admin, persona, chat):
    staff = persona("yamada", "staff")
    tid = open_ticket(chat)
    staff.get(f"/console/tickets/{tid}")
    page = admin.get(f"/console/admin/audit?action=ticket.read&actor_id={staff.id}").text
    assert f"ticket:{tid}" in page and "queue.read" not in page
    assert "該当する記録はありません" in admin.get("/console/admin/audit?action=ticket.read&since=2001-01-01&until=2001-01-02").text
    r = admin.get("/console/admin/audit.csv?action=ticket.")
    assert r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert lines[0].startswith("id,at,actor_id") and any(f"ticket:{tid}" in line for line in lines[1:])
    assert audit_rows("audit.export")


def test_the_audit_log_shows_japanese_words_beside_the_raw_code(admin, persona, chat):
    staff = persona("yamada", "staff")
    tid = open_ticket(chat)
    staff.get(f"/console/tickets/{tid}")
    page = admin.get("/console/admin/audit?action=ticket.read").text
    assert "相談を開いた" in page and "<code class=\"muted\">ticket.read</code>" in page


def test_every_audited_action_has_japanese_words():
    import pathlib

    from admin.audit_labels import ACTION_LABELS

    root = pathlib.Path(__file__).resolve().parents[2]
    codes = set()
    for folder in ("admin", "handoff", "bot", "core"):
        for path in (root / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            codes |= set(re.findall(r"\.audit\(\s*\w+,\s*\"([a-z_]+\.[a-z_]+)\"", text))
            codes |= set(re.findall(r"audit\.record\([^)]*action=\"([a-z_.]+)\"", text))
    assert codes and codes <= set(ACTION_LABELS), sorted(codes - set(ACTION_LABELS))


def test_accounts_show_the_last_login_and_flag_accounts_unused_for_90_days(admin, persona):
    from datetime import timedelta

    from admin import audit
    from admin.models import AuditEvent, StaffUser
    from core import db
    from core.clock import now

    old = persona("furui", "staff")
    recent = persona("atarashii", "staff")
    with db.session_scope() as s:
        s.get(StaffUser, old.id).created_at = now() - timedelta(days=400)
        s.get(StaffUser, recent.id).created_at = now() - timedelta(days=400)
        s.add(AuditEvent(at=now() - timedelta(days=120), actor_id=old.id, actor_name="furui", action="login.ok"))
        audit.record(s, action="login.ok", actor_id=recent.id, actor_name="atarashii", ip=None)
    page = admin.get("/console/admin/accounts").text
    rows = {name: page.split(f"<strong>{name}</strong>", 1)[1].split("</td>", 1)[0] for name in ("furui", "atarashii")}
    assert "90日以上使われていません" in rows["furui"] and "最後のログイン: 20" in rows["furui"]
    assert "90日以上使われていません" not in rows["atarashii"]
    assert "1 件のアカウントが 90 日以上使われていません" in page
