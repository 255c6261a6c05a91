"""Settings staff work with: canned replies (定型文) and office hours."""
from __future__ import annotations

from sqlmodel import Session, select

from admin import accounts
from admin.api.access import ADMIN, STAFF_OR_ADMIN, RouteSpec, build_router
from admin.api.schemas import HoursStatusPublic, OkPublic
from admin.deps import CurrentActor, SessionDep
from admin.params import DbId
from core.clock import now
from handoff import actions, hours
from handoff.models import (
    CannedReply,
    CannedReplyCreate,
    CannedReplyPublic,
    CannedReplyUpdate,
    OfficeHoursPublic,
    OfficeHoursUpdate,
)

# --- canned replies ------------------------------------------------------------------------------

def read_canned_replies(session: SessionDep) -> list[CannedReplyPublic]:
    """Canned replies (定型文) staff can insert into a reply."""
    rows = session.exec(select(CannedReply).order_by(CannedReply.title)).all()
    return [CannedReplyPublic.model_validate(r, from_attributes=True) for r in rows]


def _canned(session: Session, reply_id: int) -> CannedReply:
    row = session.get(CannedReply, reply_id)
    if row is None:
        raise accounts.NotFound()
    return row


def _unique_title(session: Session, title: str, except_id: int | None = None) -> None:
    other = session.exec(select(CannedReply).where(CannedReply.title == title)).first()
    if other is not None and other.id != except_id:
        raise actions.ActionError("同じ題名の定型文があります。", "duplicate_title")


def create_canned_reply(body: CannedReplyCreate, session: SessionDep, actor: CurrentActor) -> CannedReplyPublic:
    """Adds a canned reply."""
    _unique_title(session, body.title)
    row = CannedReply(title=body.title, body=body.body, updated_by=actor.id)
    session.add(row)
    session.flush()
    actor.audit(session, "canned.create", f"canned:{row.id}")
    session.commit()
    return CannedReplyPublic.model_validate(row, from_attributes=True)


def update_canned_reply(reply_id: DbId, body: CannedReplyUpdate, session: SessionDep, actor: CurrentActor) -> CannedReplyPublic:
    """Edits a canned reply."""
    row = _canned(session, reply_id)
    if body.title is not None:
        _unique_title(session, body.title, row.id)
        row.title = body.title
    if body.body is not None:
        row.body = body.body
    row.updated_by, row.updated_at = actor.id, now()
    session.add(row)
    actor.audit(session, "canned.update", f"canned:{row.id}")
    session.commit()
    return CannedReplyPublic.model_validate(row, from_attributes=True)


def delete_canned_reply(reply_id: DbId, session: SessionDep, actor: CurrentActor) -> OkPublic:
    """Deletes a canned reply."""
    row = _canned(session, reply_id)
    session.delete(row)
    actor.audit(session, "canned.delete", f"canned:{reply_id}")
    session.commit()
    return OkPublic()


# --- office hours --------------------------------------------------------------------------------

def read_hours(session: SessionDep) -> OfficeHoursPublic:
    """Office hours, closed days and holiday rule (JST)."""
    return OfficeHoursPublic.model_validate(hours.load_hours(session).model_dump())


def update_hours(body: OfficeHoursUpdate, session: SessionDep, actor: CurrentActor) -> OfficeHoursPublic:
    """Replaces the office hours."""
    hours.do_save_hours(session, body, staff_id=actor.id)
    actor.audit(session, "settings.hours", "settings:hours")
    session.commit()
    return OfficeHoursPublic.model_validate(body.model_dump())


def read_hours_status(session: SessionDep) -> HoursStatusPublic:
    """Whether the office is open now and when it opens next."""
    st = hours.status(hours.load_hours(session))
    return HoursStatusPublic(open_now=st.open_now, reason=st.reason, holiday_name=st.holiday_name, closes_at=st.closes_at, next_open=st.next_open)


ROUTES: list[RouteSpec] = [
    RouteSpec("GET", "/canned-replies", read_canned_replies, STAFF_OR_ADMIN),
    RouteSpec("POST", "/canned-replies", create_canned_reply, ADMIN),
    RouteSpec("PATCH", "/canned-replies/{reply_id}", update_canned_reply, ADMIN),
    RouteSpec("DELETE", "/canned-replies/{reply_id}", delete_canned_reply, ADMIN),
    RouteSpec("GET", "/hours/status", read_hours_status, STAFF_OR_ADMIN),
    RouteSpec("GET", "/settings/hours", read_hours, ADMIN),
    RouteSpec("PUT", "/settings/hours", update_hours, ADMIN),
]
router = build_router(ROUTES)
