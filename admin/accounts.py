"""Staff accounts and the login steps: ``check_*`` validates, ``do_*`` writes; caller commits.

Login is a small state machine on the session row (``SessionStage``):
password → (first login: change_password → enroll_totp) → TOTP → full. Each step issues a
new session token (no fixation) and ends the previous one.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from sqlmodel import Session, select

from admin import audit
from admin.auth import (
    claim_attempt,
    do_accept_totp_step,
    do_create_session,
    do_end_all_sessions,
    do_end_session,
    hash_password,
    needs_rehash,
    new_one_time_password,
    new_totp_secret,
    password_problems,
    qr_svg_data_url,
    settle_attempt,
    totp_step_for,
    totp_uri,
    verify_password,
)
from admin.models import Role, SessionStage, StaffSession, StaffUser
from core.clock import now
from core.rows import saved_id
from handoff.actions import ActionError, Actor, release_all_of

USERNAME_RE = re.compile(r"^[a-z0-9._-]{2,40}$")


class LoginFailed(ActionError):
    status = 401
    code = "login_failed"

    def __init__(self):
        super().__init__("ユーザー名・パスワード・確認コードのどれかが違います。")


class Throttled(ActionError):
    status = 429
    code = "throttled"

    def __init__(self, retry_after: int):
        super().__init__(f"ログインの試行が多すぎます。{retry_after}秒後にもう一度試してください。")
        self.retry_after = retry_after


class NotFound(ActionError):
    status = 404
    code = "not_found"

    def __init__(self):
        super().__init__("見つかりません。")


def get_by_username(session: Session, username: str) -> StaffUser | None:
    return session.exec(select(StaffUser).where(StaffUser.username == username.strip().lower())).first()


def colleague_actor(session: Session, staff_id: int, make: Callable[[StaffUser], Actor]) -> Actor | None:
    """An enabled staff account as an Actor (for transfers), or None."""
    user = session.get(StaffUser, staff_id)
    if user is None or user.disabled or Role.staff.value not in user.role_set:
        return None
    return make(user)


# --- accounts (admin) -------------------------------------------------------------------------

def check_create_staff(session: Session, username: str) -> str:
    name = username.strip().lower()
    if not USERNAME_RE.match(name):
        raise ActionError("ユーザー名は2〜40文字の英数字と . _ - です。", "bad_username")
    if get_by_username(session, name) is not None:
        raise ActionError("そのユーザー名はもう使われています。", "username_taken")
    return name


def do_create_staff(session: Session, *, username: str, display_name: str, roles: list[str], by: str, by_id: int | None, ip: str | None) -> tuple[StaffUser, str]:
    """Creates an account with a one-time password (shown once) that must be changed at first login."""
    password = new_one_time_password()
    user = StaffUser(
        username=username,
        display_name=display_name or username,
        roles=",".join(sorted(set(roles))),
        password_hash=hash_password(password),
        must_change_password=True,
    )
    session.add(user)
    session.flush()
    audit.record(session, action="staff.create", actor_id=by_id, actor_name=by, target=f"staff:{user.id}", ip=ip, detail="roles:" + user.roles)
    return user, password


def _admins_left(session: Session, excluding: int) -> int:
    users = session.exec(select(StaffUser).where(StaffUser.disabled == False, StaffUser.id != excluding)).all()  # noqa: E712
    return sum(1 for u in users if Role.admin.value in u.role_set)


def check_staff_by_id(session: Session, staff_id: int) -> StaffUser:
    user = session.get(StaffUser, staff_id)
    if user is None:
        raise NotFound()
    return user


def do_update_staff(session: Session, actor: Actor, user: StaffUser, *, display_name: str | None, roles: list[str] | None) -> StaffUser:
    if roles is not None:
        if Role.admin.value in user.role_set and Role.admin.value not in roles and _admins_left(session, saved_id(user)) == 0:
            raise ActionError("最後の管理者から admin を外すことはできません。", "last_admin")
        user.roles = ",".join(sorted(set(roles)))
        do_end_all_sessions(session, saved_id(user))  # why: new rights take effect on the next login
        if Role.staff.value not in user.role_set:
            release_all_of(session, saved_id(user))
    if display_name is not None:
        user.display_name = display_name
    session.add(user)
    session.flush()
    actor.audit(session, "staff.update", f"staff:{user.id}", detail=("roles:" + user.roles) if roles is not None else None)
    return user


def do_set_disabled(session: Session, user: StaffUser, disabled: bool, *, by: str, by_id: int | None, ip: str | None) -> StaffUser:
    """Disables (or re-enables) an account; disabling kills its sessions and releases its tickets."""
    if disabled and Role.admin.value in user.role_set and _admins_left(session, saved_id(user)) == 0:
        raise ActionError("最後の管理者は無効にできません。", "last_admin")
    user.disabled = disabled
    session.add(user)
    if disabled:
        do_end_all_sessions(session, saved_id(user))
        release_all_of(session, saved_id(user))
    session.flush()
    audit.record(session, action="staff.disable" if disabled else "staff.enable", actor_id=by_id, actor_name=by, target=f"staff:{user.id}", ip=ip)
    return user


def do_reset_totp(session: Session, actor: Actor, user: StaffUser) -> StaffUser:
    """Forgets the TOTP secret (lost phone): the next login enrols a new one."""
    user.totp_secret = None
    session.add(user)
    do_end_all_sessions(session, saved_id(user))
    session.flush()
    actor.audit(session, "staff.reset_totp", f"staff:{user.id}")
    return user


def do_reset_password(session: Session, actor: Actor, user: StaffUser) -> str:
    """Issues a new one-time password (must be changed at next login); kills sessions."""
    password = new_one_time_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    session.add(user)
    do_end_all_sessions(session, saved_id(user))
    session.flush()
    actor.audit(session, "staff.reset_password", f"staff:{user.id}")
    return password


# --- login steps --------------------------------------------------------------------------------

def _next_stage(user: StaffUser) -> SessionStage:
    if user.must_change_password:
        return SessionStage.change_password
    if not user.totp_enrolled:
        return SessionStage.enroll_totp
    return SessionStage.password_ok


def do_login_password(session: Session, *, username: str, password: str, ip: str) -> tuple[StaffUser, str, SessionStage]:
    """Step 1: throttle, check the password, start a partial session. Raises Throttled/LoginFailed.

    Failures are recorded (attempt + audit) in the caller's transaction; the caller commits
    before turning the exception into a response.
    """
    name = username.strip().lower()[:80]
    claim = claim_attempt(session, username=name, ip=ip)
    if claim.wait > 0:
        audit.record(session, action="login.throttled", actor_name=name if get_by_username(session, name) else None, ip=ip)
        raise Throttled(claim.wait)
    user = get_by_username(session, name)
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or user.disabled:
        audit.record(session, action="login.fail", actor_id=user.id if user else None, actor_name=user.username if user else None, ip=ip, detail="password")
        raise LoginFailed()
    settle_attempt(session, claim, ok=None)  # why not a success yet: the code is still to come
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.add(user)
    stage = _next_stage(user)
    token = do_create_session(session, user, stage=stage, ip=ip)
    audit.record(session, action="login.password_ok", actor_id=user.id, actor_name=user.username, ip=ip)
    return user, token, stage


def _advance(session: Session, row: StaffSession, user: StaffUser, stage: SessionStage, ip: str) -> str:
    """Ends ``row`` and opens a new session at ``stage`` (a fresh token at every step)."""
    do_end_session(session, row)
    return do_create_session(session, user, stage=stage, ip=ip)


def _claim_or_throttle(session: Session, user: StaffUser, ip: str):
    claim = claim_attempt(session, username=user.username, ip=ip)
    if claim.wait > 0:
        audit.record(session, action="login.throttled", actor_id=user.id, actor_name=user.username, ip=ip)
        raise Throttled(claim.wait)
    return claim


def do_login_totp(session: Session, row: StaffSession, user: StaffUser, code: str, *, ip: str) -> str:
    """Step 2: a TOTP code not used before → a full session. Raises LoginFailed/Throttled."""
    if row.stage != SessionStage.password_ok.value or not user.totp_secret:
        raise ActionError("この手順は今は使えません。最初からログインしてください。", "wrong_step")
    claim = _claim_or_throttle(session, user, ip)
    step = totp_step_for(user.totp_secret, code)
    if step is None or not do_accept_totp_step(session, user, step):
        audit.record(session, action="login.fail", actor_id=user.id, actor_name=user.username, ip=ip, detail="totp" if step is None else "totp_reused")
        raise LoginFailed()
    settle_attempt(session, claim, ok=True)
    audit.record(session, action="login.ok", actor_id=user.id, actor_name=user.username, ip=ip)
    return _advance(session, row, user, SessionStage.full, ip)


def do_first_password(session: Session, row: StaffSession, user: StaffUser, new_password: str, *, ip: str) -> tuple[str, SessionStage]:
    """First login (or after a reset): replace the one-time password."""
    if row.stage != SessionStage.change_password.value:
        raise ActionError("この手順は今は使えません。", "wrong_step")
    _set_password(session, user, new_password)
    audit.record(session, action="staff.password_changed", actor_id=user.id, actor_name=user.username, target=f"staff:{user.id}", ip=ip)
    stage = _next_stage(user)
    return _advance(session, row, user, stage, ip), stage


def _set_password(session: Session, user: StaffUser, new_password: str) -> None:
    problems = password_problems(new_password, username=user.username)
    if verify_password(user.password_hash, new_password):
        problems.append("今のパスワードと違うものにしてください。")
    if problems:
        raise ActionError(" ".join(problems), "weak_password")
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    user.password_changed_at = now()
    session.add(user)
    session.flush()


def do_change_password(session: Session, actor: Actor, user: StaffUser, current: str, new_password: str, *, keep_token_hash: str) -> None:
    """A signed-in user changes their password; every other session of theirs ends."""
    if not verify_password(user.password_hash, current):
        raise ActionError("今のパスワードが違います。", "wrong_password")
    _set_password(session, user, new_password)
    for other in session.exec(select(StaffSession).where(StaffSession.staff_id == user.id, StaffSession.token_hash != keep_token_hash)).all():
        session.delete(other)
    actor.audit(session, "staff.password_changed", f"staff:{user.id}")


def do_start_enrolment(session: Session, row: StaffSession, user: StaffUser) -> tuple[str, str, str]:
    """Creates (or reuses) this session's pending TOTP secret: (secret, otpauth URI, QR SVG data URL).

    The secret belongs to the session that asked for it (see ``StaffSession.totp_pending_secret``).
    """
    if row.stage != SessionStage.enroll_totp.value:
        raise ActionError("この手順は今は使えません。", "wrong_step")
    if not row.totp_pending_secret:
        row.totp_pending_secret = new_totp_secret()
        session.add(row)
        session.flush()
    uri = totp_uri(row.totp_pending_secret, user.username)
    return row.totp_pending_secret, uri, qr_svg_data_url(uri)


def do_finish_enrolment(session: Session, row: StaffSession, user: StaffUser, code: str, *, ip: str) -> str:
    """Confirms the authenticator app with one code of this session's secret → TOTP enrolled, full session."""
    if row.stage != SessionStage.enroll_totp.value or not row.totp_pending_secret or user.totp_enrolled:
        raise ActionError("この手順は今は使えません。", "wrong_step")
    claim = _claim_or_throttle(session, user, ip)
    step = totp_step_for(row.totp_pending_secret, code)
    if step is None:
        audit.record(session, action="login.fail", actor_id=user.id, actor_name=user.username, ip=ip, detail="totp_enrol")
        raise LoginFailed()
    user.totp_secret = row.totp_pending_secret
    user.totp_last_step = step  # why: the confirming code cannot be replayed for a login
    session.add(user)
    settle_attempt(session, claim, ok=True)
    audit.record(session, action="staff.totp_enrolled", actor_id=user.id, actor_name=user.username, target=f"staff:{user.id}", ip=ip)
    audit.record(session, action="login.ok", actor_id=user.id, actor_name=user.username, ip=ip)
    return _advance(session, row, user, SessionStage.full, ip)
