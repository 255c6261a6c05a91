"""The admin JSON API under ``/admin/api``: login, the hand-off queue, settings, accounts, audit.

Every route is declared once in :data:`ROUTES` with the roles that may call it; ``install``
builds the router from that table only, so a route without a declaration cannot exist
(deny by default, checked by tests/test_admin_routes.py). Routes are thin: parse, call one
``check_*`` then one ``do_*``, commit, return an explicit Public schema.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, select

from admin import accounts, audit, disclosure
from admin.accounts import Throttled
from admin.auth import CSRF_COOKIE, SESSION_COOKIE, csrf_token_for, find_session
from admin.deps import (
    CurrentActor,
    LoginDep,
    SessionDep,
    SignedInDep,
    actor_for,
    client_ip,
    require_roles,
    same_origin,
    signed_in,
    signed_in_any_stage,
)
from admin.models import (
    AuditEventPublic,
    Role,
    SessionStage,
    StaffUser,
    StaffUserCreate,
    StaffUserCreated,
    StaffUserPublic,
    StaffUserUpdate,
)
from admin.params import DbId, DbIdField, OptionalDbIdQuery, PageLimit, PageOffset
from core import db
from core.clock import now
from core.models import ChannelUser
from core.settings import Settings
from handoff import actions, hours, views
from handoff.events import event_stream, install_webhook
from handoff.models import (
    CannedReply,
    CannedReplyCreate,
    CannedReplyPublic,
    CannedReplyUpdate,
    OfficeHoursPublic,
    OfficeHoursUpdate,
    Outcome,
)

PREFIX = "/admin/api"


# --- request and response schemas -------------------------------------------------------------


class Request_(BaseModel):
    """Base of every request body: unknown fields are an error (no mass assignment)."""

    model_config = ConfigDict(extra="forbid")


class LoginRequest(Request_):
    username: str = Field(max_length=80)
    password: str = Field(max_length=256)


class CodeRequest(Request_):
    code: str = Field(max_length=10)


class NewPasswordRequest(Request_):
    new_password: str = Field(max_length=256)


class ChangePasswordRequest(Request_):
    current_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256)


class ReplyRequest(Request_):
    text: str = Field(min_length=1, max_length=2000)


class NoteRequest(Request_):
    body: str = Field(min_length=1, max_length=4000)


class TagsRequest(Request_):
    tags: list[str] = Field(max_length=20)


class CloseRequest(Request_):
    outcome: Outcome
    tell_user: bool = True


class ReturnRequest(Request_):
    tell_user: bool = True


class TransferRequest(Request_):
    staff_id: DbIdField


class CrisisOutcomeRequest(Request_):
    outcome: str = Field(pattern="^(advised_emergency|reached)$")


class OrganisationRequest(Request_):
    organisation: str = Field(min_length=1, max_length=100)


class LoginStepPublic(BaseModel):
    next: str  # totp | change_password | enroll_totp | done
    csrf_token: str


class MePublic(BaseModel):
    user: StaffUserPublic
    csrf_token: str


class OkPublic(BaseModel):
    ok: bool = True


class ReplyPublic(BaseModel):
    outbox_id: str


class NoteCreatedPublic(BaseModel):
    id: int


class ColleaguePublic(BaseModel):
    id: int
    display_name: str


class EnrolmentPublic(BaseModel):
    secret: str  # for typing into the app by hand when the QR cannot be scanned
    otpauth_uri: str
    qr_svg_data_url: str


class HoursStatusPublic(BaseModel):
    open_now: bool
    reason: str
    holiday_name: str | None
    closes_at: datetime | None
    next_open: datetime | None


class ChannelUserPublic(BaseModel):
    id: int
    pseudonym: str
    channel: str
    active: bool
    created_at: datetime


class OneTimePasswordPublic(BaseModel):
    one_time_password: str


# --- helpers -----------------------------------------------------------------------------------

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


def _names(session: Session) -> views.Names:
    cache: dict[int, str | None] = {}

    def name(staff_id: int | None) -> str | None:
        if staff_id is None:
            return None
        if staff_id not in cache:
            user = session.get(StaffUser, staff_id)
            cache[staff_id] = (user.display_name or user.username) if user else None
        return cache[staff_id]

    return name


def _titles(request: Request) -> Callable[[str], str | None]:
    def title(entry_id: str) -> str | None:
        try:
            entry = request.app.state.runtime.knowledge.kb.get(entry_id)
            return entry.title if entry else None
        except Exception:
            return None

    return title


def _ip(request: Request) -> str:
    return client_ip(request)


# --- login ---------------------------------------------------------------------------------------

def login(body: LoginRequest, request: Request, response: Response, session: SessionDep) -> LoginStepPublic:
    """Step 1 of signing in: username and password. Starts a short partial session."""
    try:
        _user, token, stage = accounts.do_login_password(session, username=body.username, password=body.password, ip=_ip(request))
    except actions.ActionError:
        session.commit()  # why: the failed attempt and its audit row must be kept
        raise
    session.commit()
    return LoginStepPublic(next=_STEP_NEXT[stage], csrf_token=_set_session_cookies(response, token))


def login_totp(body: CodeRequest, request: Request, response: Response, session: SessionDep, login: LoginDep) -> LoginStepPublic:
    """Step 2: the 6-digit code from the authenticator app (each code works once)."""
    try:
        token = accounts.do_login_totp(session, login.row, login.user, body.code, ip=_ip(request))
    except actions.ActionError:
        session.commit()
        raise
    session.commit()
    return LoginStepPublic(next="done", csrf_token=_set_session_cookies(response, token))


def login_new_password(body: NewPasswordRequest, request: Request, response: Response, session: SessionDep, login: LoginDep) -> LoginStepPublic:
    """First login: replace the one-time password (≥ 12 characters, not a common one)."""
    token, stage = accounts.do_first_password(session, login.row, login.user, body.new_password, ip=_ip(request))
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
        token = accounts.do_finish_enrolment(session, login.row, login.user, body.code, ip=_ip(request))
    except actions.ActionError:
        session.commit()
        raise
    session.commit()
    return LoginStepPublic(next="done", csrf_token=_set_session_cookies(response, token))


def logout(request: Request, response: Response, session: SessionDep, login: LoginDep) -> OkPublic:
    """Ends this session at once (the cookie stops working on the next request)."""
    session.delete(login.row)
    audit.record(session, action="logout", actor_id=login.user.id, actor_name=login.user.username, ip=_ip(request))
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


# --- the queue -----------------------------------------------------------------------------------

QueueView = Annotated[str, Query(pattern="^(open|waiting|mine|closed_today)$")]


def read_queue(session: SessionDep, actor: CurrentActor, view: QueueView = "open") -> list[views.TicketSummaryPublic]:
    """The queue: crisis first, then urgent, then longest waiting. No message text here."""
    return views.list_queue(session, actor, view, _names(session))


def read_ticket(ticket_id: DbId, request: Request, session: SessionDep, actor: CurrentActor) -> views.TicketDetailPublic:
    """One ticket with its transcript, intake and notes (an audited read)."""
    ticket = actions.access_ticket_by_id(session, actor, ticket_id)
    actions.mark_read(session, actor, ticket)
    actor.audit(session, "ticket.read", f"ticket:{ticket.id}")
    result = views.detail(session, ticket, _names(session), _titles(request))
    session.commit()
    return result


def claim_ticket(ticket_id: DbId, session: SessionDep, actor: CurrentActor) -> views.TicketSummaryPublic:
    """Takes a waiting ticket; 409 when someone else was faster."""
    ticket = actions.check_claim_ticket(session, actor, ticket_id)
    actions.do_claim_ticket(session, actor, ticket)
    session.commit()
    return views.summary(session, ticket, _names(session))


def release_ticket(ticket_id: DbId, session: SessionDep, actor: CurrentActor) -> views.TicketSummaryPublic:
    """Puts a ticket you hold back in the queue."""
    ticket = actions.access_ticket_by_id(session, actor, ticket_id)
    actions.do_release_ticket(session, actor, ticket)
    session.commit()
    return views.summary(session, ticket, _names(session))


def transfer_ticket(ticket_id: DbId, body: TransferRequest, request: Request, session: SessionDep, actor: CurrentActor) -> views.TicketSummaryPublic:
    """Hands a ticket you hold to a colleague with the staff role."""
    colleague = accounts.colleague_actor(session, body.staff_id, lambda u: actor_for(u, None))
    ticket = actions.check_transfer_ticket(session, actor, ticket_id, colleague)
    actions.do_transfer_ticket(session, actor, ticket, colleague)
    session.commit()
    return views.summary(session, ticket, _names(session))


def reply_ticket(ticket_id: DbId, body: ReplyRequest, session: SessionDep, actor: CurrentActor) -> ReplyPublic:
    """Sends your reply to the user's channel (through the outbox)."""
    ticket = actions.check_reply(session, actor, ticket_id, body.text)
    outbox_id = actions.do_reply(session, actor, ticket, body.text)
    session.commit()
    return ReplyPublic(outbox_id=outbox_id)


