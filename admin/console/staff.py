"""The staff console: the inbox (queue) and one conversation (the actions are in ``staff_actions``).

Thin routes (STYLE.md §3): each parses the form, gets the ticket through the gatekeeper
``handoff.actions.access_ticket_by_id`` (inside every ``check_*``), calls the same
``check_*``/``do_*`` functions as the JSON API, and commits once. Every page that shows a
conversation writes an audit row (``ticket.read``) in the same transaction as the read.

Staff see a pseudonym and the channel type only: the views come from ``handoff.views``, whose
Public schemas carry no platform id, profile name or hash.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlmodel import Session, col, select

from admin import canned_text
from admin.auth import find_session
from admin.console import NavItem, StaffPage, render, templates
from admin.deps import SessionDep, SignedIn, actor_for, client_ip
from admin.models import StaffUser
from admin.params import DbId
from core import db, rate_limit
from core.clock import JST
from core.models import Conversation, Message, OutboxMessage
from handoff import actions, views
from handoff.actions import ActionError, Actor
from handoff.events import event_stream
from handoff.hours import load_hours
from handoff.models import CannedReply, CrisisOutcome, Outcome

router = APIRouter(prefix="/console", include_in_schema=False)
NAV = [NavItem("受付箱", "/console/inbox", frozenset({"staff"}), order=10)]

TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates" / "console" / "staff"

# The longest message one send may carry, per channel (what the reply box counts against).
# LINE counts UTF-16 code units (5,000 per text message); Telegram 4,096 UTF-16 units after
# entity parsing; our web chat caps a bubble at 2,000 characters.
CHANNEL_LIMITS = {"line": 5000, "telegram": 4096, "web": 2000, "terminal": 2000}
CHANNEL_LABELS = {"line": "LINE", "telegram": "Telegram", "web": "ウェブ", "terminal": "端末"}
UTF16_CHANNELS = {"line", "telegram"}
VIEW_LABELS = {"waiting": "待っている相談", "mine": "わたしの担当", "open": "対応中すべて", "closed_today": "今日終わった相談", "callback": "折り返し電話"}
CALLBACK_LABELS = {"am": "午前(受付開始〜12時)", "pm": "午後(12時〜受付終了)", "any": "どちらでもよい"}
CRISIS_OUTCOME_LABELS = {o.name: o.value for o in CrisisOutcome}
STATE_LABELS = {"waiting": "待ち", "claimed": "対応中", "closed": "終了", "returned_to_bot": "ボットに戻した"}
DELIVERY_LABELS = {
    "pending": "送信待ち", "sending": "送信中", "delivered": "届きました", "failed": "届きませんでした", "dead": "届きませんでした",
    "unconfirmed": "届いたか確認できません", "cancelled": "送りませんでした(記録の削除)",
}
CONSENT_A_LABELS = {"given": "記録に同意あり", "declined": "記録に同意なし(内容は保存していません)", "none": "同意の確認前"}
CONSENT_B_LABELS = {"not_asked": "未確認", "requested": "返事待ち", "given": "同意あり", "declined": "同意なし"}


def _jst(value, fmt: str = "%H:%M") -> str:
    """A stored UTC time as Japanese wall-clock time (what staff read)."""
    return value.astimezone(JST).strftime(fmt) if value else ""


templates.env.filters.setdefault("jst", _jst)


def message_length(text: str, channel: str) -> int:
    """The length the channel counts: UTF-16 units for LINE/Telegram, characters for the web."""
    if channel in UTF16_CHANNELS:
        return len(text.encode("utf-16-le")) // 2
    return len(text)


# --- helpers -----------------------------------------------------------------------------------

def staff_names(session: Session):
    """A ``Names`` function for handoff.views: staff id → display name (never anything else)."""
    names = {u.id: (u.display_name or u.username) for u in session.exec(select(StaffUser)).all()}
    return lambda staff_id: names.get(staff_id) if staff_id is not None else None


def _entry_titles(request: Request):
    kb = request.app.state.runtime.knowledge.kb

    def title(entry_id: str) -> str | None:
        entry = kb.get(entry_id)
        return entry.title if entry else None

    return title


def _actor(request: Request, login: SignedIn) -> Actor:
    return actor_for(login.user, client_ip(request))


def _render(request: Request, login: SignedIn, name: str, ctx: dict, status: int = 200) -> HTMLResponse:
    return render(request, f"console/staff/{name}", login, status_code=status, **ctx)


def _back(ticket_id: int, note: str | None = None) -> RedirectResponse:
    # after done=claimed and done=sent, staff.js puts the focus in the reply box (no #fragment:
    # Chrome's scroll-to-fragment would take the focus away again)
    url = f"/console/tickets/{ticket_id}" + (f"?done={note}" if note else "")
    return RedirectResponse(url, status_code=303)


def _common(view: str | None = None) -> dict:
    return {
        "view_labels": VIEW_LABELS,
        "state_labels": STATE_LABELS,
        "channel_labels": CHANNEL_LABELS,
        "current_view": view,
    }


# --- inbox ---------------------------------------------------------------------------------------

def _queue(session: Session, actor: Actor, view: str):
    view = view if view in views.QUEUE_VIEWS else "waiting"
    return view, views.list_queue(session, actor, view, staff_names(session))


def _counts(session: Session, actor: Actor) -> dict[str, int]:
    names = staff_names(session)
    return {v: len(views.list_queue(session, actor, v, names)) for v in VIEW_LABELS}


@router.get("/inbox", response_class=HTMLResponse, summary="Inbox (staff)")
def inbox_page(request: Request, session: SessionDep, login: StaffPage, view: str = "waiting"):
    """The queue: crisis first, then urgent, then the longest-waiting; updates itself live."""
    actor = _actor(request, login)
    view, tickets = _queue(session, actor, view)
    counts = _counts(session, actor)
    actor.audit(session, "queue.read", detail=view)
    session.commit()
    throttling = rate_limit.web_chat.recent()  # a burst on the web chat is being held back
    return _render(request, login, "inbox.html", {**_common(view), "tickets": tickets, "counts": counts, "title": "受付箱", "throttling": throttling})


@router.get("/inbox/rows", response_class=HTMLResponse, summary="Inbox rows (staff, htmx)")
def inbox_rows(request: Request, session: SessionDep, login: StaffPage, view: str = "waiting"):
    """The queue table alone, for the live refresh after a server-sent event."""
    actor = _actor(request, login)
    view, tickets = _queue(session, actor, view)
    counts = _counts(session, actor)
    return _render(request, login, "_rows.html", {**_common(view), "tickets": tickets, "counts": counts})


@router.get("/events", summary="Server-sent events for the inbox (staff)")
async def events(request: Request, session: SessionDep, login: StaffPage):
    """Ids and flags only (never text): new tickets, claims, user messages, failed deliveries."""
    token = login.token
    session.close()  # why: a stream lives for hours; it must not hold a database transaction

    def still_allowed() -> bool:
        # why the session and not only the account: logout or disabling ends the stream too
        with Session(db.engine()) as s:
            found = find_session(s, token)
            s.commit()
            return found is not None and "staff" in found[1].role_set

    return StreamingResponse(
        event_stream(request.is_disconnected, still_allowed),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/staff.js", include_in_schema=False)
def staff_js(_login: StaffPage):
    """The inbox/conversation script (a file, so the console's CSP can forbid inline scripts)."""
    return Response((TEMPLATE_DIR / "staff.js").read_text(encoding="utf-8"), media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@router.get("/staff.css", include_in_schema=False)
def staff_css(_login: StaffPage):
    return Response((TEMPLATE_DIR / "staff.css").read_text(encoding="utf-8"), media_type="text/css", headers={"Cache-Control": "no-cache"})


# --- one conversation ----------------------------------------------------------------------------

def _delivery_states(session: Session, conversation_id: int) -> dict[int, str]:
    """Message id → outbox state for staff replies (delivered / failed / pending …)."""
    rows = session.exec(
        select(Message.id, OutboxMessage.state)
        .join(OutboxMessage, col(OutboxMessage.id) == col(Message.outbox_id))
        .where(Message.conversation_id == conversation_id, Message.sender == "staff")
    ).all()
    return {mid: state for mid, state in rows if mid is not None}


def _filled_canned(request: Request, session: Session) -> list[CannedReply]:
    """Canned replies as they will be sent: the office's phone number and hours filled in."""
    phone, hours = _office_facts(request, session)
    return [CannedReply(id=c.id, title=c.title, body=canned_text.fill(c.body, phone=phone, hours=hours))
            for c in session.exec(select(CannedReply).order_by(CannedReply.title)).all()]


def _office_facts(request: Request, session: Session) -> tuple[str | None, str]:
    settings = getattr(request.app.state, "settings", None)
    return getattr(settings, "office_phone", None), canned_text.hours_text(load_hours(session))


def _colleagues(session: Session, actor: Actor) -> list[StaffUser]:
    users = session.exec(select(StaffUser).where(StaffUser.disabled == False, StaffUser.id != actor.id)).all()  # noqa: E712
    return [u for u in users if "staff" in u.role_set]


def _ticket_page(request: Request, login: SignedIn, session: Session, actor: Actor, ticket_id: int, *, error: ActionError | None = None, draft: str = "") -> HTMLResponse:
    ticket = actions.access_ticket_by_id(session, actor, ticket_id)
    detail = views.detail(session, ticket, staff_names(session), _entry_titles(request))
    conv = session.get(Conversation, ticket.conversation_id)
    channel = detail.ticket.channel
    actions.mark_read(session, actor, ticket)
    actor.audit(session, "ticket.read", f"ticket:{ticket.id}")
    session.commit()
    ctx = {
        **_common(),
        "title": f"{detail.ticket.pseudonym} の相談",
        "d": detail,
        "t": detail.ticket,
        "mine": ticket.assignee_id == actor.id and ticket.state == "claimed",
        "consent_version": conv.consent_version if conv else None,
        "delivery": _delivery_states(session, ticket.conversation_id),
        "delivery_labels": DELIVERY_LABELS,
        "consent_a_labels": CONSENT_A_LABELS,
        "consent_b_labels": CONSENT_B_LABELS,
        "canned": _filled_canned(request, session),
        "colleagues": _colleagues(session, actor),
        "outcomes": [o.value for o in Outcome],
        "callback_labels": CALLBACK_LABELS,
        "crisis_outcome_labels": CRISIS_OUTCOME_LABELS,
        "limit": CHANNEL_LIMITS.get(channel, 2000),
        "utf16": channel in UTF16_CHANNELS,
        "error": error,
        "draft": draft,
        "done": request.query_params.get("done"),
    }
    return _render(request, login, "ticket.html", ctx, status=error.status if error else 200)


def _refused(request: Request, login: SignedIn, session: Session, actor: Actor, ticket_id: int, exc: ActionError, draft: str = "") -> HTMLResponse:
    """Shows the conversation again with the reason the action was refused."""
    session.rollback()
    if isinstance(exc, actions.TicketNotFound):
        return _render(request, login, "not_found.html", {**_common(), "title": "見つかりません"}, status=404)
    return _ticket_page(request, login, session, actor, ticket_id, error=exc, draft=draft)


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse, summary="One conversation (staff)")
def ticket_page(request: Request, ticket_id: DbId, session: SessionDep, login: StaffPage):
    """The transcript, intake, consent state and the actions; the read is audited."""
    actor = _actor(request, login)
    try:
        return _ticket_page(request, login, session, actor, ticket_id)
    except actions.TicketNotFound as exc:
        return _refused(request, login, session, actor, ticket_id, exc)


@router.get("/tickets/{ticket_id}/turns", response_class=HTMLResponse, summary="The transcript alone (staff, live refresh)")
def ticket_turns(request: Request, ticket_id: DbId, session: SessionDep, login: StaffPage):
    """The conversation's turns, fetched by staff.js when the user writes; audited like the page."""
    actor = _actor(request, login)
    try:
        ticket = actions.access_ticket_by_id(session, actor, ticket_id)
    except actions.TicketNotFound:
        return HTMLResponse("", status_code=404)
    detail = views.detail(session, ticket, staff_names(session), _entry_titles(request))
    actions.mark_read(session, actor, ticket)
    actor.audit(session, "ticket.read", f"ticket:{ticket.id}", detail="live")
    session.commit()
    ctx = {"d": detail, "t": detail.ticket, "delivery": _delivery_states(session, ticket.conversation_id), "delivery_labels": DELIVERY_LABELS}
    return _render(request, login, "_turns.html", ctx)


@router.get("/tickets/{ticket_id}/messages/{message_id}/state", response_class=HTMLResponse, summary="Delivery state of a staff reply (staff, htmx)")
def reply_state(request: Request, ticket_id: DbId, message_id: DbId, session: SessionDep, login: StaffPage):
    """The badge of one staff reply; it polls itself until the reply is delivered or failed."""
    actor = _actor(request, login)
    try:
        ticket = actions.access_ticket_by_id(session, actor, ticket_id)
    except actions.TicketNotFound:
        return HTMLResponse("", status_code=404)
    state = _delivery_states(session, ticket.conversation_id).get(message_id)
    if state is None:
        return HTMLResponse("", status_code=404)
    return _render(request, login, "_delivery.html", {"ticket_id": ticket.id, "message_id": message_id, "state": state, "delivery_labels": DELIVERY_LABELS})
