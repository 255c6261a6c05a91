"""Console sign-in pages: password → (first login: new password → TOTP enrolment) → TOTP code.

Every step calls ``admin.accounts`` (the same code as the JSON API) and issues a fresh
session token; this module only renders forms and moves cookies.
"""
from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from admin import accounts, audit, deps
from admin.auth import csrf_ok, csrf_token_for, do_end_session
from admin.console import ConsoleForbidden, ConsoleLogin, LoginRedirect, render, set_session_cookies
from admin.console.refusals import refused_with
from admin.deps import SessionDep, SignedIn
from admin.models import SessionStage
from handoff.actions import ActionError

router = APIRouter(prefix="/console", include_in_schema=False)
NAV: list = []

LOGIN_COOKIE = "__Host-ristapo_login"  # random value binding the login form's CSRF token
STEP_URL = {
    SessionStage.change_password.value: "/console/login/password",
    SessionStage.enroll_totp.value: "/console/login/enroll",
    SessionStage.password_ok.value: "/console/login/totp",
    SessionStage.full.value: "/console",
}


async def login_step(request: Request, found: deps.FoundDep) -> SignedIn:
    """A session in any login stage (CSRF checked on POST), else back to the login form.

    Async only to read the form for the CSRF check; the lookup ran in the thread pool.
    """
    try:
        return await deps.signed_in_any_stage(request, found)
    except HTTPException as exc:
        if exc.status_code == 401:
            raise LoginRedirect() from None
        raise ConsoleForbidden("フォームの確認用トークンが古くなっています。最初からログインしてください。") from None


login_step.console_gate = True  # type: ignore[attr-defined]  # the marker admin.deps' start-up check reads
LoginStep = Annotated[SignedIn, Depends(login_step)]


def _step_page(request: Request, template: str, step: SignedIn, **context):
    return render(request, template, None, csrf_token=csrf_token_for(step.token), step_user=step.user, **context)


def _go(stage: str | SessionStage, token: str) -> RedirectResponse:
    stage = stage.value if isinstance(stage, SessionStage) else stage
    response = RedirectResponse(STEP_URL[stage], status_code=303)
    set_session_cookies(response, token)
    return response


def _expect(step: SignedIn, stage: SessionStage) -> RedirectResponse | None:
    """Sends a session to the page of its own stage when it opened another one."""
    if step.row.stage != stage.value:
        return RedirectResponse(STEP_URL.get(step.row.stage, "/console/login"), status_code=303)
    return None


def _login_refused(exc: ActionError, *, request: Request, session: Session, username: str, csrf_token: str, **_form) -> HTMLResponse:
    """The password form again with the reason; the failed attempt and its audit row are kept."""
    session.commit()  # why: the failed attempt and its audit row must be kept
    return render(request, "console/login.html", None, status_code=exc.status, csrf_token=csrf_token,
                  error=exc.message, username=username[:40])


def _totp_refused(exc: ActionError, *, request: Request, session: Session, step: SignedIn, **_form) -> HTMLResponse:
    session.commit()
    return _step_page(request, "console/login_totp.html", step, error=exc.message)


def _first_password_refused(exc: ActionError, *, request: Request, session: Session, step: SignedIn, **_form) -> HTMLResponse:
    session.rollback()
    return _step_page(request, "console/login_password.html", step, error=exc.message)


def _enrol_refused(exc: ActionError, *, request: Request, session: Session, step: SignedIn, **_form) -> HTMLResponse:
    """The QR code of a fresh secret again, with the reason (the failed attempt is kept)."""
    session.commit()
    secret, _uri, qr = accounts.do_start_enrolment(session, step.row, step.user)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return _step_page(request, "console/login_enroll.html", step, qr=qr, secret=grouped, error=exc.message)


@router.get("/login")
def login_form(request: Request):
    """Shows the password form (with a fresh login CSRF token)."""
    nonce = secrets.token_urlsafe(32)
    response = render(request, "console/login.html", None, csrf_token=csrf_token_for(nonce))
    response.set_cookie(LOGIN_COOKIE, nonce, path="/", secure=True, httponly=True, samesite="strict", max_age=1800)
    return response


@router.post("/login")
@refused_with(_login_refused)
def login_submit(request: Request, session: SessionDep, username: str = Form(""), password: str = Form(""), csrf_token: str = Form("")):
    """Checks the password and starts the next login step."""
    nonce = request.cookies.get(LOGIN_COOKIE) or ""
    if not (nonce and csrf_ok(nonce, csrf_token) and deps.same_origin(request)):
        raise ConsoleForbidden("ログイン画面の有効期限が切れました。読み込み直してから、もう一度ログインしてください。")
    _user, token, stage = accounts.do_login_password(session, username=username, password=password, ip=deps.client_ip(request))
    session.commit()
    response = _go(stage, token)
    response.delete_cookie(LOGIN_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


@router.get("/login/totp")
def totp_form(request: Request, step: LoginStep):
    return _expect(step, SessionStage.password_ok) or _step_page(request, "console/login_totp.html", step)


@router.post("/login/totp")
@refused_with(_totp_refused)
def totp_submit(request: Request, session: SessionDep, step: LoginStep, code: str = Form("")):
    """Accepts a TOTP code once and opens the full session."""
    if (wrong := _expect(step, SessionStage.password_ok)) is not None:
        return wrong
    token = accounts.do_login_totp(session, step.row, step.user, code, ip=deps.client_ip(request))
    session.commit()
    return _go(SessionStage.full, token)


@router.get("/login/password")
def first_password_form(request: Request, step: LoginStep):
    return _expect(step, SessionStage.change_password) or _step_page(request, "console/login_password.html", step)


@router.post("/login/password")
@refused_with(_first_password_refused)
def first_password_submit(request: Request, session: SessionDep, step: LoginStep, new_password: str = Form(""), new_password2: str = Form("")):
    """Replaces the one-time password at first login."""
    if (wrong := _expect(step, SessionStage.change_password)) is not None:
        return wrong
    if new_password != new_password2:
        return _step_page(request, "console/login_password.html", step, error="確認のために入力したパスワードが一致しません。")
    token, stage = accounts.do_first_password(session, step.row, step.user, new_password, ip=deps.client_ip(request))
    session.commit()
    return _go(stage, token)


@router.get("/login/enroll")
def enrol_form(request: Request, session: SessionDep, step: LoginStep):
    """Shows the QR code of a new TOTP secret (and the secret, for typing it in)."""
    if (wrong := _expect(step, SessionStage.enroll_totp)) is not None:
        return wrong
    secret, _uri, qr = accounts.do_start_enrolment(session, step.row, step.user)
    session.commit()
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return _step_page(request, "console/login_enroll.html", step, qr=qr, secret=grouped)


@router.post("/login/enroll")
@refused_with(_enrol_refused)
def enrol_submit(request: Request, session: SessionDep, step: LoginStep, code: str = Form("")):
    """Confirms the authenticator app with one code."""
    if (wrong := _expect(step, SessionStage.enroll_totp)) is not None:
        return wrong
    token = accounts.do_finish_enrolment(session, step.row, step.user, code, ip=deps.client_ip(request))
    session.commit()
    return _go(SessionStage.full, token)


@router.post("/logout")
def logout(request: Request, session: SessionDep, login: ConsoleLogin):
    """Ends this session."""
    do_end_session(session, login.row)
    audit.record(session, action="logout", actor_id=login.user.id, actor_name=login.user.username, ip=deps.client_ip(request))
    session.commit()
    response = RedirectResponse("/console/login", status_code=303)
    set_session_cookies(response, None)
    return response
