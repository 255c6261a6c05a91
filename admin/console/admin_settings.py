"""The admin console's settings: office hours, canned replies, the consent text, the retention period.

Thin routes over the SAME functions as the JSON API (``admin.api``), as in ``admin_pages``.
Only the consent text and the retention period, which the API does not cover, have their
``do_*`` functions here, with the same rules (audit in the same transaction).
"""
from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlmodel import Session, col, select

from admin.api import settings as settings_api
from admin.console import AdminPage
from admin.console.admin_pages import _actor, _errors, _flash, _page, _redirect
from admin.console.refusals import refused_with
from admin.deps import FormDep, SessionDep, SignedIn
from admin.params import DbId
from core import service_settings
from core.consent_text import current_consent_text
from core.models import ConsentText
from core.settings import Settings
from handoff import hours
from handoff.actions import ActionError, Actor
from handoff.models import CannedReply, CannedReplyCreate, CannedReplyUpdate, OfficeHoursUpdate

router = APIRouter(prefix="/console/admin", include_in_schema=False)

WEEKDAYS = "月火水木金土日"
RETENTION_MIN, RETENTION_MAX = 30, 1825


# --- office hours ----------------------------------------------------------------------------------

def _spans_text(spans) -> str:
    return ", ".join(f"{a}-{b}" for a, b in spans)


def _parse_spans(text: str) -> list[tuple[str, str]]:
    spans = []
    for part in text.replace("、", ",").replace("〜", "-").replace("~", "-").split(","):
        part = part.strip()
        if not part:
            continue
        start, sep, end = part.partition("-")
        if not sep:
            raise ValueError(f"「{part}」は 8:30-17:15 の形で書いてください。")
        spans.append((_hhmm(start), _hhmm(end)))
    return spans


def _hhmm(value: str) -> str:
    value = value.strip().replace(":", ":")
    hh, _, mm = value.partition(":")
    if not hh.isdigit() or (mm and not mm.isdigit()):
        raise ValueError(f"「{value}」は時刻(8:30 など)ではありません。")
    return f"{int(hh):02d}:{int(mm or 0):02d}"


def _lines(text: str) -> list[str]:
    return [x.strip() for x in text.replace(",", "\n").replace("、", "\n").splitlines() if x.strip()]


def _hours_page(request: Request, session: Session, login: SignedIn, *, status: int = 200, error: str | None = None, form: dict | None = None) -> HTMLResponse:
    current = hours.load_hours(session)
    st = hours.status(current)
    form = form or {
        "weekly": {str(i): _spans_text(current.weekly.get(str(i), [])) for i in range(7)},
        "closed_days": "\n".join(current.closed_days),
        "closed_dates": "\n".join(current.closed_dates),
        "public_holidays": current.public_holidays,
        "minutes_per_ticket": current.minutes_per_ticket,
        "phone_callbacks": current.phone_callbacks,
    }
    when = hours.format_when(st.next_open) if st.next_open else None
    return _page(request, login, "hours.html", status=status, title="受付時間・休み", form=form, weekdays=WEEKDAYS, st=st, next_open=when, error=error, ok=_flash(request))


@router.get("/hours", response_class=HTMLResponse)
def hours_page(request: Request, session: SessionDep, login: AdminPage):
    """Weekly office hours, yearly closed days, one-off closures and the public-holiday rule."""
    return _hours_page(request, session, login)


@router.post("/hours", response_class=HTMLResponse)
def save_hours(request: Request, session: SessionDep, login: AdminPage, form: FormDep):
    raw: dict[str, Any] = {
        "weekly": {str(i): str(form.get(f"day{i}", "")) for i in range(7)},
        "closed_days": str(form.get("closed_days", "")),
        "closed_dates": str(form.get("closed_dates", "")),
        "public_holidays": form.get("public_holidays") is not None,
        "minutes_per_ticket": str(form.get("minutes_per_ticket", "20")),
        "phone_callbacks": form.get("phone_callbacks") is not None,
    }
    try:
        weekly = {day: _parse_spans(text) for day, text in raw["weekly"].items()}
        body = OfficeHoursUpdate(
            weekly={day: spans for day, spans in weekly.items() if spans},
            closed_days=[_mmdd(x) for x in _lines(raw["closed_days"])],
            closed_dates=_lines(raw["closed_dates"]),
            public_holidays=raw["public_holidays"],
            minutes_per_ticket=int(raw["minutes_per_ticket"] or 20),
            phone_callbacks=raw["phone_callbacks"],
        )
        settings_api.update_hours(body, session, _actor(request, login))
    except ValidationError as exc:
        session.rollback()
        return _hours_page(request, session, login, status=422, error=_errors(exc), form=raw)
    except ValueError as exc:
        session.rollback()
        return _hours_page(request, session, login, status=422, error=str(exc), form=raw)
    return _redirect("/console/admin/hours", "saved")