def add_note(ticket_id: DbId, body: NoteRequest, session: SessionDep, actor: CurrentActor) -> NoteCreatedPublic:
    """Adds a private note (never sent to the user)."""
    ticket = actions.access_ticket_by_id(session, actor, ticket_id)
    note = actions.do_add_note(session, actor, ticket, body.body)
    session.commit()
    return NoteCreatedPublic(id=note.id)


def set_tags(ticket_id: DbId, body: TagsRequest, session: SessionDep, actor: CurrentActor) -> views.TicketSummaryPublic:
    """Replaces the ticket's tags."""
    ticket = actions.access_ticket_by_id(session, actor, ticket_id)
    actions.do_set_tags(session, actor, ticket, body.tags)
    session.commit()
    return views.summary(session, ticket, _names(session))


def close_ticket(ticket_id: DbId, body: CloseRequest, session: SessionDep, actor: CurrentActor) -> views.TicketSummaryPublic:
    """Closes a ticket you hold with an outcome code; the bot answers the user again."""
    ticket = actions.check_close_ticket(session, actor, ticket_id)
    actions.do_close_ticket(session, actor, ticket, body.outcome, tell_user=body.tell_user)
    session.commit()
    return views.summary(session, ticket, _names(session))


def return_to_bot(ticket_id: DbId, body: ReturnRequest, session: SessionDep, actor: CurrentActor) -> views.TicketSummaryPublic:
    """Ends the hand-off without an outcome: the bot answers the user again."""
    ticket = actions.check_return_to_bot(session, actor, ticket_id)
    actions.do_return_to_bot(session, actor, ticket, tell_user=body.tell_user)
    session.commit()
    return views.summary(session, ticket, _names(session))


