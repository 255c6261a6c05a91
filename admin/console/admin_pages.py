"""The admin console: dashboard, accounts, audit log (the settings pages are in ``admin_settings``).

Thin routes over the SAME functions as the JSON API (``admin.api``): each form is parsed into
the API's request schema and handed to the API's function, which validates, writes the audit
row and commits. Only the consent text and the retention period, which the API does not
cover, have their ``do_*`` functions here, with the same rules (audit in the same transaction).
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session, col, select

from admin import audit
from admin.api import audit as audit_api
from admin.api import staff as staff_api
from admin.audit_labels import action_label
from admin.console import AdminPage, NavItem, render, templates
from admin.console.charts import PALETTE, Series, horizontal_bars, stacked_bars
from admin.console.refusals import refused_with
from admin.console.stats import CHANNEL_LABELS, build_dashboard
from admin.deps import SessionDep, SignedIn, actor_for, client_ip
from admin.models import StaffUser, StaffUserCreate, StaffUserPublic, StaffUserUpdate
from admin.params import MAX_DB_ID, MAX_OFFSET, DbId
from core.clock import JST, now
from handoff.actions import ActionError, Actor

router = APIRouter(prefix="/console/admin", include_in_schema=False)
NAV = [NavItem("管理", "/console/admin", frozenset({"admin"}), order=30)]

SECTIONS = [
    ("/console/admin", "ダッシュボード"),
    ("/console/admin/accounts", "アカウント"),
    ("/console/admin/hours", "受付時間・休み"),
    ("/console/admin/canned", "定型文"),
    ("/console/admin/consent", "同意の説明文"),
    ("/console/admin/retention", "保存期間"),
    ("/console/admin/audit", "監査ログ"),
]
ROLE_CHOICES = [("staff", "受付(相談への対応)"), ("editor", "知識ベースの編集"), ("admin", "管理(アカウント・設定・監査ログ)")]
AUDIT_PAGE = 100
# why an upper bound: the page number becomes an SQL OFFSET (page * AUDIT_PAGE); negatives still mean page 0
AuditPageNumber = Annotated[int, Query(le=MAX_OFFSET // AUDIT_PAGE)]
ACTION_PREFIXES = [
    ("", "すべて"), ("login.", "ログイン"), ("ticket.read", "相談を開いた"), ("ticket.", "相談の操作"), ("queue.", "受付箱を開いた"),
    ("staff.", "アカウント"), ("settings.", "設定"), ("canned.", "定型文"), ("consent.", "同意文"), ("kb.", "知識ベース"),
    ("user.", "利用者データ(削除・開示)"), ("audit.", "監査ログ"), ("authz.", "権限のない操作"),
]


TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates" / "console" / "admin"
templates.env.filters.setdefault("jst", lambda value, fmt="%Y-%m-%d %H:%M": value.astimezone(JST).strftime(fmt) if value else "")
templates.env.filters.setdefault("action_label", action_label)


def _actor(request: Request, login: SignedIn) -> Actor:
    return actor_for(login.user, client_ip(request))


def _page(request: Request, login: SignedIn, template: str, *, status: int = 200, **ctx) -> HTMLResponse:
    return render(request, f"console/admin/{template}", login, status_code=status, sections=SECTIONS, **ctx)


def _errors(exc: ValidationError) -> str:
    """A pydantic error as one short Japanese-friendly line (field: reason)."""
    parts = []
    for e in exc.errors():
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
        parts.append(f"{where}: {e.get('msg', '')}" if where else e.get("msg", ""))
    return "入力を確認してください。" + " / ".join(parts)


def _redirect(url: str, flash: str) -> RedirectResponse:
    return RedirectResponse(f"{url}?ok={flash}", status_code=303)


FLASH = {
    "created": "作成しました。", "saved": "保存しました。", "deleted": "削除しました。", "disabled": "無効にしました。ログイン中の画面もすぐに使えなくなります。",
    "enabled": "有効にしました。", "totp": "二段階認証をリセットしました。次のログインで登録し直します。", "published": "新しい版を公開しました。利用者には次のメッセージのときに、もう一度同意をたずねます。",
}


def _flash(request: Request) -> str | None:
    return FLASH.get(request.query_params.get("ok", ""))


@router.get("/admin.css")
def admin_css(_login: AdminPage) -> Response:
    return Response((TEMPLATE_DIR / "admin.css").read_text(encoding="utf-8"), media_type="text/css", headers={"Cache-Control": "no-cache"})


# --- dashboard ---------------------------------------------------------------------------------

@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, session: SessionDep, login: AdminPage, days: int = 14):
    """Conversations per day and channel, hand-offs, waiting times, abstention rate, top entries."""
    days = 30 if days >= 30 else 14
    d = build_dashboard(session, days=days)
    labels = [f"{x.month}/{x.day}" for x in d.days]
    conv_series = [Series(CHANNEL_LABELS.get(ch, ch), [float(v) for v in vals], PALETTE.get(ch, "#777")) for ch, vals in sorted(d.conversations.items())]
    kb = request.app.state.runtime.knowledge.kb
    top = [((kb.get(e).title if kb.get(e) else e), float(n)) for e, n in d.top_entries]
    charts = {
        "conversations": stacked_bars(labels, conv_series, title="1日ごとの会話の数(経路別)", unit="件"),
        "handoffs": stacked_bars(
            labels,
            [Series("緊急", [float(v) for v in d.crisis], "#c62828"), Series("それ以外", [float(h - c) for h, c in zip(d.handoffs, d.crisis, strict=False)], "#5b6abf")],
            title="1日ごとの職員への引き継ぎ", unit="件",
        ),
        "waits": horizontal_bars([(label, float(n)) for label, n in d.wait_buckets], title="担当がつくまでの待ち時間", unit="件", colour="#e07b39"),
        "top": horizontal_bars(top, title="よく使われた回答(知識ベースの項目)", unit="回", colour="#2a9d8f"),
    }
    return _page(request, login, "dashboard.html", title="ダッシュボード", d=d, charts=charts, labels=labels, days=days)


# --- accounts ------------------------------------------------------------------------------------

UNUSED_DAYS = 90  # an account nobody signed in with for this long is flagged for review


def last_logins(session: Session) -> dict[int, datetime]:
    """Staff id → the time of their last successful sign-in (from the audit log)."""
    from sqlalchemy import func

    from admin.models import AuditEvent

    rows = session.exec(select(col(AuditEvent.actor_id), func.max(col(AuditEvent.at))).where(col(AuditEvent.action) == "login.ok").group_by(col(AuditEvent.actor_id))).all()
    return {actor: at for actor, at in rows if actor is not None}


def unused_since(last_login: datetime | None, created_at: datetime, today: datetime) -> bool:
    """True when the account has not been signed in with for UNUSED_DAYS (or never, and is that old)."""
    seen = last_login or created_at
    if seen.tzinfo is None:
        seen = seen.replace(tzinfo=UTC)
    return today - seen > timedelta(days=UNUSED_DAYS)


def _accounts_page(request: Request, session: Session, login: SignedIn, *, status: int = 200, error: str | None = None, one_time: tuple[str, str] | None = None, form: dict | None = None) -> HTMLResponse:
    users = [StaffUserPublic.of(u) for u in session.exec(select(StaffUser).order_by(StaffUser.username)).all()]
    logins = last_logins(session)
    today = now()
    unused = {u.id for u in users if not u.disabled and unused_since(logins.get(u.id), u.created_at, today)}
    return _page(request, login, "accounts.html", status=status, title="アカウント", users=users, role_choices=ROLE_CHOICES,
                 error=error, one_time=one_time, form=form or {}, ok=_flash(request), me=login.user.id,
                 last_logins=logins, unused=unused, unused_days=UNUSED_DAYS)


def _accounts_refused(exc: ActionError, *, request: Request, session: Session, login: SignedIn, **_route) -> HTMLResponse:
    """The refusal page of the account actions: the accounts again, with the reason."""
    session.rollback()
    return _accounts_page(request, session, login, status=exc.status, error=exc.message)


def _create_account_refused(exc: ActionError, *, request: Request, session: Session, login: SignedIn, username: str, display_name: str, roles: list[str]) -> HTMLResponse:
    """As :func:`_accounts_refused`, keeping the new account's form as typed."""
    session.rollback()
    form = {"username": username, "display_name": display_name, "roles": roles}
    return _accounts_page(request, session, login, status=exc.status, error=exc.message, form=form)


