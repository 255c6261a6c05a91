"""How an admin API route declares who may call it, and the gate enforcing that declaration.

Every route is declared once, in its module's ``ROUTES`` table, with the roles that may call it;
:func:`build_router` builds that module's router from the table only, putting the gate of each
declaration on its route. A declaration that is not one of the forms below refuses to mount, and
:func:`admin.api.check_declared` refuses to start an app with an admin route that did not come
from a table with its gate (deny by default).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request

from admin.deps import require_roles, same_origin, signed_in, signed_in_any_stage
from admin.models import Role

PREFIX = "/admin/api"

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



# every gate :func:`gate_for` handed out: the start-up check knows a declared route by one of these
DECLARED_GATES: set[Callable[..., Any]] = set()


def build_router(routes: list[RouteSpec]) -> APIRouter:
    """One module's router, built from its route table: each route carries its declared gate."""
    router = APIRouter(prefix=PREFIX, tags=["admin"])
    for spec in routes:
        gate = gate_for(spec.access)
        DECLARED_GATES.add(gate)
        router.add_api_route(
            spec.path,
            spec.endpoint,
            methods=[spec.method],
            dependencies=[Depends(gate)],
            name=spec.endpoint.__name__,
            openapi_extra={"x-ristapo-access": roles_of(spec.access)},
            description=(spec.endpoint.__doc__ or "") + f"\n\nAccess: {', '.join(roles_of(spec.access))}.",
        )
    return router