def request_consent_b(ticket_id: DbId, body: OrganisationRequest, session: SessionDep, actor: CurrentActor) -> views.TicketSummaryPublic:
    """Asks the user, through the bot, whether the case may be shared with an organisation."""
    ticket = actions.check_request_consent_b(session, actor, ticket_id, body.organisation)
    actions.do_request_consent_b(session, actor, ticket, body.organisation)
    session.commit()
    return views.summary(session, ticket, _names(session))


def record_crisis_outcome(ticket_id: DbId, body: CrisisOutcomeRequest, session: SessionDep, actor: CurrentActor) -> views.TicketSummaryPublic:
    """Records what was done about a crisis ticket (110番・119番をすすめた / 連絡がとれた)."""
    ticket = actions.check_record_crisis_outcome(session, actor, ticket_id, body.outcome)
    actions.do_record_crisis_outcome(session, actor, ticket, body.outcome)
    session.commit()
    return views.summary(session, ticket, _names(session))


def refer_ticket(ticket_id: DbId, body: OrganisationRequest, session: SessionDep, actor: CurrentActor) -> views.ReferralPublic:
    """Records a referral to an organisation; refused without the user's consent B for it."""
    ticket, consent = actions.check_refer_ticket(session, actor, ticket_id, body.organisation)
    ref = actions.do_refer_ticket(session, actor, ticket, consent, body.organisation)
    session.commit()
    return views.ReferralPublic(organisation=ref.organisation, at=ref.created_at, staff_name=_names(session)(actor.id))


