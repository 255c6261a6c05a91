"""The role × route matrix, generated from the route tables of admin/api/ (deny by default)."""
from __future__ import annotations

import re

import pytest
from fastapi import Depends
from fastapi.routing import APIRoute

from admin.api import ROUTES
from admin.api.access import LOGIN_STEP, PREFIX, PUBLIC, SIGNED_IN, RouteSpec, gate_for
from admin.params import MAX_DB_ID, MAX_OFFSET, MAX_PAGE_SIZE
from tests.staff_helpers import (
    cheap_argon2,  # noqa: F401  (autouse fixture)
    client_for,
    make_api_app,
    make_staff,
)

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
    from admin.api import tickets

    async def one_event(*_args, **_kw):
        yield "retry: 5000\n\n"

    monkeypatch.setattr(tickets, "event_stream", one_event)  # a finite stream for the matrix
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


def test_an_admin_route_without_declared_roles_fails_start_up(settings):
    from fastapi import APIRouter, FastAPI

    from admin import api
    from admin.deps import signed_in

    app = FastAPI()
    app.state.settings = settings
    outside = APIRouter(prefix=PREFIX)

    @outside.get("/sneaky")
    def sneaky() -> dict:
        return {}

    # a gate of its own is not a declaration: the route must come from a ROUTES table
    outside.add_api_route("/gated-by-hand", sneaky, methods=["POST"], dependencies=[Depends(signed_in)])
    app.include_router(outside)
    with pytest.raises(RuntimeError, match="GET /admin/api/sneaky.*POST /admin/api/gated-by-hand"):
        api.install(app, settings)


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


# --- integer parameters are bounded: out of range is a 422, never a 500 from the driver ---------
# Found by schemathesis: ``GET /audit?offset=<huge>`` reached SQLite ("Python int too large to
# convert to SQLite INTEGER"). The cases below are read from the OpenAPI schema, so a route or
# parameter added later is covered without editing this list.

HUGE = (2**64, 2**63, MAX_DB_ID + 1)
# a valid body per route that takes one: with an invalid body the 422 would come from the body
# and the bounds at the edge would never reach the database
VALID_BODIES = {
    "/tickets/{ticket_id}/transfer": {"staff_id": 1},
    "/tickets/{ticket_id}/reply": {"text": "x"},
    "/tickets/{ticket_id}/notes": {"body": "x"},
    "/tickets/{ticket_id}/tags": {"tags": []},
    "/tickets/{ticket_id}/close": {"outcome": "その他"},
    "/tickets/{ticket_id}/consent-b": {"organisation": "x"},
    "/tickets/{ticket_id}/referral": {"organisation": "x"},
    "/tickets/{ticket_id}/crisis-outcome": {"outcome": "reached"},
}


def integer_params(app) -> list[tuple[RouteSpec, str, str]]:
    """(route, "path"|"query", name) for every integer parameter of the admin API."""
    paths = app.openapi()["paths"]
    found = []
    for spec in ROUTES:
        op = paths[PREFIX + spec.path][spec.method.lower()]
        for p in op.get("parameters", []):
            schema = p["schema"]
            types = {s.get("type") for s in schema.get("anyOf", [schema])}
            if "integer" in types:
                found.append((spec, p["in"], p["name"]))
    return found


def call(client, spec: RouteSpec, where: str, name: str, value: int):
    """Calls ``spec`` with ``value`` for one parameter, id 1 in the other path parameters."""
    path = PREFIX + spec.path.replace("{" + name + "}", str(value)) if where == "path" else PREFIX + spec.path
    path = re.sub(r"\{[a-z_]+\}", "1", path)
    params = {name: str(value)} if where == "query" else None
    body = VALID_BODIES.get(spec.path, {}) if spec.method in ("POST", "PUT", "PATCH") else None
    return client.request(spec.method, path, params=params, json=body)


@pytest.fixture
def everyone(app):
    """A client signed in with every role, so each route gets past its gate."""
    return client_for(app, make_staff("all-roles", ["staff", "admin", "editor"])[0], raise_server_exceptions=False)


def test_the_integer_parameters_found_include_ids_and_paging(app):
    found = {(spec.path, name) for spec, _where, name in integer_params(app)}
    assert {("/tickets/{ticket_id}", "ticket_id"), ("/staff/{staff_id}", "staff_id"), ("/canned-replies/{reply_id}", "reply_id"),
            ("/users/{user_id}/export", "user_id"), ("/audit", "actor_id"), ("/audit", "limit"), ("/audit", "offset"),
            ("/audit.csv", "actor_id")} <= found


@pytest.mark.postgres
def test_a_huge_integer_parameter_is_a_422_naming_it(app, everyone, db_backend):
    cases = integer_params(app)
    for spec, where, name in cases:
        for value in HUGE:
            r = call(everyone, spec, where, name, value)
            assert r.status_code == 422, (spec.method, spec.path, name, value, r.status_code, r.text[:200])
            errors = r.json()["detail"]
            assert [e["loc"] for e in errors] == [[where, name]], (spec.path, errors)
            assert errors[0]["type"] == "less_than_equal"


@pytest.mark.postgres
def test_the_largest_accepted_value_reaches_the_database_without_a_500(app, everyone, db_backend):
    # why on both engines: the bound must fit the stricter one (PostgreSQL's int4 keys)
    for spec, where, name in integer_params(app):
        r = call(everyone, spec, where, name, MAX_DB_ID)
        assert r.status_code < 500, (spec.method, spec.path, name, r.status_code, r.text[:200])
    r = everyone.get(PREFIX + "/audit", params={"offset": MAX_OFFSET, "limit": MAX_PAGE_SIZE})
    assert r.status_code == 200 and r.json() == []


@pytest.mark.postgres
def test_a_huge_id_in_a_body_is_a_422(app, everyone, db_backend):
    r = everyone.post(PREFIX + "/tickets/1/transfer", json={"staff_id": 2**64})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "staff_id"]


def test_paging_below_its_range_is_a_422(everyone):
    for params in ({"limit": 0}, {"offset": -1}, {"actor_id": 0}):
        assert everyone.get(PREFIX + "/audit", params=params).status_code == 422, params
