"""Signing in and out: the login steps (password, TOTP, first-login changes), the own account."""
from __future__ import annotations

from fastapi import Request, Response

from admin import accounts, audit
from admin.api.access import LOGIN_STEP, PUBLIC, SIGNED_IN, RouteSpec, build_router
from admin.api.schemas import (
    ChangePasswordRequest,
    CodeRequest,
    EnrolmentPublic,
    LoginRequest,
    LoginStepPublic,
    MePublic,
    NewPasswordRequest,
    OkPublic,
)
from admin.auth import CSRF_COOKIE, SESSION_COOKIE, csrf_token_for
from admin.deps import CurrentActor, LoginDep, SessionDep, SignedInDep, client_ip
from admin.models import SessionStage, StaffUserPublic
from handoff import actions

_STEP_NEXT = {
    SessionStage.password_ok: "totp",
    SessionStage.change_password: "change_password",
    SessionStage.enroll_totp: "enroll_totp",
    SessionStage.full: "done",
}


def _set_session_cookies(response: Response, token: str) -> str:
    csrf = csrf_token_for(token)
    # why __Host-: Secure, Path=/ and no Domain, so no sibling subdomain can plant or read it
    response.set_cookie(SESSION_COOKIE, token, httponly=True, secure=True, samesite="lax", path="/")
    response.set_cookie(CSRF_COOKIE, csrf, httponly=False, secure=True, samesite="lax", path="/")
    return csrf


def _clear_session_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, secure=True, httponly=True, samesite="lax", path="/")
    response.delete_cookie(CSRF_COOKIE, secure=True, samesite="lax", path="/")



# --- login ---------------------------------------------------------------------------------------

def login(body: LoginRequest, request: Request, response: Response, session: SessionDep) -> LoginStepPublic:
    """Step 1 of signing in: username and password. Starts a short partial session."""
    try:
        _user, token, stage = accounts.do_login_password(session, username=body.username, password=body.password, ip=client_ip(request))
    except actions.ActionError:
        session.commit()  # why: the failed attempt and its audit row must be kept
        raise
    session.commit()
    return LoginStepPublic(next=_STEP_NEXT[stage], csrf_token=_set_session_cookies(response, token))


def login_totp(body: CodeRequest, request: Request, response: Response, session: SessionDep, login: LoginDep) -> LoginStepPublic:
    """Step 2: the 6-digit code from the authenticator app (each code works once)."""
    try:
        token = accounts.do_login_totp(session, login.row, login.user, body.code, ip=client_ip(request))
    except actions.ActionError:
        session.commit()
        raise
    session.commit()
    return LoginStepPublic(next="done", csrf_token=_set_session_cookies(response, token))


def login_new_password(body: NewPasswordRequest, request: Request, response: Response, session: SessionDep, login: LoginDep) -> LoginStepPublic:
    """First login: replace the one-time password (≥ 12 characters, not a common one)."""
    token, stage = accounts.do_first_password(session, login.row, login.user, body.new_password, ip=client_ip(request))
    session.commit()
    return LoginStepPublic(next=_STEP_NEXT[stage], csrf_token=_set_session_cookies(response, token))


def login_enrolment(session: SessionDep, login: LoginDep) -> EnrolmentPublic:
    """First login: the TOTP secret to add to an authenticator app, as a QR code (SVG data URL)."""
    secret, uri, svg = accounts.do_start_enrolment(session, login.row, login.user)
    session.commit()
    return EnrolmentPublic(secret=secret, otpauth_uri=uri, qr_svg_data_url=svg)


def login_enrolment_confirm(body: CodeRequest, request: Request, response: Response, session: SessionDep, login: LoginDep) -> LoginStepPublic:
    """First login: confirm the authenticator app with one code; signs in fully."""
    try:
        token = accounts.do_finish_enrolment(session, login.row, login.user, body.code, ip=client_ip(request))
    except actions.ActionError:
        session.commit()
        raise
    session.commit()
    return LoginStepPublic(next="done", csrf_token=_set_session_cookies(response, token))


def logout(request: Request, response: Response, session: SessionDep, login: LoginDep) -> OkPublic:
    """Ends this session at once (the cookie stops working on the next request)."""
    session.delete(login.row)
    audit.record(session, action="logout", actor_id=login.user.id, actor_name=login.user.username, ip=client_ip(request))
    session.commit()
    _clear_session_cookies(response)
    return OkPublic()


def read_me(login: SignedInDep) -> MePublic:
    """The signed-in account and the CSRF token to send with changes."""
    return MePublic(user=StaffUserPublic.of(login.user), csrf_token=csrf_token_for(login.token))


def change_my_password(body: ChangePasswordRequest, session: SessionDep, login: SignedInDep, actor: CurrentActor) -> OkPublic:
    """Changes the signed-in user's password; their other sessions end."""
    accounts.do_change_password(session, actor, login.user, body.current_password, body.new_password, keep_token_hash=login.row.token_hash)
    session.commit()
    return OkPublic()



ROUTES: list[RouteSpec] = [
    RouteSpec("POST", "/login", login, PUBLIC),
    RouteSpec("POST", "/login/totp", login_totp, LOGIN_STEP),
    RouteSpec("POST", "/login/password", login_new_password, LOGIN_STEP),
    RouteSpec("GET", "/login/totp-enrolment", login_enrolment, LOGIN_STEP),
    RouteSpec("POST", "/login/totp-enrolment", login_enrolment_confirm, LOGIN_STEP),
    RouteSpec("POST", "/logout", logout, LOGIN_STEP),
    RouteSpec("GET", "/me", read_me, SIGNED_IN),
    RouteSpec("POST", "/me/password", change_my_password, SIGNED_IN),
]
router = build_router(ROUTES)