def _mmdd(value: str) -> str:
    """Accepts 12-29, 12/29 or 1/3 and returns MM-DD."""
    month, _, day = value.replace("/", "-").partition("-")
    if month.isdigit() and day.isdigit():
        return f"{int(month):02d}-{int(day):02d}"
    return value


# --- canned replies ------------------------------------------------------------------------------

def _canned_page(request: Request, session: Session, login: SignedIn, *, status: int = 200, error: str | None = None, form: dict | None = None) -> HTMLResponse:
    rows = session.exec(select(CannedReply).order_by(CannedReply.title)).all()
    return _page(request, login, "canned.html", status=status, title="定型文", rows=rows, error=error, form=form or {}, ok=_flash(request),
                 office_phone=request.app.state.settings.office_phone)


def _canned_refused(exc: ActionError, *, request: Request, session: Session, login: SignedIn, **_route) -> HTMLResponse:
    session.rollback()
    return _canned_page(request, session, login, status=exc.status, error=exc.message)


def _canned_form_refused(exc: ActionError, *, request: Request, session: Session, login: SignedIn, title: str, body: str) -> HTMLResponse:
    session.rollback()
    return _canned_page(request, session, login, status=exc.status, error=exc.message, form={"title": title, "body": body})


@router.get("/canned", response_class=HTMLResponse)
def canned_page(request: Request, session: SessionDep, login: AdminPage):
    """The canned replies (定型文) staff insert into their replies."""
    return _canned_page(request, session, login)


@router.post("/canned", response_class=HTMLResponse)
@refused_with(_canned_form_refused)
def create_canned(request: Request, session: SessionDep, login: AdminPage, title: str = Form(""), body: str = Form("")):
    try:
        settings_api.create_canned_reply(CannedReplyCreate(title=title.strip(), body=body.strip()), session, _actor(request, login))
    except ValidationError as exc:
        session.rollback()
        return _canned_page(request, session, login, status=422, error=_errors(exc), form={"title": title, "body": body})
    return _redirect("/console/admin/canned", "created")


@router.post("/canned/{reply_id}", response_class=HTMLResponse)
@refused_with(_canned_refused)
def update_canned(request: Request, reply_id: DbId, session: SessionDep, login: AdminPage, title: str = Form(""), body: str = Form("")):
    try:
        settings_api.update_canned_reply(reply_id, CannedReplyUpdate(title=title.strip(), body=body.strip()), session, _actor(request, login))
    except ValidationError as exc:
        session.rollback()
        return _canned_page(request, session, login, status=422, error=_errors(exc))
    return _redirect("/console/admin/canned", "saved")


@router.post("/canned/{reply_id}/delete", response_class=HTMLResponse)
@refused_with(_canned_refused)
def delete_canned(request: Request, reply_id: DbId, session: SessionDep, login: AdminPage):
    settings_api.delete_canned_reply(reply_id, session, _actor(request, login))
    return _redirect("/console/admin/canned", "deleted")


# --- consent text ----------------------------------------------------------------------------------

def current_consent(session: Session) -> ConsentText:
    return current_consent_text(session)


def do_publish_consent_text(session: Session, actor: Actor, text: str) -> ConsentText:
    """Publishes a new consent-A version; users who agreed to an older one are asked again.

    Append-only: earlier versions stay (each Consent row names the version it agreed to).
    Caller commits.
    """
    text = text.strip().replace("\r\n", "\n")
    if len(text) < 20:
        raise ActionError("説明文が短すぎます。", "too_short")
    if len(text) > 4000:
        raise ActionError("説明文は4,000文字までです。", "too_long")
    latest = current_consent(session)
    if text == latest.text:
        raise ActionError("今の版と同じ文です。変えたところがありません。", "unchanged")
    row = ConsentText(kind="A", version=latest.version + 1, text=text, text_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(), published_by=actor.id)
    session.add(row)
    session.flush()
    actor.audit(session, "consent.publish", f"consent:A:{row.version}")
    return row


