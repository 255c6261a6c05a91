"""Console accounts (admin only): create, change roles, disable, reset TOTP or password."""
from __future__ import annotations

from fastapi import Request
from sqlmodel import select

from admin import accounts
from admin.api.access import ADMIN, RouteSpec, build_router
from admin.api.schemas import OneTimePasswordPublic
from admin.deps import CurrentActor, SessionDep, client_ip
from admin.models import StaffUser, StaffUserCreate, StaffUserCreated, StaffUserPublic, StaffUserUpdate
from admin.params import DbId


def read_staff(session: SessionDep) -> list[StaffUserPublic]:
    """All console accounts."""
    return [StaffUserPublic.of(u) for u in session.exec(select(StaffUser).order_by(StaffUser.username)).all()]


def create_staff(body: StaffUserCreate, request: Request, session: SessionDep, actor: CurrentActor) -> StaffUserCreated:
    """Creates an account; the one-time password is shown only in this response."""
    name = accounts.check_create_staff(session, body.username)
    user, password = accounts.do_create_staff(session, username=name, display_name=body.display_name, roles=body.roles, by=actor.name, by_id=actor.id, ip=client_ip(request))
    session.commit()
    return StaffUserCreated(user=StaffUserPublic.of(user), one_time_password=password)


def update_staff(staff_id: DbId, body: StaffUserUpdate, session: SessionDep, actor: CurrentActor) -> StaffUserPublic:
    """Changes an account's display name or roles (their sessions end when roles change)."""
    user = accounts.check_staff_by_id(session, staff_id)
    accounts.do_update_staff(session, actor, user, display_name=body.display_name, roles=body.roles)
    session.commit()
    return StaffUserPublic.of(user)


def disable_staff(staff_id: DbId, request: Request, session: SessionDep, actor: CurrentActor) -> StaffUserPublic:
    """Disables an account: its sessions end at once and its tickets go back to the queue."""
    user = accounts.check_staff_by_id(session, staff_id)
    accounts.do_set_disabled(session, user, True, by=actor.name, by_id=actor.id, ip=client_ip(request))
    session.commit()
    return StaffUserPublic.of(user)


def enable_staff(staff_id: DbId, request: Request, session: SessionDep, actor: CurrentActor) -> StaffUserPublic:
    """Re-enables an account."""
    user = accounts.check_staff_by_id(session, staff_id)
    accounts.do_set_disabled(session, user, False, by=actor.name, by_id=actor.id, ip=client_ip(request))
    session.commit()
    return StaffUserPublic.of(user)


def reset_staff_totp(staff_id: DbId, session: SessionDep, actor: CurrentActor) -> StaffUserPublic:
    """Forgets an account's TOTP (lost phone); it enrols again at the next login."""
    user = accounts.check_staff_by_id(session, staff_id)
    accounts.do_reset_totp(session, actor, user)
    session.commit()
    return StaffUserPublic.of(user)


def reset_staff_password(staff_id: DbId, session: SessionDep, actor: CurrentActor) -> OneTimePasswordPublic:
    """Issues a new one-time password (shown once)."""
    user = accounts.check_staff_by_id(session, staff_id)
    password = accounts.do_reset_password(session, actor, user)
    session.commit()
    return OneTimePasswordPublic(one_time_password=password)



ROUTES: list[RouteSpec] = [
    RouteSpec("GET", "/staff", read_staff, ADMIN),
    RouteSpec("POST", "/staff", create_staff, ADMIN),
    RouteSpec("PATCH", "/staff/{staff_id}", update_staff, ADMIN),
    RouteSpec("POST", "/staff/{staff_id}/disable", disable_staff, ADMIN),
    RouteSpec("POST", "/staff/{staff_id}/enable", enable_staff, ADMIN),
    RouteSpec("POST", "/staff/{staff_id}/reset-totp", reset_staff_totp, ADMIN),
    RouteSpec("POST", "/staff/{staff_id}/reset-password", reset_staff_password, ADMIN),
]
router = build_router(ROUTES)
