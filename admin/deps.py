"""Typed dependencies for the admin API and console: the session, the signed-in staff, roles.

Routes never call ``Depends()`` inline; they use these aliases. Authentication order:
session cookie → live, enabled, fully signed-in session → CSRF token on unsafe methods →
role. Failures are uniform (401 ``not_authenticated`` / 403 ``forbidden``) and say nothing
about which check failed.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from sqlmodel import Session
from starlette.datastructures import FormData

from admin import audit
from admin.auth import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, csrf_ok, find_session, touch_session
from admin.models import Role, SessionStage, StaffSession, StaffUser
from core import db
from core.rows import saved_id
from handoff.actions import Actor

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def get_session() -> Iterator[Session]:
    """A database session; the route commits (caller owns the transaction), anything else rolls back."""
    with Session(db.engine(), expire_on_commit=False) as session:
        try:
            yield session
        finally:
            session.rollback()


SessionDep = Annotated[Session, Depends(get_session)]


def client_ip(request: Request) -> str:
    # why request.client: behind a proxy, run uvicorn with --proxy-headers and
    # --forwarded-allow-ips so this is the real client and cannot be spoofed by a header.
    return request.client.host if request.client else "unknown"


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site (Origin/Referer)."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", request.url.netloc)


@dataclass
class SignedIn:
    row: StaffSession
    user: StaffUser
    token: str


def _unauthorized() -> HTTPException:
    return HTTPException(status_code=401, detail="not_authenticated")


def _forbidden() -> HTTPException:
    return HTTPException(status_code=403, detail="forbidden")


async def read_form(request: Request) -> FormData:
    """The request's form body (reading it is I/O on the event loop), so form routes can be sync.

    Why: a sync route runs in the thread pool; an ``async def`` route that awaited the form and
    then queried the database would block the event loop (every webhook and health check).
    """
    return await request.form()


FormDep = Annotated[FormData, Depends(read_form)]


async def _check_csrf(request: Request, token: str) -> None:
    if request.method in SAFE_METHODS:
        return
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    if not csrf_ok(token, presented) or not same_origin(request):
        raise HTTPException(status_code=403, detail="csrf")


def find_signed_in(request: Request, session: SessionDep) -> SignedIn | None:
    """The live session of the request's cookie, or None; runs in the thread pool (it queries).

    Why the commit: it keeps the deletion of an expired row and, above all, gives the pooled
    connection back at once, so a request waiting for its CSRF form or a long event stream
    never holds one.
    """
    token = request.cookies.get(SESSION_COOKIE)
    found = find_session(session, token)
    session.commit()
    if found is None or token is None:
        return None
    row, user = found
    return SignedIn(row, user, token)


FoundDep = Annotated[SignedIn | None, Depends(find_signed_in)]


async def signed_in_any_stage(request: Request, found: FoundDep) -> SignedIn:
    """A live session in any login stage (the login steps themselves use this).

    Async only to read a form body for the CSRF check; it never touches the database (the
    lookup is :func:`find_signed_in`, a sync dependency FastAPI runs in its thread pool).
    """
    if found is None:
        raise _unauthorized()
    await _check_csrf(request, found.token)
    return found


LoginDep = Annotated[SignedIn, Depends(signed_in_any_stage)]


def signed_in(session: SessionDep, login: LoginDep) -> SignedIn:
    """A fully signed-in session (password + TOTP); moves its idle deadline (in the thread pool)."""
    if login.row.stage != SessionStage.full.value:
        raise _unauthorized()
    if touch_session(login.row):
        session.add(login.row)
        session.commit()
    return login


SignedInDep = Annotated[SignedIn, Depends(signed_in)]


def _write_audit(session: Session, actor: Actor, action: str, target: str | None, detail: str | None) -> None:
    audit.record(session, action=action, actor_id=actor.id, actor_name=actor.name, target=target, ip=actor.ip, detail=detail)


def actor_for(user: StaffUser, ip: str | None) -> Actor:
    """The queue's view of a staff member, with the audit writer bound in."""
    return Actor(id=saved_id(user), name=user.username, roles=user.role_set, ip=ip, audit_writer=_write_audit)


def current_staff(login: SignedInDep) -> StaffUser:
    return login.user


def current_actor(request: Request, login: SignedInDep) -> Actor:
    return actor_for(login.user, client_ip(request))


CurrentStaff = Annotated[StaffUser, Depends(current_staff)]
CurrentActor = Annotated[Actor, Depends(current_actor)]


def require_roles(*roles: Role):
    """A dependency admitting staff holding at least one of ``roles`` (deny by default)."""
    wanted = frozenset(r.value for r in roles)
    if not wanted:
        raise ValueError("require_roles needs at least one role")

    def _gate(request: Request, session: SessionDep, actor: CurrentActor) -> Actor:
        if not (actor.roles & wanted):
            # why audit: failed authorisation is a signal worth seeing (ASVS 16.3.2)
            actor.audit(session, "authz.denied", request.url.path[:80])
            session.commit()
            raise _forbidden()
        return actor

    _gate.__name__ = "require_" + "_or_".join(sorted(wanted))
    return _gate


StaffOnly = Annotated[Actor, Depends(require_roles(Role.staff))]
AdminOnly = Annotated[Actor, Depends(require_roles(Role.admin))]
EditorOnly = Annotated[Actor, Depends(require_roles(Role.editor))]
