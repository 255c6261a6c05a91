"""The role × route matrix, generated from the route table in admin/api.py (deny by default)."""
from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from admin.api import LOGIN_STEP, PUBLIC, PREFIX, ROUTES, SIGNED_IN, RouteSpec, gate_for
from tests.staff_helpers import cheap_argon2  # noqa: F401  (autouse fixture)
from tests.staff_helpers import client_for, make_api_app, make_staff

PERSONAS = {"anonymous": None, "editor": ["editor"], "staff": ["staff"], "admin": ["admin"]}
SECRET_FIELDS = {"password_hash", "totp_secret", "totp_pending_secret", "token_hash", "user_hash", "platform_id", "reply_token", "payload"}


def allowed(spec: RouteSpec, persona: str) -> bool:
    if spec.access == PUBLIC:
        return True
    if persona == "anonymous":
        return False
    if spec.access in (LOGIN_STEP, SIGNED_IN):
        return True
    return persona in {r.value for r in spec.access}


def api_routes(app) -> list[APIRoute]:
    """Every APIRoute of the app, also inside included routers (FastAPI keeps them nested)."""
    out: list[APIRoute] = []

    def walk(routes) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                out.append(route)
            elif hasattr(route, "original_router"):
                walk(route.original_router.routes)
            elif hasattr(route, "routes"):
                walk(route.routes)

    walk(app.routes)
    return out


def undeclared_routes(app) -> list[str]:
    """Routes under the admin prefix that did not come from the table with their gate."""
    declared = {(s.method, PREFIX + s.path): s for s in ROUTES}
    bad = []
    for route in api_routes(app):
        if not route.path.startswith(PREFIX):
            continue
        for method in route.methods:
            spec = declared.get((method, route.path))
            gates = [d.dependency for d in route.dependencies]
            if spec is None or spec.endpoint is not route.endpoint or not gates:
                bad.append(f"{method} {route.path}")
    return bad


@pytest.fixture
def app(settings, monkeypatch):
    from admin import api

    async def one_event(*_args, **_kw):
        yield "retry: 5000\n\n"

    monkeypatch.setattr(api, "event_stream", one_event)  # a finite stream for the matrix
    return make_api_app(settings)


def test_every_admin_route_is_declared_in_the_table(app):
    assert undeclared_routes(app) == []
    assert {(s.method, PREFIX + s.path) for s in ROUTES} == {
        (m, r.path) for r in api_routes(app) if r.path.startswith(PREFIX) for m in r.methods
    }


def test_a_route_added_outside_the_table_is_caught(app):
    @app.get(PREFIX + "/sneaky")
    def sneaky() -> dict:
        return {}

    assert undeclared_routes(app) == ["GET /admin/api/sneaky"]


@pytest.mark.parametrize("access", [None, "", (), "everyone", ("admin",)])
def test_a_route_without_a_real_declaration_refuses_to_mount(access):
    with pytest.raises(RuntimeError):
        gate_for(access)


@pytest.mark.parametrize("spec", ROUTES, ids=lambda s: f"{s.method} {s.path}")
def test_role_matrix(app, spec):
    path = PREFIX + re.sub(r"\{[a-z_]+\}", "1", spec.path)
    body = {} if spec.method in ("POST", "PUT", "PATCH") else None
    for persona, roles in PERSONAS.items():
        staff_id = make_staff(f"{persona}-{spec.method.lower()}", roles)[0] if roles else None
        client = client_for(app, staff_id)
        r = client.request(spec.method, path, json=body)
        if allowed(spec, persona):
            assert r.status_code not in (401, 403), (persona, r.status_code, r.text)
        else:
            assert r.status_code == (401 if persona == "anonymous" else 403), (persona, r.status_code)
            assert r.json()["detail"] in ("not_authenticated", "forbidden")


def test_responses_never_carry_secrets_or_platform_ids(app):
    schema = app.openapi()
    for name, component in schema["components"]["schemas"].items():
        assert not (set(component.get("properties", {})) & SECRET_FIELDS), name
    for path, ops in schema["paths"].items():
        for op in ops.values():
            assert op.get("x-ristapo-access"), path


def test_docs_only_in_development(settings, monkeypatch):
    from fastapi.testclient import TestClient

    from bot.app import create_app
    from core.settings import get_settings

    monkeypatch.setenv("RISTAPO_RUN_WORKERS", "0")
    for env, expected in (("dev", 200), ("test", 404), ("production", 404)):
        monkeypatch.setenv("RISTAPO_ENV", env)
        get_settings.cache_clear()
        app = create_app(get_settings())
        client = TestClient(app, base_url="https://testserver")
        assert client.get("/openapi.json").status_code == expected
        assert client.get("/docs").status_code == expected
        if expected == 200:
            assert "/admin/api/tickets/{ticket_id}/claim" in client.get("/openapi.json").json()["paths"]
    get_settings.cache_clear()
