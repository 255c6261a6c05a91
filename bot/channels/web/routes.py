"""The public web chat at ``/chat``: the same engine for someone without LINE or Telegram.

Server-rendered, works without JavaScript (forms + post/redirect/get). With JavaScript,
static/chat.js posts the same forms with ``Accept: application/json`` and appends the new
bubbles (no reload, focus stays in the input), and polls ``/chat/items`` so staff replies
appear. The conversation is keyed by a random token in an HttpOnly cookie; nothing personal
ever appears in a URL.
"""
from __future__ import annotations

import json
import secrets
from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session, col, select

from bot.channels.web import throttle as web_throttle
from bot.channels.web.render import said
from bot.runtime import current_consent_text
from bot.service import answer_values, handle_inbound
from core import db
from core.clock import now
from core.messages import A_FURIGANA, Inbound, OutMessage
from core.models import ChannelUser, Conversation, Message, OutboxMessage
from core.template_filters import FILTERS
from core.users import find_user
from knowledge.kb import render_answer

COOKIE = "ristapo_chat"
STATIC_DIR = Path(__file__).with_name("static")
templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
router = APIRouter()
MAX_TEXT = 2000
COOKIE_DAYS = 180
# The 「ふりがな」 switch: a plain preference (not HttpOnly: the page's script writes it too).
FURIGANA_COOKIE = "ristapo_furigana"

# why these headers: the page is public and talks about offences; keep it out of frames,
# caches, referrers and search engines, and let it load nothing but its own files.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
}

templates.env.filters.update(FILTERS)
templates.env.filters["said"] = said
templates.env.globals["A_FURIGANA"] = A_FURIGANA


def _token(request: Request) -> str | None:
    token = request.cookies.get(COOKIE)
    return token if token and 20 <= len(token) <= 100 else None


def _find_user(session: Session, token: str) -> ChannelUser | None:
    return find_user(session, "web", token)


def transcript(session: Session, user: ChannelUser) -> list[dict]:
    """Bot/staff messages from the outbox and the user's stored lines, oldest first."""
    items: list[tuple[datetime, int, dict]] = []
    conv = session.exec(select(Conversation).where(Conversation.user_id == user.id, Conversation.closed == False)).first()  # noqa: E712
    since = conv.started_at if conv else None
    if conv is not None:
        for m in session.exec(select(Message).where(Message.conversation_id == conv.id, Message.direction == "in")).all():
            items.append((m.created_at, 0, {"who": "user", "text": m.body, "unstored": m.body is None}))
    q = select(OutboxMessage).where(OutboxMessage.user_id == user.id, col(OutboxMessage.payload).is_not(None))
    for row in session.exec(q).all():
        if since is not None and row.created_at < since:
            continue
        for i, d in enumerate(json.loads(row.payload or "[]")):
            out = OutMessage.from_dict(d)
            items.append((row.created_at, 1 + i, {"who": row.sender, "msg": out}))
        if row.state != "delivered":
            row.state = "delivered"
            row.delivered_at = now()
            session.add(row)
    items.sort(key=lambda t: (t[0], t[1]))
    return [d for _t, _i, d in items]


def _furigana_asked(value: str | None) -> bool | None:
    """``1`` / ``0`` from the switch (a form field or ``?furigana=``); anything else: not asked."""
    return {"1": True, "0": False}.get(value or "")


def furigana_on(request: Request) -> bool:
    """Readings over kanji for this page: ``?furigana=1|0`` first, else the remembered cookie."""
    asked = _furigana_asked(request.query_params.get("furigana"))
    return asked if asked is not None else request.cookies.get(FURIGANA_COOKIE) == "1"


def _secure(request: Request) -> bool:
    """Secure cookies whenever the service is served over https."""
    settings = getattr(request.app.state, "settings", None)
    return request.url.scheme == "https" or bool(settings and str(settings.public_base_url).startswith("https://"))


def _remember_furigana(response: Response, on: bool, request: Request) -> None:
    response.set_cookie(FURIGANA_COOKIE, "1" if on else "0", max_age=60 * 60 * 24 * COOKIE_DAYS, path="/",
                        samesite="lax", secure=_secure(request))


def with_readings(items: list[dict], request: Request) -> list[dict]:
    """Adds each answer's own ``readings`` (front matter) so the names it gets right stay right."""
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is None:
        return items
    kb = runtime.knowledge.kb
    for it in items:
        msg = it.get("msg")
        entry = kb.get(msg.entry_id) if msg is not None and msg.entry_id else None
        if entry is not None and entry.readings:
            it["readings"] = entry.readings
    return items


def wants_json(request: Request) -> bool:
    """The page's script asks for JSON; a plain form post (no JavaScript) gets the redirect."""
    return "application/json" in request.headers.get("accept", "")


def _after(request: Request) -> int:
    """How many transcript items the page already shows (``?after=N``; junk counts as 0)."""
    raw = request.query_params.get("after", "0")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 else 0