@router.get("/accounts", response_class=HTMLResponse)
def accounts_page(request: Request, session: SessionDep, login: AdminPage):
    """Every console account, its roles and state; a form to add one."""
    return _accounts_page(request, session, login)


@router.post("/accounts", response_class=HTMLResponse)
@refused_with(_create_account_refused)
def create_account(request: Request, session: SessionDep, login: AdminPage, username: str = Form(""), display_name: str = Form(""), roles: list[str] = Form([])):
    """Creates an account and shows its one-time password once."""
    form = {"username": username, "display_name": display_name, "roles": roles}
    try:
        body = StaffUserCreate(username=username.strip(), display_name=display_name.strip(), roles=roles)
        created = staff_api.create_staff(body, request, session, _actor(request, login))
    except ValidationError as exc:
        session.rollback()
        return _accounts_page(request, session, login, status=422, error=_errors(exc), form=form)
    return _accounts_page(request, session, login, one_time=(created.user.username, created.one_time_password))


@router.post("/accounts/{staff_id}/roles", response_class=HTMLResponse)
@refused_with(_accounts_refused)
def set_roles(request: Request, staff_id: DbId, session: SessionDep, login: AdminPage, roles: list[str] = Form([]), display_name: str = Form("")):
    """Changes roles (and the display name); the account's sessions end so new rights apply."""
    try:
        body = StaffUserUpdate(roles=roles, display_name=display_name.strip() or None)
        staff_api.update_staff(staff_id, body, session, _actor(request, login))
    except ValidationError as exc:
        session.rollback()
        return _accounts_page(request, session, login, status=422, error=_errors(exc))
    return _redirect("/console/admin/accounts", "saved")


