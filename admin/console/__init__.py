"""The server-rendered console at ``/console``: login steps, navigation by role, page modules.

Page modules (``PAGE_MODULES``, imported at the end of this file) each expose ``router`` and
optionally ``NAV`` (a list of :class:`NavItem`); a new page is one module plus one line there.

Every page declares its roles with :func:`page_roles` (deny by default): the session comes
from ``admin.deps`` (the same session, CSRF and audit rules as the JSON API); this module
only turns "not signed in" into a redirect to the login page and "not allowed" into a
Japanese 403 page instead of JSON.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader
from starlette.staticfiles import StaticFiles

from admin import deps
from admin.auth import CSRF_COOKIE, SESSION_COOKIE, csrf_token_for
from admin.deps import SessionDep, SignedIn
from admin.models import Role
from core.template_filters import FILTERS

ADMIN_DIR = Path(__file__).resolve().parents[1]
STATIC_DIR = ADMIN_DIR / "static"

ResponseT = TypeVar("ResponseT", bound=Response)
templates = Jinja2Templates(directory=str(ADMIN_DIR / "templates"))
_loader = ChoiceLoader([FileSystemLoader(str(ADMIN_DIR / "templates"))])
templates.env.loader = _loader

ROLE_LABELS = {"staff": "受付", "editor": "知識ベース", "admin": "管理"}


@dataclass(frozen=True)
class NavItem:
    """One entry of the top navigation, shown only to staff holding one of ``roles``."""

    label: str
    href: str
    roles: frozenset[str]
    order: int = 50


NAV: list[NavItem] = []
ROUTERS: list[APIRouter] = []


class LoginRedirect(Exception):
    """Not signed in (or not fully): the browser goes to the login page."""


class ConsoleForbidden(Exception):
    """Signed in but not allowed (role, CSRF): a 403 page that reveals nothing else."""

    def __init__(self, message: str = "この画面を開く権限がありません。") -> None:
        self.message = message


def _console_failure(exc: HTTPException) -> Exception:
    if exc.status_code == 401:
        return LoginRedirect()
    if exc.detail == "csrf":
        return ConsoleForbidden("フォームの確認用トークンがありません(または古くなっています)。画面を読み込み直してから、もう一度操作してください。")
    return ConsoleForbidden()


async def _console_any_stage(request: Request, found: deps.FoundDep) -> SignedIn:
    """The CSRF step of :func:`console_login` (async for the form body; no database here)."""
    try:
        return await deps.signed_in_any_stage(request, found)
    except HTTPException as exc:
        raise _console_failure(exc) from None


def console_login(session: SessionDep, login: Annotated[SignedIn, Depends(_console_any_stage)]) -> SignedIn:
    """The admin session rules (``admin.deps``), with HTML-friendly failures (sync: it may write)."""
    try:
        return deps.signed_in(session, login)
    except HTTPException as exc:
        raise _console_failure(exc) from None


console_login.console_gate = True  # type: ignore[attr-defined]  # the marker admin.deps' start-up check reads
ConsoleLogin = Annotated[SignedIn, Depends(console_login)]
PUBLIC_PATHS = frozenset({"/console/login"})  # the only console pages open without a session


def page_roles(*roles: Role):
    """A dependency admitting signed-in staff with at least one of ``roles``; others get 403."""
    wanted = frozenset(r.value for r in roles)
    if not wanted:
        raise ValueError("page_roles needs at least one role")

    def _gate(request: Request, session: SessionDep, login: ConsoleLogin) -> SignedIn:
        if not (login.user.role_set & wanted):
            # why audit: a refused page is a signal worth seeing, as in the API
            deps.actor_for(login.user, deps.client_ip(request)).audit(session, "authz.denied", request.url.path[:80])
            session.commit()
            raise ConsoleForbidden()
        return login

    _gate.__name__ = "page_" + "_or_".join(sorted(wanted))
    _gate.console_gate = True  # type: ignore[attr-defined]  # the marker admin.deps' start-up check reads
    return _gate


EditorPage = Annotated[SignedIn, Depends(page_roles(Role.editor))]
StaffPage = Annotated[SignedIn, Depends(page_roles(Role.staff))]
AdminPage = Annotated[SignedIn, Depends(page_roles(Role.admin))]
AnyRolePage = Annotated[SignedIn, Depends(page_roles(Role.staff, Role.editor, Role.admin))]


def nav_for(roles: frozenset[str]) -> list[NavItem]:
    return sorted((n for n in NAV if n.roles & roles), key=lambda n: (n.order, n.href))


def render(request: Request, template: str, login: SignedIn | None = None, status_code: int = 200, **context) -> HTMLResponse:
    """A console page: the signed-in user, their navigation and the CSRF token for every form."""
    ctx = {
        "user": login.user if login else None,
        "nav": nav_for(login.user.role_set) if login else [],
        "csrf_token": csrf_token_for(login.token) if login else context.pop("csrf_token", ""),
        "role_labels": ROLE_LABELS,
        "path": request.url.path,
        **context,
    }
    response = templates.TemplateResponse(request, template, ctx, status_code=status_code)
    return no_store(response)


def no_store(response: ResponseT) -> ResponseT:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # why data: images: the TOTP QR code is an SVG data URL (no outside service sees the secret)
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return response


def set_session_cookies(response: Response, token: str | None) -> None:
    """Sets (or clears) the session cookie and the readable CSRF cookie bound to it."""
    if token is None:
        response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
        response.delete_cookie(CSRF_COOKIE, path="/", secure=True, samesite="strict")
        return
    # why __Host- + Secure + Path=/ + no Domain: the cookie cannot be set or read by a sibling host
    response.set_cookie(SESSION_COOKIE, token, path="/", secure=True, httponly=True, samesite="strict")
    response.set_cookie(CSRF_COOKIE, csrf_token_for(token), path="/", secure=True, httponly=False, samesite="strict")


router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
def console_home(request: Request, login: ConsoleLogin):
    """Sends each person to the first section their roles open."""
    items = nav_for(login.user.role_set)
    if items:
        return RedirectResponse(items[0].href, status_code=303)
    return render(request, "console/message.html", login, status_code=403, title="権限がありません",
                  message="このアカウントで開ける画面がありません。管理者に役割の設定を依頼してください。")


def _share_chat_templates(app: FastAPI) -> None:
    """The previews include the web chat's own partial (``chat_items.html``) with its filters.

    The chat's template loader comes from the composition root (``app.state.chat_templates``,
    set by bot/app.py): the console never reads the bot's folder by path.
    """
    chat = getattr(app.state, "chat_templates", None)
    if chat is not None and chat not in _loader.loaders:
        _loader.loaders = [*_loader.loaders, chat]
    for name, func in {**FILTERS, **getattr(app.state, "chat_filters", {})}.items():
        templates.env.filters.setdefault(name, func)
    for name, value in getattr(app.state, "chat_globals", {}).items():
        templates.env.globals.setdefault(name, value)


def _guarded(dependant) -> bool:
    return any(getattr(d.call, "console_gate", False) or _guarded(d) for d in dependant.dependencies)


def check_guarded(app: FastAPI) -> None:
    """Deny by default: every console route must depend on a session gate, or start-up fails."""
    from fastapi.routing import APIRoute

    def walk(routes):
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            elif hasattr(route, "original_router"):  # FastAPI ≥ 0.16x keeps included routers whole
                yield from walk(route.original_router.routes)
            elif hasattr(route, "routes") and not hasattr(route, "app"):
                yield from walk(route.routes)

    checked = 0
    for route in walk(app.routes):
        checked += route.path.startswith("/console")
        if route.path.startswith("/console") and route.path not in PUBLIC_PATHS and not _guarded(route.dependant):
            raise RuntimeError(f"console route {route.path} declares no roles (use EditorPage, StaffPage, AdminPage or ConsoleLogin)")
    app.state.console_routes_checked = checked


def install(app: FastAPI, settings) -> None:
    """Mounts the console: static files, the page modules, the error pages."""
    app.mount("/console/static", StaticFiles(directory=str(STATIC_DIR)), name="console-static")
    _share_chat_templates(app)
    for module in PAGE_MODULES:
        NAV.extend(n for n in getattr(module, "NAV", []) if n not in NAV)
        if module.router not in ROUTERS:
            ROUTERS.append(module.router)
    app.include_router(router)
    for r in ROUTERS:
        app.include_router(r)
    check_guarded(app)

    @app.exception_handler(LoginRedirect)
    async def _to_login(request: Request, _exc: LoginRedirect):
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": "/console/login"})
        return RedirectResponse("/console/login", status_code=303)

    @app.exception_handler(ConsoleForbidden)
    async def _forbidden(request: Request, exc: ConsoleForbidden):
        return render(request, "console/message.html", None, status_code=403, title="開けません", message=exc.message)


# why at the end: the page modules import this module's router, templates and helpers
from admin.console import (  # noqa: E402
    admin_pages,
    admin_settings,
    editor,
    kb_unanswered,
    login,
    staff,
    staff_actions,
)

PAGE_MODULES = (login, editor, kb_unanswered, staff, staff_actions, admin_pages, admin_settings)