def erase_ticket_user(ticket_id: DbId, session: SessionDep, actor: CurrentActor) -> OkPublic:
    """Erases everything the ticket's user wrote (their request, e.g. by phone); audited."""
    ticket = actions.check_erase_ticket_user(session, actor, ticket_id)
    actions.do_erase_ticket_user(session, actor, ticket)
    session.commit()
    return OkPublic()


def read_colleagues(session: SessionDep) -> list[ColleaguePublic]:
    """Enabled staff members a ticket can be transferred to."""
    users = session.exec(select(StaffUser).where(StaffUser.disabled == False).order_by(StaffUser.username)).all()  # noqa: E712
    return [ColleaguePublic(id=u.id, display_name=u.display_name or u.username) for u in users if Role.staff.value in u.role_set]


async def stream_events(request: Request, login: SignedInDep) -> StreamingResponse:
    """Server-sent events for the console: new/urgent tickets, claims, closes (ids only)."""
    token = login.token

    def still_allowed() -> bool:
        with Session(db.engine()) as s:
            return find_session(s, token) is not None

    return StreamingResponse(
        event_stream(request.is_disconnected, still_allowed),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
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


# --- staff accounts ------------------------------------------------------------------------------

def read_staff(session: SessionDep) -> list[StaffUserPublic]:
    """All console accounts."""
    return [StaffUserPublic.of(u) for u in session.exec(select(StaffUser).order_by(StaffUser.username)).all()]


def create_staff(body: StaffUserCreate, request: Request, session: SessionDep, actor: CurrentActor) -> StaffUserCreated:
    """Creates an account; the one-time password is shown only in this response."""
    name = accounts.check_create_staff(session, body.username)
    user, password = accounts.do_create_staff(session, username=name, display_name=body.display_name, roles=body.roles, by=actor.name, by_id=actor.id, ip=_ip(request))
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
    accounts.do_set_disabled(session, user, True, by=actor.name, by_id=actor.id, ip=_ip(request))
    session.commit()
    return StaffUserPublic.of(user)


def enable_staff(staff_id: DbId, request: Request, session: SessionDep, actor: CurrentActor) -> StaffUserPublic:
    """Re-enables an account."""
    user = accounts.check_staff_by_id(session, staff_id)
    accounts.do_set_disabled(session, user, False, by=actor.name, by_id=actor.id, ip=_ip(request))
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


# --- audit log -----------------------------------------------------------------------------------

@dataclass
class AuditFilter:
    actor_id: int | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _audit_filter(
    actor_id: OptionalDbIdQuery = None,
    action: Annotated[str | None, Query(max_length=60)] = None,
    target: Annotated[str | None, Query(max_length=80)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuditFilter:
    return AuditFilter(actor_id, action, target, since, until)


AuditFilterDep = Annotated[AuditFilter, Depends(_audit_filter)]


def read_audit(session: SessionDep, f: AuditFilterDep, limit: PageLimit = 200, offset: PageOffset = 0) -> list[AuditEventPublic]:
    """Audit rows, newest first; ``action`` matches a prefix (e.g. ``ticket.``)."""
    rows = audit.list_events(session, **vars(f), limit=limit, offset=offset)
    return [AuditEventPublic.model_validate(r, from_attributes=True) for r in rows]


def export_audit_csv(session: SessionDep, actor: CurrentActor, f: AuditFilterDep) -> Response:
    """The filtered audit log as CSV (the export itself is audited)."""
    rows = audit.list_events(session, **vars(f), limit=100_000)
    actor.audit(session, "audit.export", None, detail=f"rows:{len(rows)}")
    session.commit()
    return Response(
        audit.to_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="ristapo-audit.csv"', "Cache-Control": "no-store"},
    )


# --- users of the chat: lookup and erasure (admin), disclosure (staff) -----------------------------------

def _channel_user(session: Session, user_id: int) -> ChannelUser:
    user = session.get(ChannelUser, user_id)
    if user is None:
        raise accounts.NotFound()
    return user


def find_users(session: SessionDep, pseudonym: Annotated[str, Query(min_length=4, max_length=20)]) -> list[ChannelUserPublic]:
    """Finds chat users by pseudonym (e.g. 相談者 A7K2 or just A7K2)."""
    code = pseudonym.replace("相談者", "").strip().upper()
    rows = session.exec(select(ChannelUser).where(ChannelUser.pseudonym == f"相談者 {code}")).all()
    return [ChannelUserPublic(id=u.id, pseudonym=u.pseudonym, channel=u.channel, active=u.active, created_at=u.created_at) for u in rows]


def erase_user(user_id: DbId, session: SessionDep, actor: CurrentActor) -> OkPublic:
    """Erases everything a chat user wrote and every note about them (their request); audited."""
    from handoff.erase import do_erase_user

    user = _channel_user(session, user_id)
    do_erase_user(session, user)
    actor.audit(session, "user.erase", f"user:{user.id}")
    session.commit()
    return OkPublic()


def export_user(user_id: DbId, session: SessionDep, actor: CurrentActor) -> JSONResponse:
    """Disclosure (開示): everything stored about one chat user, as JSON (staff only; audited)."""
    user = disclosure.access_user_transcripts(session, actor, user_id)
    data = disclosure.do_export_user(session, actor, user)
    session.commit()
    return disclosure.attachment(data, user)


# --- the route table -----------------------------------------------------------------------------

PUBLIC = "public"  # no session (the first login step only)
LOGIN_STEP = "login-step"  # a session in any login stage
SIGNED_IN = "signed-in"  # any fully signed-in account, whatever its roles
STAFF = (Role.staff,)
ADMIN = (Role.admin,)
STAFF_OR_ADMIN = (Role.staff, Role.admin)

Access = str | tuple[Role, ...]


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    endpoint: Callable[..., Any]
    access: Access


ROUTES: list[RouteSpec] = [
    RouteSpec("POST", "/login", login, PUBLIC),
    RouteSpec("POST", "/login/totp", login_totp, LOGIN_STEP),
    RouteSpec("POST", "/login/password", login_new_password, LOGIN_STEP),
    RouteSpec("GET", "/login/totp-enrolment", login_enrolment, LOGIN_STEP),
    RouteSpec("POST", "/login/totp-enrolment", login_enrolment_confirm, LOGIN_STEP),
    RouteSpec("POST", "/logout", logout, LOGIN_STEP),
    RouteSpec("GET", "/me", read_me, SIGNED_IN),
    RouteSpec("POST", "/me/password", change_my_password, SIGNED_IN),
    # the hand-off queue
    RouteSpec("GET", "/tickets", read_queue, STAFF),
    RouteSpec("GET", "/tickets/{ticket_id}", read_ticket, STAFF),
    RouteSpec("POST", "/tickets/{ticket_id}/claim", claim_ticket, STAFF),
    RouteSpec("POST", "/tickets/{ticket_id}/release", release_ticket, STAFF),
    RouteSpec("POST", "/tickets/{ticket_id}/transfer", transfer_ticket, STAFF),
    RouteSpec("POST", "/tickets/{ticket_id}/reply", reply_ticket, STAFF),
    RouteSpec("POST", "/tickets/{ticket_id}/notes", add_note, STAFF),
    RouteSpec("PUT", "/tickets/{ticket_id}/tags", set_tags, STAFF),
    RouteSpec("POST", "/tickets/{ticket_id}/close", close_ticket, STAFF),
    RouteSpec("POST", "/tickets/{ticket_id}/return-to-bot", return_to_bot, STAFF),
    RouteSpec("POST", "/tickets/{ticket_id}/consent-b", request_consent_b, STAFF),
    RouteSpec("POST", "/tickets/{ticket_id}/referral", refer_ticket, STAFF),
    RouteSpec("POST", "/tickets/{ticket_id}/crisis-outcome", record_crisis_outcome, STAFF),
    RouteSpec("POST", "/tickets/{ticket_id}/erase-user", erase_ticket_user, STAFF),
    RouteSpec("GET", "/colleagues", read_colleagues, STAFF),
    RouteSpec("GET", "/events", stream_events, STAFF),
    RouteSpec("GET", "/canned-replies", read_canned_replies, STAFF_OR_ADMIN),
    RouteSpec("POST", "/canned-replies", create_canned_reply, ADMIN),
    RouteSpec("PATCH", "/canned-replies/{reply_id}", update_canned_reply, ADMIN),
    RouteSpec("DELETE", "/canned-replies/{reply_id}", delete_canned_reply, ADMIN),
    RouteSpec("GET", "/hours/status", read_hours_status, STAFF_OR_ADMIN),
    RouteSpec("GET", "/settings/hours", read_hours, ADMIN),
    RouteSpec("PUT", "/settings/hours", update_hours, ADMIN),
    # accounts, audit, users of the chat
    RouteSpec("GET", "/staff", read_staff, ADMIN),
    RouteSpec("POST", "/staff", create_staff, ADMIN),
    RouteSpec("PATCH", "/staff/{staff_id}", update_staff, ADMIN),
    RouteSpec("POST", "/staff/{staff_id}/disable", disable_staff, ADMIN),
    RouteSpec("POST", "/staff/{staff_id}/enable", enable_staff, ADMIN),
    RouteSpec("POST", "/staff/{staff_id}/reset-totp", reset_staff_totp, ADMIN),
    RouteSpec("POST", "/staff/{staff_id}/reset-password", reset_staff_password, ADMIN),
    RouteSpec("GET", "/audit", read_audit, ADMIN),
    RouteSpec("GET", "/audit.csv", export_audit_csv, ADMIN),
    RouteSpec("GET", "/users", find_users, ADMIN),
    RouteSpec("POST", "/users/{user_id}/erase", erase_user, ADMIN),
    RouteSpec("GET", "/users/{user_id}/export", export_user, STAFF),  # transcripts: staff only
]


def _public_gate(request: Request) -> None:
    # why: the login form has no session yet, so no CSRF token; a cross-site page could
    # still post to it (login CSRF). Browsers send Origin on such posts: refuse foreign ones.
    if request.method not in ("GET", "HEAD") and not same_origin(request):
        raise HTTPException(status_code=403, detail="csrf")


def gate_for(access: Access) -> Callable[..., Any]:
    """The dependency enforcing one route's declared access (deny by default)."""
    if access == PUBLIC:
        return _public_gate
    if access == LOGIN_STEP:
        return signed_in_any_stage
    if access == SIGNED_IN:
        return signed_in
    if isinstance(access, tuple) and access and all(isinstance(r, Role) for r in access):
        return require_roles(*access)
    raise RuntimeError(f"route access {access!r} is not a declaration; refusing to mount")


def roles_of(access: Access) -> list[str]:
    return [r.value for r in access] if isinstance(access, tuple) else [access]


def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["admin"])
    for spec in ROUTES:
        router.add_api_route(
            spec.path,
            spec.endpoint,
            methods=[spec.method],
            dependencies=[Depends(gate_for(spec.access))],
            name=spec.endpoint.__name__,
            openapi_extra={"x-ristapo-access": roles_of(spec.access)},
            description=(spec.endpoint.__doc__ or "") + f"\n\nAccess: {', '.join(roles_of(spec.access))}.",
        )
    return router


async def _action_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, actions.ActionError)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Throttled) else None
    return JSONResponse({"detail": exc.message, "code": exc.code}, status_code=exc.status, headers=headers)


def install(app: FastAPI, settings: Settings) -> None:
    """Mounts the admin API and the staff webhook (called by bot/app.py)."""
    app.include_router(build_router())
    app.add_exception_handler(actions.ActionError, _action_error)
    app.state.admin_routes = ROUTES
    install_webhook(settings.staff_webhook_url, settings.public_base_url.rstrip("/") + "/console")