def _account_action(request: Request, session: Session, login: SignedIn, staff_id: int, fn, flash: str):
    result = fn()
    if flash == "password":
        user = session.get(StaffUser, staff_id)
        assert user is not None  # fn() has just reset this account's password
        return _accounts_page(request, session, login, one_time=(user.username, result.one_time_password))
    return _redirect("/console/admin/accounts", flash)


@router.post("/accounts/{staff_id}/disable", response_class=HTMLResponse)
@refused_with(_accounts_refused)
def disable_account(request: Request, staff_id: DbId, session: SessionDep, login: AdminPage):
    return _account_action(request, session, login, staff_id, lambda: staff_api.disable_staff(staff_id, request, session, _actor(request, login)), "disabled")


@router.post("/accounts/{staff_id}/enable", response_class=HTMLResponse)
@refused_with(_accounts_refused)
def enable_account(request: Request, staff_id: DbId, session: SessionDep, login: AdminPage):
    return _account_action(request, session, login, staff_id, lambda: staff_api.enable_staff(staff_id, request, session, _actor(request, login)), "enabled")


@router.post("/accounts/{staff_id}/reset-totp", response_class=HTMLResponse)
@refused_with(_accounts_refused)
def reset_totp(request: Request, staff_id: DbId, session: SessionDep, login: AdminPage):
    return _account_action(request, session, login, staff_id, lambda: staff_api.reset_staff_totp(staff_id, session, _actor(request, login)), "totp")


@router.post("/accounts/{staff_id}/reset-password", response_class=HTMLResponse)
@refused_with(_accounts_refused)
def reset_password(request: Request, staff_id: DbId, session: SessionDep, login: AdminPage):
    return _account_action(request, session, login, staff_id, lambda: staff_api.reset_staff_password(staff_id, session, _actor(request, login)), "password")


# --- audit log -------------------------------------------------------------------------------------

def _date_param(value: str | None, *, end: bool) -> datetime | None:
    """A JST calendar day (YYYY-MM-DD) as the UTC instant it starts (or, for ``end``, the next day starts)."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    if end:
        day += timedelta(days=1)
    return datetime.combine(day, time.min, JST)


def _id_param(value: str) -> int | None:
    """A row id typed into a filter, or None when it is not one (ignored, like a bad date)."""
    # why not str.isdigit alone: "²" is a digit to it but not to int(), and a digit string
    # beyond MAX_DB_ID would overflow the database driver (a 500 either way)
    if not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if 1 <= number <= MAX_DB_ID else None


def _audit_filter(request: Request) -> tuple[audit_api.AuditFilter, dict]:
    q = request.query_params
    actor_id = q.get("actor_id", "")
    raw = {"actor_id": actor_id, "action": q.get("action", "")[:60], "target": q.get("target", "").strip()[:80], "since": q.get("since", ""), "until": q.get("until", "")}
    f = audit_api.AuditFilter(
        actor_id=_id_param(actor_id),
        action=raw["action"] or None,
        target=raw["target"] or None,
        since=_date_param(raw["since"], end=False),
        until=_date_param(raw["until"], end=True),
    )
    return f, raw


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, session: SessionDep, login: AdminPage, page: AuditPageNumber = 0):
    """The audit log, newest first, with filters; the CSV export uses the same filters."""
    f, raw = _audit_filter(request)
    page = max(0, page)
    rows = audit.list_events(session, **vars(f), limit=AUDIT_PAGE + 1, offset=page * AUDIT_PAGE)
    staff = session.exec(select(StaffUser).order_by(StaffUser.username)).all()
    query = urlencode({k: v for k, v in raw.items() if v})
    return _page(request, login, "audit.html", title="監査ログ", rows=rows[:AUDIT_PAGE], more=len(rows) > AUDIT_PAGE, page=page,
                 raw=raw, staff=staff, prefixes=ACTION_PREFIXES, query=query)


@router.get("/audit.csv")
def audit_csv(request: Request, session: SessionDep, login: AdminPage) -> Response:
    """The filtered audit log as CSV (the export itself is audited by the API function)."""
    f, _raw = _audit_filter(request)
    return audit_api.export_audit_csv(session, _actor(request, login), f)
