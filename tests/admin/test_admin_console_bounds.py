"""The console's integer parameters are bounded like the API's: a huge id is a 422, never a 500.

The same overflow schemathesis found in ``/admin/api/audit?offset=`` (SQLite: "Python int too
large to convert to SQLite INTEGER") was open in the console's pages, which take ids from
URLs and forms too. The parameters are read from the app's routes, so one added later is covered.
"""
from __future__ import annotations

import re

import pytest

from admin.console.admin_pages import AUDIT_PAGE
from admin.params import MAX_DB_ID, MAX_OFFSET
from tests.admin.test_admin_routes import api_routes
from tests.admin.test_console_staff import app, persona  # noqa: F401  (fixtures)

# why exempt: clamped to 14 or 30 before use, so no value reaches the database
UNBOUNDED_ON_PURPOSE = {("/console/admin", "days")}


def console_integer_params(app) -> list[tuple[str, str, str, str]]:
    """(method, path, kind, name) for every integer path/query/form parameter of the console."""
    found = []
    for route in api_routes(app):
        if not route.path.startswith("/console"):
            continue
        d = route.dependant
        for kind, fields in (("path", d.path_params), ("query", d.query_params), ("form", d.body_params)):
            for f in fields:
                if f.field_info.annotation in (int, int | None):
                    found.extend((m, route.path, kind, f.name) for m in route.methods)
    return found


@pytest.fixture
def everyone(persona):
    return persona("all-roles", "staff,editor,admin")


def test_every_console_integer_parameter_has_an_upper_bound(app):
    params = console_integer_params(app)
    assert ("POST", "/console/tickets/{ticket_id}/transfer", "form", "colleague_id") in params
    for method, path, kind, name in params:
        if (path, name) in UNBOUNDED_ON_PURPOSE:
            continue
        route = next(r for r in api_routes(app) if r.path == path and method in r.methods)
        field = next(f for f in route.dependant.path_params + route.dependant.query_params + route.dependant.body_params if f.name == name)
        assert any(hasattr(m, "le") for m in field.field_info.metadata), (method, path, kind, name)


@pytest.mark.postgres
def test_a_huge_integer_in_a_console_url_or_form_is_a_422(app, everyone, db_backend):
    for method, path, kind, name in console_integer_params(app):
        if (path, name) in UNBOUNDED_ON_PURPOSE:
            continue
        huge = str(2**64)
        url = re.sub(r"\{[a-z_]+\}", "1", path.replace("{" + name + "}", huge))
        if method == "GET":
            r = everyone.get(url, params={name: huge} if kind == "query" else None)
        else:
            r = everyone.post(url, {name: huge} if kind == "form" else None)
        assert r.status_code == 422, (method, path, name, r.status_code)


@pytest.mark.postgres
def test_the_audit_page_at_its_limits_reaches_the_database_without_a_500(everyone, db_backend):
    last_page = MAX_OFFSET // AUDIT_PAGE
    assert everyone.get("/console/admin/audit", params={"page": last_page}).status_code == 200
    assert everyone.get("/console/admin/audit", params={"page": last_page + 1}).status_code == 422
    assert everyone.get("/console/admin/audit", params={"page": -(2**64)}).status_code == 200  # page 0, as before
    # the filter is typed into a form: an id that cannot be one is ignored, like a bad date
    for actor_id in (str(2**64), str(MAX_DB_ID + 1), "²", "0"):
        assert everyone.get("/console/admin/audit", params={"actor_id": actor_id}).status_code == 200, actor_id
        assert everyone.get("/console/admin/audit.csv", params={"actor_id": actor_id}).status_code == 200, actor_id
    assert everyone.get("/console/admin/audit", params={"actor_id": str(MAX_DB_ID)}).status_code == 200
