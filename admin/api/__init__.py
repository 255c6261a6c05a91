"""The admin JSON API under ``/admin/api``: login, the hand-off queue, settings, accounts, audit.

One module per job (``login``, ``tickets``, ``settings``, ``staff``, ``audit``, ``users``), each
with its own route table and router; :mod:`admin.api.access` says how a route declares its
roles. Routes are thin: parse, call one ``check_*`` then one ``do_*``, commit, return an
explicit Public schema (:mod:`admin.api.schemas`).
"""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from admin.accounts import Throttled
from admin.api import audit, login, staff, tickets, users
from admin.api import settings as settings_routes
from admin.api.access import DECLARED_GATES, PREFIX, RouteSpec
from core.settings import Settings
from handoff import actions
from handoff.events import install_webhook

MODULES = (login, tickets, settings_routes, staff, audit, users)  # the order of the OpenAPI document
ROUTES: list[RouteSpec] = [spec for module in MODULES for spec in module.ROUTES]


def _api_routes(routes) -> list[APIRoute]:
    out: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append(route)
        elif hasattr(route, "original_router"):  # FastAPI ≥ 0.16x keeps included routers whole
            out.extend(_api_routes(route.original_router.routes))
        elif hasattr(route, "routes") and not hasattr(route, "app"):
            out.extend(_api_routes(route.routes))
    return out


def undeclared_routes(app: FastAPI) -> list[str]:
    """Routes under the admin prefix that did not come from a route table with their gate."""
    declared = {(s.method, PREFIX + s.path): s for s in ROUTES}
    bad = []
    for route in _api_routes(app.routes):
        if not route.path.startswith(PREFIX):
            continue
        for method in sorted(route.methods or ()):
            spec = declared.get((method, route.path))
            gated = any(d.dependency in DECLARED_GATES for d in route.dependencies)
            if spec is None or spec.endpoint is not route.endpoint or not gated:
                bad.append(f"{method} {route.path}")
    return bad


def check_declared(app: FastAPI) -> None:
    """Deny by default: start-up fails when an admin API route declares no roles."""
    bad = undeclared_routes(app)
    if bad:
        raise RuntimeError(f"admin API routes without declared roles (add them to a ROUTES table): {', '.join(bad)}")


async def _action_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, actions.ActionError)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Throttled) else None
    return JSONResponse({"detail": exc.message, "code": exc.code}, status_code=exc.status, headers=headers)


def install(app: FastAPI, settings: Settings) -> None:
    """Mounts the admin API and the staff webhook (called by bot/app.py)."""
    for module in MODULES:
        app.include_router(module.router)
    check_declared(app)
    app.add_exception_handler(actions.ActionError, _action_error)
    app.state.admin_routes = ROUTES
    install_webhook(settings.staff_webhook_url, settings.public_base_url.rstrip("/") + "/console")
