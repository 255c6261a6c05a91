"""No route or dependency runs database work on the event loop (the class of bug behind issue 16.1).

FastAPI runs a plain ``def`` route or dependency in its thread pool and an ``async def`` one on
the event loop, where a blocking query stalls every webhook and health check. So each
``async def`` in the app's dependency graph must be on this reviewed list of ones that only
await I/O (a form body, a stream) and never touch the database or burn CPU.
"""
from __future__ import annotations

import inspect

from fastapi.routing import APIRoute

from tests.admin.test_admin_routes import api_routes

ASYNC_ALLOWED = {
    "admin.deps.read_form",  # awaits the body
    "admin.deps.signed_in_any_stage",  # awaits the form for CSRF; the lookup is find_signed_in
    "admin.console._console_any_stage",  # the same, with HTML failures
    "admin.console.login.login_step",  # the same, for the login pages
    "admin.api.tickets.stream_events",  # returns a stream; its session check runs in a thread
    "admin.console.staff.events",  # the same for the console
}


def _calls(dependant):
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


def async_calls(app) -> set[str]:
    found = set()
    for route in api_routes(app):
        assert isinstance(route, APIRoute)
        for call in _calls(route.dependant):
            if inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(getattr(call, "__call__", None)):  # noqa: B004 - an async __call__ is what is looked for, not callability
                found.add(f"{call.__module__}.{getattr(call, '__qualname__', call.__name__).split('.<locals>.')[-1]}")
    return found


def test_every_async_route_and_dependency_is_reviewed(settings, monkeypatch):
    from bot.app import create_app
    from core.settings import get_settings

    monkeypatch.setenv("RISTAPO_RUN_WORKERS", "0")
    monkeypatch.setenv("RISTAPO_TELEGRAM_TOKEN", "123456:ABCdefGhIJKlmnoPQRstuVWXyz")
    monkeypatch.setenv("RISTAPO_TELEGRAM_SECRET", "s3cret-token")
    get_settings.cache_clear()
    app = create_app(get_settings())
    found = async_calls(app)
    assert found - ASYNC_ALLOWED == set(), "async def on the event loop: make it a plain def (thread pool) or review it"
    assert "admin.deps.signed_in_any_stage" in found  # the walk reaches dependencies