def _consent_page(request: Request, session: Session, login: SignedIn, *, status: int = 200, error: str | None = None, draft: str | None = None) -> HTMLResponse:
    latest = current_consent(session)
    session.commit()  # version 1 is created from the packaged text on first use
    versions = session.exec(select(ConsentText).where(ConsentText.kind == "A").order_by(col(ConsentText.version).desc())).all()
    return _page(request, login, "consent.html", status=status, title="同意の説明文", latest=latest, versions=versions,
                 draft=draft if draft is not None else latest.text, error=error, ok=_flash(request))


def _consent_refused(exc: ActionError, *, request: Request, session: Session, login: SignedIn, text: str, **_route) -> HTMLResponse:
    session.rollback()
    return _consent_page(request, session, login, status=exc.status, error=exc.message, draft=text)


@router.get("/consent", response_class=HTMLResponse)
def consent_page(request: Request, session: SessionDep, login: AdminPage):
    """The consent text users are asked to agree to, with its published versions."""
    return _consent_page(request, session, login)


@router.post("/consent", response_class=HTMLResponse)
@refused_with(_consent_refused)
def publish_consent(request: Request, session: SessionDep, login: AdminPage, text: str = Form(""), confirm: str | None = Form(None)):
    if confirm is None:
        raise ActionError("「公開すると利用者にもう一度たずねる」ことを確認して、チェックを入れてください。", "confirm")
    do_publish_consent_text(session, _actor(request, login), text)
    session.commit()
    return _redirect("/console/admin/consent", "published")


# --- retention -------------------------------------------------------------------------------------

def do_set_retention(settings: Settings, session: Session, actor: Actor, days: int) -> None:
    """Stores the retention period for every process and machine (service_setting); audited. Caller commits."""
    if not RETENTION_MIN <= days <= RETENTION_MAX:
        raise ActionError(f"保存期間は{RETENTION_MIN}日から{RETENTION_MAX}日のあいだで決めてください。", "out_of_range")
    before = service_settings.retention_days(session, settings)
    service_settings.do_set_value(session, service_settings.RETENTION_DAYS, str(days), staff_id=actor.id)
    actor.audit(session, "settings.retention", "settings:retention", detail=f"{before}->{days}")


def _retention_page(request: Request, session: Session, login: SignedIn, *, status: int = 200, error: str | None = None) -> HTMLResponse:
    days = service_settings.retention_days(session, request.app.state.settings)
    settings = request.app.state.settings.model_copy(update={"retention_days": days})
    consent = current_consent(session)
    session.commit()
    mentions = f"{days}日" in consent.text
    return _page(request, login, "retention.html", status=status, title="保存期間", settings=settings, consent_mentions=mentions,
                 minimum=RETENTION_MIN, maximum=RETENTION_MAX, error=error, ok=_flash(request))


def _retention_refused(exc: ActionError, *, request: Request, session: Session, login: SignedIn, **_route) -> HTMLResponse:
    session.rollback()
    return _retention_page(request, session, login, status=exc.status, error=exc.message)


@router.get("/retention", response_class=HTMLResponse)
def retention_page(request: Request, session: SessionDep, login: AdminPage):
    """How long conversations are kept after they end (the daily purge deletes older ones)."""
    return _retention_page(request, session, login)


@router.post("/retention", response_class=HTMLResponse)
@refused_with(_retention_refused)
def save_retention(request: Request, session: SessionDep, login: AdminPage, days: str = Form(""), confirm: str | None = Form(None)):
    if not days.strip().isdigit():
        raise ActionError("日数を数字で入れてください。", "not_a_number")
    # why only when shortening: a longer period deletes nothing, so asking would only teach
    # admins to tick the box without reading it
    shorter = int(days) < service_settings.retention_days(session, request.app.state.settings)
    if shorter and confirm is None:
        raise ActionError("短くすると古い記録が次の削除で消えます。確認のチェックを入れてください。", "confirm")
    do_set_retention(request.app.state.settings, session, _actor(request, login), int(days))
    session.commit()
    return _redirect("/console/admin/retention", "saved")