def items_update(items: list[dict], after: int, consent_text: str | None, *, furigana: bool = False, everything: bool = False) -> dict:
    """What the page must change: the bubbles after the ``after`` it shows, or all of them.

    ``reset`` means "replace the whole conversation": the page still shows the welcome (it had
    no items), the transcript got shorter (records deleted, a new conversation began), or the
    page asked for ``everything`` (the 「ふりがな」 switch was turned on: re-rendered with readings).
    """
    reset = everything or after > len(items) or (after == 0 and bool(items))
    if reset:
        html = templates.get_template("chat_items.html").render(items=items, consent_text=consent_text, max_text=MAX_TEXT, furigana=furigana)
    else:
        bubble = templates.get_template("_bubble.html")
        html = "".join(bubble.render(it=it, furigana=furigana) for it in items[after:])
    return {"count": len(items), "reset": reset, "html": html}


def _update_for(request: Request, token: str | None, after: int, *, everything: bool = False) -> dict:
    with db.session_scope() as session:
        user = _find_user(session, token) if token else None
        items = transcript(session, user) if user is not None else []
        # why rendered: the consent text holds {retention_days}, as on the page itself
        consent_text = None if items else render_answer(current_consent_text(session).text, answer_values(session))
    return items_update(with_readings(items, request), after, consent_text, furigana=furigana_on(request), everything=everything)


@router.get("/chat/items", include_in_schema=False)
def chat_items(request: Request) -> Response:
    """New bubbles since ``?after=N`` as JSON (the page polls this so staff replies appear);
    ``?all=1``: the whole conversation again (the 「ふりがな」 switch re-renders it)."""
    everything = request.query_params.get("all") == "1"
    response = JSONResponse(_update_for(request, _token(request), _after(request), everything=everything))
    response.headers.update(SECURITY_HEADERS)
    return response


@router.get("/chat", response_class=HTMLResponse, include_in_schema=False)
def chat_page(request: Request):
    """Shows the conversation; a newcomer sees the welcome and the consent question first."""
    token = _token(request)
    items: list[dict] = []
    consent_text = None
    with db.session_scope() as session:
        user = _find_user(session, token) if token else None
        if user is not None:
            items = transcript(session, user)
        if not items:
            consent_text = render_answer(current_consent_text(session).text, answer_values(session))
    response = _page(request, with_readings(items, request), consent_text=consent_text)
    asked = _furigana_asked(request.query_params.get("furigana"))
    if asked is not None:  # ?furigana=1 (a link, or no cookies yet): remembered from now on
        _remember_furigana(response, asked, request)
    return response


def _page(request: Request, items: list[dict], *, consent_text: str | None = None, status_code: int = 200) -> HTMLResponse:
    partial = request.query_params.get("partial") == "1"
    response = templates.TemplateResponse(
        request,
        "chat_items.html" if partial else "chat.html",
        {"items": items, "max_text": MAX_TEXT, "consent_text": consent_text, "furigana": furigana_on(request)},
        status_code=status_code,
    )
    response.headers.update(SECURITY_HEADERS)
    return response


@router.post("/chat", include_in_schema=False)
def chat_post(request: Request, text: str = Form(""), action: str = Form(""), furigana: str = Form("")) -> Response:
    """Runs one turn; redirects back to the page (post/redirect/get, no JS) or returns the new bubbles.

    The 「ふりがな」 switch without JavaScript posts ``furigana=1|0`` here: remembered, no turn.
    """
    text = text.strip()[:MAX_TEXT]
    action = action.strip()[:64]
    switched = _furigana_asked(furigana)
    if switched is not None and not (text or action):
        response: Response = RedirectResponse("/chat#bottom", status_code=303)
        _remember_furigana(response, switched, request)
        response.headers.update(SECURITY_HEADERS)
        return response
    if (text or action) and not web_throttle.allow(request, _token(request)):
        # why no turn: a flood must not open tickets; the answer still gives the hotlines
        return _page(request, [{"who": "bot", "msg": m} for m in web_throttle.throttled_reply(text, action)], status_code=429)
    token = _token(request) or secrets.token_urlsafe(32)
    if text or action:
        inbound = Inbound(kind="postback", action=action) if action else Inbound(kind="text", text=text)
        with db.session_scope() as session:
            handle_inbound(session, request.app.state.runtime, channel="web", platform_id=token, inbound=inbound)
    if wants_json(request):  # the page's script: the new bubbles, no reload
        response = JSONResponse(_update_for(request, token, _after(request)))
    else:
        response = RedirectResponse("/chat#bottom", status_code=303)
    # why HttpOnly + SameSite=Lax: page scripts never need the token, and another site's form
    # cannot post into someone's conversation; Secure whenever the service is served over https
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        max_age=60 * 60 * 24 * COOKIE_DAYS,
        path="/",
    )
    response.headers.update(SECURITY_HEADERS)
    return response
